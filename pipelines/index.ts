/**
 * The ready pipelines, by name. Each declares its options as a schema, so `--set key=value`
 * from the CLI is checked the same way node params are.
 */
import { z } from 'zod';
import type { PipelineEntry } from '../src/api/pipeline.ts';
import { LR_SCHEDULES } from '../src/nodes/train/lr-schedule.ts';
import { convLoraBinary, convLoraBinaryEvaluate, convLoraBinaryPredict, READER_OPTIONS, RECIPES } from './conv-lora-binary.ts';
import { convLoraMulticlass, convLoraMulticlassEvaluate, convLoraMulticlassPredict, MULTICLASS_READER_OPTIONS, MULTICLASS_RECIPES } from './conv-lora-multiclass.ts';
import { refuseIdleOptions, SAM_RUN_OPTIONS } from './sam-run-options.ts';
import { toySegmentation } from './toy-segmentation.ts';
import { MULTITASK_METHODS, MULTITASK_READER_OPTIONS, MULTITASK_RECIPES, taLoraMultitask, taLoraMultitaskEvaluate, taLoraMultitaskPredict } from './ta-lora-multitask.ts';
import { TaskSpecSchema } from '../src/nodes/sam/msam/tasks.ts';
import { samPretrain } from './sam-pretrain.ts';

export type { PipelineEntry };

