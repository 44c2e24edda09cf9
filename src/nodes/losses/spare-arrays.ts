/**
 * Float32Arrays kept for reuse by the set loss between steps: the points, the logits and the
 * truth there that a step's backward still needs (~16 MB a batch at the paper's sizes), given
 * back once it has used them. Fresh memory costs its page faults (~0.4 ms per MB on a small VM)
 * on every step; a reused array does not. A forward that is never differentiated just leaves its
 * arrays to the collector.
 */
export class SpareArrays {
  private readonly spare = new Map<number, Float32Array[]>();
  private count = 0;

  /** At most `capacity` arrays are kept; past it, given-back arrays are dropped. */
  constructor(private readonly capacity: number) {}

  /** An array of n floats, with stale contents: the caller writes every element. */
  take(n: number): Float32Array {
    const array = this.spare.get(n)?.pop();
    if (!array) return new Float32Array(n);
    this.count--;
    return array;
  }

  /** Arrays no longer read by anyone. */
  giveBack(...arrays: Float32Array[]): void {
    for (const array of arrays) {
      if (this.count >= this.capacity || array.byteOffset !== 0 || array.length !== array.buffer.byteLength / 4) continue;
      const list = this.spare.get(array.length) ?? [];
      if (list.includes(array)) continue;
      list.push(array);
      this.spare.set(array.length, list);
      this.count++;
    }
  }
}
