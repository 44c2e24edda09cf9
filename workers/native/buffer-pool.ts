/**
 * Reuse of the native kernels' output arrays. A fresh 64 MB Float32Array costs ~50 ms of page
 * faults before the kernel that fills it can run (a 4096-token attention map: 49 ms into a fresh
 * array against 24.5 ms into a reused one), and a training step makes the same sizes every time.
 *
 * An array goes back to the pool only when no tensor can see it: every tensor whose values share
 * its buffer is counted (the cpu backend's Slice and Split hand out subarray views), and an
 * array that was read out (dataSync, moved to another backend) leaves the pool for good.
 *
 * A sparse writer (the set loss's gradient: non-zero only on the matched tokens' maps, a fifth
 * of a 105 MB array) takes arrays that are zero outside the spans it writes; handed back, only
 * its spans need clearing for the next such taker, where a fresh array would cost its page
 * faults again (~0.4 ms per MB here) and every reader of its untouched pages a fault each.
 *
 * What it holds is capped; past the cap the oldest pooled arrays are let go (to the garbage
 * collector). Letting go of as many bytes as each miss allocates was tried: it kept the pool
 * from adding to peak memory but halved a small ViT block's forward speed (misses cascade).
 */
export class BufferPool {
  /** Live tensors per pooled buffer (weak: an output lost to an exception is simply collected). */
  private readonly owners = new WeakMap<ArrayBufferLike, number>();
  /** Free arrays by length, and all of them oldest first. */
  private readonly free = new Map<number, Float32Array[]>();
  private readonly age: Float32Array[] = [];
  private freeBytes = 0;
  /** Spans [start, start + span) written since the array was last all zeros; absent: stale throughout. */
  private readonly written = new WeakMap<ArrayBufferLike, { readonly starts: ArrayLike<number>; readonly span: number }>();

  constructor(private readonly maxFreeBytes: number) {}

  /** An array of n floats with stale contents: the caller overwrites every element. */
  take(n: number): Float32Array {
    const array = this.pop(n, this.free.get(n)?.length ?? 0) ?? new Float32Array(n);
    this.written.delete(array.buffer);
    return this.handOut(array);
  }

  /**
   * An array of n floats for a sparse writer: zero outside [start, start + span) for each of
   * `starts`, and stale inside, where the caller writes every element. A pooled one whose last
   * spans are known is cleared only where those fall outside the new ones (a training step's
   * set loss writes much the same tokens' maps each time); one with stale contents everywhere
   * outside the new spans; else a fresh (zero) one is made.
   */
  takeSparse(n: number, starts: ArrayLike<number>, span: number): Float32Array {
    const list = this.free.get(n) ?? [];
    let at = list.length;
    while (at > 0 && !this.written.has(list[at - 1]!.buffer)) at--;
    const array = this.pop(n, at > 0 ? at : list.length);
    const now = Array.from(starts);
    if (array) {
      const before = this.written.get(array.buffer);
      if (before) {
        const kept = before.span === span ? new Set(now) : new Set<number>();
        for (let i = 0; i < before.starts.length; i++) if (!kept.has(before.starts[i]!)) array.fill(0, before.starts[i]!, before.starts[i]! + before.span);
      } else {
        let from = 0;
        for (const start of [...now].sort((a, b) => a - b)) {
          if (start > from) array.fill(0, from, start);
          from = Math.max(from, start + span);
        }
        array.fill(0, from);
      }
    }
    const out = array ?? new Float32Array(n);
    this.written.set(out.buffer, { starts: now, span });
    return this.handOut(out);
  }

  /** A tensor now holds `values` (an output, or a view of one). */
  retain(values: unknown): void {
    const buffer = (values as Float32Array | undefined)?.buffer;
    if (buffer === undefined) return;
    const count = this.owners.get(buffer);
    if (count !== undefined) this.owners.set(buffer, count + 1);
  }

  /** A tensor holding `values` was freed; the last one returns the buffer. */
  release(values: unknown): void {
    const buffer = (values as Float32Array | undefined)?.buffer;
    if (buffer === undefined) return;
    const count = this.owners.get(buffer);
    if (count === undefined) return;
    if (count > 1) {
      this.owners.set(buffer, count - 1);
      return;
    }
    this.owners.delete(buffer);
    if (buffer.byteLength > this.maxFreeBytes) return;
    this.evict(this.freeBytes + buffer.byteLength - this.maxFreeBytes);
    const array = new Float32Array(buffer);
    const list = this.free.get(array.length) ?? [];
    list.push(array);
    this.free.set(array.length, list);
    this.age.push(array);
    this.freeBytes += buffer.byteLength;
  }

  /** `values` left the backend (read out): never reuse its buffer. */
  escape(values: unknown): void {
    const buffer = (values as Float32Array | undefined)?.buffer;
    if (buffer !== undefined) this.owners.delete(buffer);
  }

  get pooledBytes(): number {
    return this.freeBytes;
  }

  /** The free array of length n at list position at − 1, taken off the pool; undefined if none. */
  private pop(n: number, at: number): Float32Array | undefined {
    const list = this.free.get(n);
    if (!list || at <= 0) return undefined;
    const [array] = list.splice(at - 1, 1) as [Float32Array];
    if (list.length === 0) this.free.delete(n);
    this.age.splice(this.age.indexOf(array), 1);
    this.freeBytes -= array.byteLength;
    return array;
  }

  private handOut(array: Float32Array): Float32Array {
    // Counted from 0: the backend's write() of the output tensor makes it 1.
    this.owners.set(array.buffer, 0);
    return array;
  }

  /** Lets go of the oldest pooled arrays until `bytes` are freed (or none are left). */
  private evict(bytes: number): void {
    while (bytes > 0 && this.age.length > 0) {
      const oldest = this.age.shift()!;
      const list = this.free.get(oldest.length)!;
      list.splice(list.indexOf(oldest), 1);
      if (list.length === 0) this.free.delete(oldest.length);
      this.freeBytes -= oldest.byteLength;
      bytes -= oldest.byteLength;
    }
  }
}
