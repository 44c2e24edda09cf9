/**
 * What the tensor worker is doing, in shared memory: a beat counter, the segment and node that
 * run, and the kernel inside them. The worker writes it as it goes; the main thread reads it, so
 * a stall is seen and named even while the worker's thread is stuck in native code and can
 * answer nothing (the watchdog in host.ts).
 */
const BEATS = 0;
const SEGMENT = 1;
const NODE = 2;
const KERNEL = 3;
const NONE = -1;

export interface MarkerReading {
  readonly beats: number;
  /** Index into the segment's nodes, or undefined between nodes. */
  readonly segment: number | undefined;
  readonly node: number | undefined;
  /** Index into kernelNames(), or undefined outside a kernel. */
  readonly kernel: number | undefined;
}

export class ProgressMarker {
  private readonly cells: Int32Array;
  readonly buffer: SharedArrayBuffer;

  /** A new marker (the main thread's), or a view of one made elsewhere (the worker's). */
  constructor(shared?: SharedArrayBuffer) {
    this.buffer = shared ?? new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT);
    this.cells = new Int32Array(this.buffer);
    if (!shared) this.cells.fill(NONE, SEGMENT);
  }

  /** Entering node `node` of segment `segment` (undefined: between nodes). */
  node(segment: number | undefined, node: number | undefined): void {
    Atomics.store(this.cells, SEGMENT, segment ?? NONE);
    Atomics.store(this.cells, NODE, node ?? NONE);
    Atomics.add(this.cells, BEATS, 1);
  }

  /** Entering kernel `id`; returns the kernel it interrupts, for `leaveKernel`. */
  enterKernel(id: number): number {
    const outer = Atomics.exchange(this.cells, KERNEL, id);
    Atomics.add(this.cells, BEATS, 1);
    return outer;
  }

  leaveKernel(outer: number): void {
    Atomics.store(this.cells, KERNEL, outer);
    Atomics.add(this.cells, BEATS, 1);
  }

  read(): MarkerReading {
    const value = (slot: number) => {
      const v = Atomics.load(this.cells, slot);
      return v === NONE ? undefined : v;
    };
    return { beats: Atomics.load(this.cells, BEATS), segment: value(SEGMENT), node: value(NODE), kernel: value(KERNEL) };
  }
}

/** The marker of this thread's worker, once init gave it one. */
let active: ProgressMarker | undefined;
const kernelIds = new Map<string, number>();

export function useMarker(marker: ProgressMarker): void {
  active = marker;
}

export function activeMarker(): ProgressMarker | undefined {
  return active;
}

/** Wraps a kernel so the marker says when it runs; kernels get ids in the order they are wrapped. */
export function markedKernel<F extends (...args: never[]) => unknown>(name: string, kernel: F): F {
  let id = kernelIds.get(name);
  if (id === undefined) kernelIds.set(name, (id = kernelIds.size));
  const kernelId = id;
  return ((...args: Parameters<F>) => {
    const marker = active;
    if (!marker) return kernel(...args);
    const outer = marker.enterKernel(kernelId);
    try {
      return kernel(...args);
    } finally {
      marker.leaveKernel(outer);
    }
  }) as F;
}

export function kernelNames(): string[] {
  return [...kernelIds.keys()];
}
