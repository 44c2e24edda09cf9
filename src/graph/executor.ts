/**
 * What the runner needs from whoever runs worker segments. The tensor worker (workers/host.ts)
 * is the real one; the core knows only this interface, so it stays free of tensor libraries.
 */
import type { ItemMeta, NodeEvent } from './events.ts';
import type { PortKey, SegmentJson } from './compile.ts';

export interface SegmentResult {
  readonly outputs: Readonly<Record<PortKey, unknown>>;
  readonly events: readonly (NodeEvent & { readonly node: string })[];
  /** Live tensors in the worker after the item: flat over items means no leak. */
  readonly tensors: number;
}

export interface SegmentExecutor {
  /** Which backend runs the tensors (for the started event). */
  readonly backend: string;
  /** Sends a segment once; afterwards only items cross. */
  load(segment: SegmentJson): Promise<void>;
  run(segmentId: string, meta: ItemMeta, inputs: Readonly<Record<PortKey, unknown>>): Promise<SegmentResult>;
  /** Every node of the segment writes its state into `dir` (see WorkerNode.state). */
  save(segmentId: string, dir: string): Promise<void>;
  /** Every node of the segment reads its state back from `dir`, before the first item. */
  restore(segmentId: string, dir: string): Promise<void>;
  /** Frees the worker. Safe to call more than once. */
  close(): Promise<void>;
}

export type ExecutorFactory = () => Promise<SegmentExecutor>;
