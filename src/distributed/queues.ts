/**
 * The BullMQ queues samflow uses and what their jobs carry. Jobs hold only plain JSON (paths,
 * options, item ranges): every machine reads the run folder, data and output folders at the same
 * paths (a shared file system), and writes its results there or returns them to the submitter.
 *
 * - `samflow-shards`: a range of a prediction's or an evaluation's items.
 * - `samflow-runs`: one training run of a sweep.
 */
import type { DefaultJobOptions } from 'bullmq';
import type { EvaluateRequest, PredictRequest } from '../api/inference.ts';
import type { TrainControl } from '../nodes/train/model-selection.ts';

export const SHARD_QUEUE = 'samflow-shards';
export const RUN_QUEUE = 'samflow-runs';
export const QUEUE_NAMES = { shards: SHARD_QUEUE, runs: RUN_QUEUE } as const;
export type QueueKind = keyof typeof QUEUE_NAMES;

/** Where the queues live: the Redis URL and the key prefix (separate sets of queues on one server). */
export interface QueueSettings {
  readonly redis: string;
  /** Default 'samflow'. */
  readonly prefix?: string;
}
export const DEFAULT_PREFIX = 'samflow';

/** Items [start, end) of the graph's source, in its order. */
export interface ItemRange {
  readonly start: number;
  readonly end: number;
}

type FromRunFields = 'run' | 'checkpoint' | 'baseCheckpoint' | 'set';
export type ShardJob =
  | { readonly kind: 'predict'; readonly request: Pick<PredictRequest, FromRunFields | 'images' | 'out' | 'probs'>; readonly range: ItemRange }
  | { readonly kind: 'eval'; readonly request: Pick<EvaluateRequest, FromRunFields | 'data' | 'split' | 'metrics'>; readonly range: ItemRange };

export type ShardResult =
  | { readonly kind: 'predict'; readonly items: number; readonly written: number }
  /** Each mergeable metric node's saved state, by node name. */
  | { readonly kind: 'eval'; readonly items: number; readonly states: Record<string, unknown> };

export interface RunJob {
  /** The run's name in the sweep, and its folder (absolute). */
  readonly name: string;
  readonly dir: string;
  readonly pipeline: string;
  readonly options: Record<string, unknown>;
  readonly control?: Partial<TrainControl>;
}

/**
 * Retries for what may pass (a worker killed, a machine gone); a failure caused by the input is
 * thrown as UnrecoverableError and not retried. Finished jobs stay a week, so a submitter
 * started again finds what is done.
 */
export const JOB_OPTIONS: DefaultJobOptions = {
  attempts: 3,
  backoff: { type: 'fixed', delay: 1000 },
  removeOnComplete: { age: 7 * 24 * 3600 },
  removeOnFail: { age: 7 * 24 * 3600 },
};