const entries: PipelineEntry[] = [
  {
    name: 'conv-lora-binary',
    description: 'Conv-LoRA binary segmentation: SAM with Conv-LoRA on every qkv, structure + MoE balance loss, benchmark metrics',
    options: z
      .object({
        recipe: z.enum(Object.keys(RECIPES) as [keyof typeof RECIPES]).optional().describe("default settings: 'paper' (the spec's recipe; the default with --checkpoint) or 'small' (the built-in random-weight model)"),
        ...SAM_RUN_OPTIONS,
        data: z.string().optional().describe('a binary data set folder (AutoGluon CSVs, ISIC 2017, Kvasir-style paired folders); default: synthetic'),
        maskThreshold: z.number().int().min(0).max(254).optional().describe('with data: a mask pixel is foreground when its grey value is above this (default 127; 0 for masks stored as 0/1)'),
      })
      .strict()
      .superRefine((o, ctx) => refuseIdleOptions(o, ctx, READER_OPTIONS)),
    control: { monitor: 'sm', mode: 'max', patience: 10, keep: 3 },
    build: (options) => convLoraBinary(options),
    evaluate: (options, target) => convLoraBinaryEvaluate(options, target),
    predict: (options, target) => convLoraBinaryPredict(options, target),
  },
  {
    name: 'conv-lora-multiclass',
    description: 'Conv-LoRA multi-class segmentation: SAM with Q mask tokens and a class head, Mask2Former set loss + MoE balance loss, MaskFormer inference, mIoU',
    options: z
      .object({
        recipe: z.enum(Object.keys(MULTICLASS_RECIPES) as [keyof typeof MULTICLASS_RECIPES]).optional().describe("default settings: 'paper' (the spec's recipe, Q = 100; the default with --checkpoint) or 'small'"),
        classes: z.number().int().min(2).max(255).optional().describe('classes including class 0 (label ids 0..classes-1); required with data'),
        queries: z.number().int().min(1).optional().describe('mask tokens Q (paper 100, small 8)'),
        points: z.number().int().min(0).optional().describe('set-loss points per mask (paper 12,544; small 1,024); 0 scores every label pixel'),
        tokenJitter: z.number().min(0).optional().describe("noise on the Q copies of mask token 0, as a fraction of its spread (paper 0: exact copies; small 0.5)"),
        ...SAM_RUN_OPTIONS,
        data: z.string().optional().describe('a class-index data set folder (CamVid SegNet layout, Trans10K); default: synthetic shapes'),
        ignoreLabel: z.number().int().min(0).max(65535).optional().describe("with data: the label PNGs' ignore value (default 255; CamVid's void is 11)"),
      })
      .strict()
      .superRefine((o, ctx) => {
        refuseIdleOptions(o, ctx, MULTICLASS_READER_OPTIONS);
        if (o.data && o.classes === undefined) ctx.addIssue({ code: 'custom', path: ['classes'], message: 'give the number of classes of the data set (e.g. CamVid 11 with ignoreLabel 11, Trans10K-v2 12)' });
        if (!o.data && o.classes !== undefined && o.classes > 7) ctx.addIssue({ code: 'custom', path: ['classes'], message: 'the synthetic set has 6 shapes, so at most 7 classes with the background' });
      }),
    control: { monitor: 'miou', mode: 'max', patience: 10, keep: 3 },
    build: (options) => convLoraMulticlass(options),
    evaluate: (options, target) => convLoraMulticlassEvaluate(options, target),
    predict: (options, target) => convLoraMulticlassPredict(options, target),
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
  {
    name: 'ta-lora-multitask',
    description: 'TA-LoRA + mSAM multi-task: per-task no-mask embeddings and decoders, seg / depth / normals losses weighted + orthogonality, mIoU, depth and normal errors; LoRA-STL / LoRA-HPS baselines',
    options: z
      .object({
        recipe: z.enum(Object.keys(MULTITASK_RECIPES) as [keyof typeof MULTITASK_RECIPES]).optional().describe("default settings: 'paper' (the released NYUv2 script; the default with --checkpoint) or 'small' (the built-in random-weight model)"),
        tasks: z.array(TaskSpecSchema).min(1).max(3).optional().describe('the tasks as JSON, e.g. --set tasks=\'[{"name":"seg","kind":"segmentation","channels":7},{"name":"depth","kind":"depth","channels":1}]\' (default NYUv2: seg 13, depth, normal at 1:1:4)'),
        method: z.enum(MULTITASK_METHODS).optional().describe("'ta-lora' (default), or the baselines 'lora-stl' (one LoRA per task) and 'lora-hps' (one shared LoRA)"),
        rank: z.number().int().min(1).optional().describe('LoRA rank of the baselines (paper 32, small 4)'),
        tuckerRanks: z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]).optional().describe('TA-LoRA ranks [R1, R2, R3] (paper [32, 32, 4], small [8, 8, 4])'),
        orthWeight: z.number().min(0).optional().describe('λ of the orthogonality regulariser (the released script: 1)'),
        epochs: z.number().int().min(1).optional(),
        train: z.number().int().min(1).optional().describe('synthetic data only: training images'),
        val: z.number().int().min(0).optional().describe('synthetic data only: validation images'),
        valEvery: z.number().int().min(1).optional(),
        batchSize: z.number().int().min(1).optional(),
        accumulate: z.number().int().min(1).optional(),
        lr: z.number().positive().optional(),
        weightDecay: z.number().min(0).optional(),
        schedule: z.enum(LR_SCHEDULES).optional(),
        warmupSteps: z.number().int().min(0).optional(),
        scales: z.array(z.number().min(1).max(8)).min(1).optional().describe("MTAN RandomScaleCrop's zoom factors (default [1, 1.2, 1.5]; [1]: off)"),
        batchedTasks: z.boolean().optional().describe('one encoder pass over the batch tiled task-major instead of one per task (same outputs)'),
        normalize: z.boolean().optional().describe("SAM's pixel mean/std on the images (the released script skips it)"),
        adapter: z.record(z.string(), z.unknown()).optional().describe('other adapter settings as JSON (checked by adapters/inject)'),
        arch: z.string().optional(),
        imageSize: z.number().int().min(16).optional(),
        checkpoint: z.string().optional(),
        allowPartial: z.boolean().optional(),
        warmStart: z.string().optional().describe("a checkpoint folder of this pipeline's runs whose peft and msam weights to start from"),
        baseline: z.string().optional().describe('a baseline run folder (e.g. a lora-stl run): validation also reports delta_m (%) against its last validation'),
        data: z.string().optional().describe('an MTAN NYUv2 .npy folder ({train,val}/{image,label,depth,normal}/N.npy); default: synthetic scenes'),
        labelDir: z.string().min(1).optional().describe("with data: the segmentation folder's name (MTAN Cityscapes: 'label_7')"),
        seed: z.number().int().optional(),
        skipUnpaired: z.boolean().optional(),
        skipCorrupt: z.boolean().optional(),
        limit: z.number().int().min(1).optional(),
        splits: z.array(z.string().min(1)).min(1).optional(),
      })
      .strict()
      .superRefine((o, ctx) => {
        refuseIdleOptions(o, ctx, MULTITASK_READER_OPTIONS);
        if ((o.method ?? 'ta-lora') === 'ta-lora' && o.rank !== undefined) ctx.addIssue({ code: 'custom', path: ['rank'], message: "is the baselines' LoRA rank; TA-LoRA takes tuckerRanks" });
        if (o.method && o.method !== 'ta-lora' && (o.tuckerRanks !== undefined || o.orthWeight !== undefined)) {
          ctx.addIssue({ code: 'custom', path: [o.tuckerRanks !== undefined ? 'tuckerRanks' : 'orthWeight'], message: `applies to TA-LoRA, not ${o.method} (give rank for its LoRA)` });
        }
      }),
    // The released code does no model selection (spec §7); the validation loss (the weighted task losses + λ·R_orth) picks the best checkpoint here.
    control: { monitor: 'loss', mode: 'min', patience: 0, keep: 3 },
    build: (options) => taLoraMultitask(options),
    evaluate: (options, target) => taLoraMultitaskEvaluate(options, target),
    predict: (options, target) => taLoraMultitaskPredict(options, target),
  },
  {
    name: 'sam-pretrain',
    description: "promptable pre-training of a small SAM from scratch, SAM's recipe in miniature: generic synthetic scenes, random point / box prompts, multimask min-loss focal + dice 20:1, IoU-head MSE (samflow pretrain caches and exports it)",
    options: z
      .object({
        arch: z.union([z.string(), z.record(z.string(), z.unknown())]).optional().describe('vit_b, vit_l, vit_h or a config object with the official builder keys (default: the built-in small SAM-architecture model)'),
        epochs: z.number().int().min(1).optional(),
        train: z.number().int().min(1).optional().describe('training scenes (each epoch prompts another object of each)'),
        val: z.number().int().min(0).optional().describe('validation scenes (centre-point IoU)'),
        batchSize: z.number().int().min(1).optional(),
        lr: z.number().positive().optional(),
        weightDecay: z.number().min(0).optional(),
        warmupSteps: z.number().int().min(0).optional(),
        boxShare: z.number().min(0).max(1).optional().describe('share of training prompts that are noisy boxes (the rest: one random point)'),
        prompts: z.number().int().min(1).optional().describe('objects prompted per scene per step (SAM trains many masks per image)'),
        objects: z.tuple([z.number().int().min(1), z.number().int().min(1)]).optional().describe('objects drawn per scene: [fewest, most] (default [4, 9])'),
        minScale: z.number().gt(0).max(0.4).optional().describe('smallest object radius as a fraction of the image side (default 0.06)'),
        seed: z.number().int().optional(),
      })
      .strict(),
    // The last epoch is the base (SAM keeps its final weights); the best by val IoU is marked too.
    control: { monitor: 'iou', mode: 'max', patience: 0, keep: 1 },
    build: (options) => samPretrain(options),
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
