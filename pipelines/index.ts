/**
 * The ready pipelines, by name. Each declares its options as a schema, so `--set key=value`
 * from the CLI is checked the same way node params are.
 */
import { z } from 'zod';
import type { PipelineEntry } from '../src/api/pipeline.ts';
import { ADAPTER_METHODS } from '../src/nodes/adapters/config.ts';
import { LR_SCHEDULES } from '../src/nodes/train/lr-schedule.ts';
import { convLoraBinary, convLoraBinaryEvaluate, convLoraBinaryPredict, RECIPES } from './conv-lora-binary.ts';
import { toySegmentation } from './toy-segmentation.ts';

export type { PipelineEntry };

const entries: PipelineEntry[] = [
  {
    name: 'conv-lora-binary',
    description: 'Conv-LoRA binary segmentation: SAM with Conv-LoRA on every qkv, structure + MoE balance loss, benchmark metrics',
    options: z
      .object({
        recipe: z.enum(Object.keys(RECIPES) as [keyof typeof RECIPES]).optional().describe("default settings: 'paper' (the spec's recipe; the default with --checkpoint) or 'small' (the built-in random-weight model)"),
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
        arch: z.string().optional().describe('vit_b, vit_l, vit_h (default: a small SAM-architecture model)'),
        checkpoint: z.string().optional().describe('official .pth or HF .safetensors weights'),
        warmStart: z.string().optional().describe('adapter checkpoint (path without extension) whose weights to start from; to continue a run use samflow resume'),
        data: z.string().optional().describe('a binary data set folder (AutoGluon CSVs, ISIC 2017, Kvasir-style paired folders); default: synthetic'),
        seed: z.number().int().optional(),
      })
      .strict()
      .superRefine((o, ctx) => {
        if (o.data && (o.train !== undefined || o.val !== undefined)) {
          ctx.addIssue({ code: 'custom', path: [o.train !== undefined ? 'train' : 'val'], message: 'sets the size of the synthetic set; with data=DIR the folder decides the splits' });
        }
      }),
    control: { monitor: 'sm', mode: 'max', patience: 10, keep: 3 },
    build: (options) => convLoraBinary(options),
    evaluate: (options, target) => convLoraBinaryEvaluate(options, target),
    predict: (options, target) => convLoraBinaryPredict(options, target),
  },
  {
    name: 'toy-segmentation',
    description: 'synthetic shapes -> flip -> batch -> patch-MLP segmenter trained with Adam in the worker -> IoU',
    options: z
      .object({
        epochs: z.number().int().min(1).optional(),
        size: z.number().int().min(8).optional(),
        train: z.number().int().min(1).optional(),
        val: z.number().int().min(0).optional(),
        batchSize: z.number().int().min(1).optional(),
        lr: z.number().positive().optional(),
        seed: z.number().int().optional(),
      })
      .strict(),
    build: (options) => toySegmentation(options),
  },
];

export const DEFAULT_PIPELINE = 'conv-lora-binary';

export function pipelineNames(): string[] {
  return entries.map((e) => e.name);
}

export function findPipeline(name: string): PipelineEntry | undefined {
  return entries.find((e) => e.name === name);
}

export function listPipelines(): readonly PipelineEntry[] {
  return entries;
}
