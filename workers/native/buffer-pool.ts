/**
 * Reuse of the native kernels' output arrays. A fresh 64 MB Float32Array costs ~50 ms of page
 * faults before the kernel that fills it can run (a 4096-token attention map: 49 ms into a fresh
 * array against 24.5 ms into a reused one), and a training step makes the same sizes every time.
 *
 * An array goes back to the pool only when no tensor can see it: every tensor whose values share
 * its buffer is counted (the cpu backend's Slice and Split hand out subarray views), and an
 * array that was read out (dataSync, moved to another backend) leaves the pool for good.
 */
export class BufferPool {
  /** Live tensors per pooled buffer (weak: an output lost to an exception is simply collected). */
  private readonly owners = new WeakMap<ArrayBufferLike, number>();
  private readonly free = new Map<number, Float32Array[]>();
  private freeBytes = 0;

  constructor(private readonly maxFreeBytes: number) {}

  /** An array of n floats with stale contents: the caller overwrites every element. */
  take(n: number): Float32Array {
    const list = this.free.get(n);
    const reused = list?.pop();
    if (reused) this.freeBytes -= reused.byteLength;
    const array = reused ?? new Float32Array(n);
    // Counted from 0: the backend's write() of the output tensor makes it 1.
    this.owners.set(array.buffer, 0);
    return array;
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
    if (this.freeBytes + buffer.byteLength > this.maxFreeBytes) return;
    const array = new Float32Array(buffer);
    const list = this.free.get(array.length) ?? [];
    list.push(array);
    this.free.set(array.length, list);
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
}
