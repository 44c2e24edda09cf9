/**
 * The ready pipelines, by name. Each declares its options as a schema, so `--set key=value`
 * from the CLI is checked the same way node params are.
 */
import { z } from 'zod';
import type { Graph } from '../src/graph/graph.ts';
import { convLoraBinary } from './conv-lora-binary.ts';
import { ADAPTER_METHODS } from '../src/nodes/adapters/config.ts';
import { toySegmentation } from './toy-segmentation.ts';

export interface PipelineEntry {
  readonly name: string;
  readonly description: string;
  readonly options: z.ZodObject;
  build(options: Record<string, unknown>): Graph;
}

const entries: PipelineEntry[] = [
  {
    name: 'conv-lora-binary',
    description: 'Conv-LoRA binary segmentation: SAM with Conv-LoRA on every qkv, structure + MoE balance loss, benchmark metrics',
    options: z
      .object({
        epochs: z.number().int().min(1).optional(),
        train: z.number().int().min(1).optional(),
        val: z.number().int().min(0).optional(),
        batchSize: z.number().int().min(1).optional(),
        lr: z.number().positive().optional(),
        method: z.enum(ADAPTER_METHODS).optional().describe('swap Conv-LoRA for another PEFT method'),
        rank: z.number().int().min(1).optional(),
        experts: z.number().int().min(1).optional(),
        arch: z.string().optional().describe('vit_b, vit_l, vit_h (default: a small SAM-architecture model)'),
        checkpoint: z.string().optional().describe('official .pth or HF .safetensors weights'),
        save: z.string().optional().describe('folder for an adapter checkpoint after each training epoch'),
        resume: z.string().optional().describe('adapter checkpoint (path without extension) to start from'),
        data: z.string().optional().describe('a binary data set folder (AutoGluon CSVs, ISIC 2017, Kvasir-style paired folders); default: synthetic'),
        seed: z.number().int().optional(),
      })
      .strict(),
    build: (options) => convLoraBinary(options),
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
