/**
 * The options the fine-tuning pipelines share (conv-lora-binary, conv-lora-multiclass): how long
 * and how fast to train, which SAM and which PEFT method, and how to read a data folder; plus the
 * checks that refuse an option that would do nothing where it was given.
 */
import { z } from 'zod';
import { ADAPTER_METHODS, type AdapterMethodName } from '../src/nodes/adapters/config.ts';
import type { SamConfig } from '../src/nodes/sam/config.ts';
import { LR_SCHEDULES, type LrSchedule } from '../src/nodes/train/lr-schedule.ts';

/** The shared options as the pipeline functions take them (SAM_RUN_OPTIONS is their CLI schema). */
export interface SamRunOptions {
  readonly epochs?: number;
  /** Synthetic data only: training and validation images. */
  readonly train?: number;
  readonly val?: number;
  readonly valEvery?: number;
  readonly batchSize?: number;
  readonly accumulate?: number;
  readonly lr?: number;
  readonly schedule?: LrSchedule['schedule'];
  readonly warmupSteps?: number;
  readonly method?: AdapterMethodName;
  readonly rank?: number;
  readonly experts?: number;
  /** Any other field of the adapter config (adapters/inject's params: LST's sideReduction, SAM-Adapter's scaleFactor, ...). */
  readonly adapter?: Record<string, unknown>;
  /** A preset name, an arch.json path's parsed config, or a config object (default: SMALL_SAM). */
  readonly arch?: string | SamConfig;
  /** The model's square input size, instead of the arch's (SAM: 1024). */
  readonly imageSize?: number;
  readonly checkpoint?: string;
  /** With `checkpoint`: load the tensors that match and keep the rest random (sam/model's allowPartial). */
  readonly allowPartial?: boolean;
  /** An adapter checkpoint (path without extension) whose weights to start from: a warm start. */
  readonly warmStart?: string;
  /** A data set folder; default: the pipeline's synthetic set. */
  readonly data?: string;
  readonly seed?: number;
  // With `data`, passed to the reader (ReaderParams says what each does).
  readonly skipUnpaired?: boolean;
  readonly skipCorrupt?: boolean;
  readonly resizeMasks?: boolean;
  readonly limit?: number;
  /** Default: 0.2 when the data set has no val split (and `splits`, if given, reads 'val'). */
  readonly holdout?: number;
  readonly splits?: readonly string[];
}

export const SAM_RUN_OPTIONS = {
  epochs: z.number().int().min(1).optional(),
  train: z.number().int().min(1).optional().describe('synthetic data only: training images'),
  val: z.number().int().min(0).optional().describe('synthetic data only: validation images'),
  valEvery: z.number().int().min(1).optional().describe('validate every N epochs (and after the last)'),
  batchSize: z.number().int().min(1).optional(),
  accumulate: z.number().int().min(1).optional().describe('batches whose gradients make one update'),
  lr: z.number().positive().optional(),
  schedule: z.enum(LR_SCHEDULES).optional().describe('lr schedule after warmup'),
  warmupSteps: z.number().int().min(0).optional(),
  method: z.enum(ADAPTER_METHODS).optional().describe('swap Conv-LoRA for another PEFT method'),
  rank: z.number().int().min(1).optional(),
  experts: z.number().int().min(1).optional(),
  adapter: z.record(z.string(), z.unknown()).optional().describe('other adapter settings as JSON, e.g. --set adapter=\'{"sideReduction":4}\' (checked by adapters/inject)'),
  arch: z.string().optional().describe('vit_b, vit_l, vit_h or an arch .json (default: a small SAM-architecture model)'),
  imageSize: z.number().int().min(16).optional().describe("the model's square input size instead of the arch's (a checkpoint made at another size does not load)"),
  checkpoint: z.string().optional().describe('official .pth or HF .safetensors weights'),
  warmStart: z.string().optional().describe('adapter checkpoint (path without extension) whose weights to start from; to continue a run use samflow resume'),
  seed: z.number().int().optional(),
  allowPartial: z.boolean().optional().describe('with checkpoint: load the tensors that match the arch and keep the rest random (they are listed)'),
  skipUnpaired: z.boolean().optional().describe('with data: leave out files without a partner instead of failing'),
  skipCorrupt: z.boolean().optional().describe('with data: leave out files that cannot be decoded, with a warning, instead of failing'),
  resizeMasks: z.boolean().optional().describe('with data: resize a mask whose size differs from its image (nearest) instead of failing'),
  limit: z.number().int().min(1).optional().describe('with data: read at most this many samples of each split (the first in file order)'),
  holdout: z.number().min(0).max(0.9).optional().describe("with data: fraction of 'train' held out as 'val' (default 0.2 when the data set has no val split)"),
  splits: z.array(z.string().min(1)).min(1).optional().describe("with data: the splits to read each epoch, in order (default: 'train' then 'val')"),
};

interface RunOptionValues {
  readonly data?: string;
  readonly train?: number;
  readonly val?: number;
  readonly checkpoint?: string;
  readonly allowPartial?: boolean;
}

/** Options that would do nothing are errors, so a hint followed in the wrong place says so. */
export function refuseIdleOptions<O extends RunOptionValues>(o: O, ctx: z.RefinementCtx, readerOptions: readonly (keyof O & string)[]): void {
  if (o.data && (o.train !== undefined || o.val !== undefined)) {
    ctx.addIssue({ code: 'custom', path: [o.train !== undefined ? 'train' : 'val'], message: 'sets the size of the synthetic set; with data=DIR the folder decides the splits' });
  }
  const reader = readerOptions.find((k) => o[k] !== undefined);
  if (!o.data && reader) ctx.addIssue({ code: 'custom', path: [reader], message: 'applies to a data set folder; give data=DIR too (the synthetic set has no files to read)' });
  if (!o.checkpoint && o.allowPartial !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['allowPartial'], message: 'applies to loading checkpoint=FILE; without one the weights are random anyway' });
  }
}
