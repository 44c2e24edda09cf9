/**
 * What a run reports. A run is an `Observable<RunEvent>`; the CLI, progress bar, logger and
 * report all subscribe to the same stream.
 */
export interface ItemMeta {
  /** Sequence number of the item as produced by its source (or by the node that regrouped it). */
  readonly index: number;
  /** 'train', 'val', 'test' or any name the source gives; worker nodes train only on 'train'. */
  readonly split: string;
  readonly epoch: number;
  /** True on the last item of its (split, epoch) group: accumulators flush on it. */
  readonly groupEnd: boolean;
}

/** Events a node may emit through its context. */
export type NodeEvent =
  | { type: 'metric'; name: string; value: number; split?: string; epoch?: number; step?: number }
  | { type: 'log'; message: string; data?: unknown }
  | { type: 'warning'; message: string };

export interface StageSummary {
  readonly id: string;
  readonly placement: 'main' | 'worker';
  readonly nodes: readonly string[];
}

/** How long one stage was busy over a run (stage-clock.ts says what is counted), and how many calls that took. */
export interface StageTiming extends StageSummary {
  readonly seconds: number;
  readonly calls: number;
}

export type RunEvent =
  | { type: 'started'; graph: string; stages: readonly StageSummary[]; backend?: string; window: number; resumedAt?: RunPosition }
  | { type: 'progress'; items: number; total?: number; split: string; epoch: number; tensors?: number }
  | { type: 'metric'; node: string; name: string; value: number; split?: string; epoch?: number; step?: number }
  | { type: 'log'; node?: string; message: string; data?: unknown }
  | { type: 'warning'; node?: string; message: string }
  | { type: 'checkpoint'; path: string; epoch: number; step: number; tags: readonly string[] }
  | { type: 'finished'; items: number; seconds: number; stopped?: string; timing?: readonly StageTiming[] }
  | { type: 'failed'; error: string; node?: string; kind?: string; segment?: string; itemIndex?: number };

/**
 * Where a run stands between two items: what resuming there needs to skip. `items` source
 * items were consumed; the next item is `groupItems` items into its (split, epoch) group.
 */
export interface RunPosition {
  readonly items: number;
  readonly groupItems: number;
}

export function fromNodeEvent(node: string, event: NodeEvent): RunEvent {
  return { ...event, node };
}
