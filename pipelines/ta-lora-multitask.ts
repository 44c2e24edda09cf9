/**
 * TA-LoRA + mSAM multi-task learning (spec ../shared/specs/ta-lora.md): MTAN's RandomScaleCrop
 * and a flip on the main thread; in the worker SAM with TA-LoRA on every qkv (encoder LayerNorms
 * trainable) and mSAM (no prompts, per-task no-mask rows and mask decoders, the encoder once per
 * task); per task its loss (cross-entropy ignoring −1, masked L1 depth, 1 − cosine normals),
 * weighted w_t / Σw and summed with λ · R_orth; Adam over the adapter, the norms and the heads.
 * Validation: mIoU and pixel accuracy from the global confusion matrix (LibMTL), depth Abs/Rel
 * error and normal angle statistics over all valid pixels of the split (spec §7). The report's
 * gallery (report/multitask-gallery) keeps the first 4 val images of each epoch, per task truth
 * and prediction; with `baseline` the report also gets the Δm table.
 *
 * Tasks are data (`tasks`): default NYUv2's seg 13 / depth / normals at 1 : 1 : 4; any list of
 * at most one segmentation, one depth and one normals task works (Cityscapes: seg 7 + depth).
 * `method` swaps the encoder adaptation (the peft node's params) for the spec's §4 baselines:
 * 'lora-stl' (one LoRA per task, each task its own encoder pass: T single-task models trained
 * side by side, sharing no trainable tensor) and 'lora-hps' (one LoRA, one encoder pass shared by
 * all tasks). mSAM's per-task decoders and no-mask rows are the same in all three.
 *
 * Data: the MTAN NYUv2 .npy layout with `data` (its val split is the benchmark's test set, which
 * the released code evaluates every epoch), MTAN's Cityscapes (no normal/ folder: `labelDir:
 * 'label_7'` and `tasks` without a normals task, e.g. CITYSCAPES_TASKS), or by default the
 * synthetic room scenes (4 classes, depth, normals).
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { z } from 'zod';
import type { EvaluateTarget, PredictTarget } from '../src/api/pipeline.ts';
import { GraphBuilder, type Graph, type NodeHandle } from '../src/graph/graph.ts';
import { InjectAdapter, type InjectAdapterParams } from '../src/nodes/adapters/inject-node.ts';
import { RandomFlipMultiTask } from '../src/nodes/augment/random-flip.ts';
import { RandomScaleCropMultiTask } from '../src/nodes/augment/random-scale-crop.ts';
import { BatchImages, BatchMultiTask } from '../src/nodes/data/batch.ts';
import { planSplits, ReaderParams } from '../src/nodes/data/dataset-source.ts';
import { ImageFolder } from '../src/nodes/data/image-folder.ts';
import { listNyuv2Mtan, Nyuv2Mtan, splitsWithoutNormals } from '../src/nodes/data/nyuv2-mtan.ts';
import { SCENE_CLASSES, SyntheticScenes } from '../src/nodes/data/synthetic-scenes.ts';
import { CrossEntropy } from '../src/nodes/losses/cross-entropy.ts';
import { DepthL1 } from '../src/nodes/losses/depth-l1.ts';
import { NormalCosine } from '../src/nodes/losses/normal-cosine.ts';
import { WeightedSum } from '../src/nodes/losses/weighted-sum.ts';
import { MultiTaskMetrics } from '../src/nodes/metrics/multi-task.ts';
import { ClassArgmax } from '../src/nodes/metrics/semantic-inference.ts';
import { MultitaskGallery } from '../src/nodes/report/multitask-gallery.ts';
import { WriteMultiTask } from '../src/nodes/report/write-multitask.ts';
import type { SamConfig } from '../src/nodes/sam/config.ts';
import { SamModelNode } from '../src/nodes/sam/model-node.ts';
import { MsamNode } from '../src/nodes/sam/msam-node.ts';
import { CITYSCAPES_TASKS, NYUV2_TASKS, parseTasks, TaskSpecSchema, type TaskSpec } from '../src/nodes/sam/msam/tasks.ts';
import { Adam } from '../src/nodes/train/adam.ts';
import type { LrSchedule } from '../src/nodes/train/lr-schedule.ts';
import { evaluationSplit, requireCheckpointFile, resolvedArch } from './conv-lora-binary.ts';

export const MULTITASK_METHODS = ['ta-lora', 'lora-stl', 'lora-hps'] as const;
export type MultitaskMethod = (typeof MULTITASK_METHODS)[number];

/**
 * With real weights, the released NYUv2 script (spec §3): 200 epochs, lr 1e-3 with a 5 % linear
 * warmup then linear decay to 0, weight decay 1e-6, effective batch 4 (here 1 × accumulation 4,
 * as one GPU of its four), Tucker ranks 32/32/4, λ = 1. Its Adam adds the decay to the gradient
 * (L2); this Adam decouples it, which at 1e-6 × lr 1e-3 changes nothing measurable. The built-in
 * small model starts from random weights and has to learn in a minute on 2 cores: batch 4, a
 * constant lr, smaller ranks (its qkv is 96 → 288 wide) and a short run.
 */
export const MULTITASK_RECIPES = {
  paper: { epochs: 200, lr: 1e-3, weightDecay: 1e-6, batchSize: 1, accumulate: 4, schedule: 'polynomial', warmup: 0.05, tuckerRanks: [32, 32, 4], rank: 32, orthWeight: 1 },
  small: { epochs: 4, lr: 3e-3, weightDecay: 1e-6, batchSize: 4, accumulate: 1, schedule: 'constant', warmup: 0, tuckerRanks: [8, 8, 4], rank: 4, orthWeight: 1 },
} as const;
export type MultitaskRecipeName = keyof typeof MULTITASK_RECIPES;

export interface TaLoraMultitaskOptions {
  readonly recipe?: MultitaskRecipeName;
  /** The tasks, in order: {name, kind, channels, weight}; default NYUv2's with data, the synthetic set's (4 classes) without. */
  readonly tasks?: readonly z.input<typeof TaskSpecSchema>[];
  readonly method?: MultitaskMethod;
  /** LoRA rank of the baselines (alpha = rank, so the update is scaled by 1, unless `adapter` says otherwise). */
  readonly rank?: number;
  readonly tuckerRanks?: readonly [number, number, number];
  /** λ of the orthogonality regulariser (TA-LoRA only). */
  readonly orthWeight?: number;
  readonly epochs?: number;
  readonly train?: number;
  readonly val?: number;
  readonly valEvery?: number;
  readonly batchSize?: number;
  readonly accumulate?: number;
  readonly lr?: number;
  readonly weightDecay?: number;
  readonly schedule?: LrSchedule['schedule'];
  readonly warmupSteps?: number;
  /** MTAN's zoom factors; [1] turns the scale-crop off. */
  readonly scales?: readonly number[];
  /** One encoder pass over the batch tiled task-major instead of one per task (same outputs). */
  readonly batchedTasks?: boolean;
  /** SAM's pixel mean/std (the released script skips it). */
  readonly normalize?: boolean;
  readonly adapter?: Record<string, unknown>;
  readonly arch?: string | SamConfig;
  readonly imageSize?: number;
  readonly checkpoint?: string;
  readonly allowPartial?: boolean;
  /** A checkpoint folder of an earlier run of this pipeline (its peft and msam weights) to start from. */
  readonly warmStart?: string;
  /** A baseline run folder (LoRA-STL): validation then also reports Δm (%) against its last validation. */
  readonly baseline?: string;
  /** The MTAN NYUv2 .npy layout; default: synthetic scenes. */
  readonly data?: string;
  /** The segmentation folder's name (MTAN's Cityscapes: 'label_7'). */
  readonly labelDir?: string;
  readonly seed?: number;
  readonly skipUnpaired?: boolean;
  readonly skipCorrupt?: boolean;
  readonly limit?: number;
  readonly splits?: readonly string[];
}

/** The synthetic scenes' tasks: 4 classes (wall, floor, sphere, box), depth, normals at NYUv2's 1 : 1 : 4. */
export const SYNTHETIC_TASKS: readonly z.input<typeof TaskSpecSchema>[] = [
  { name: 'seg', kind: 'segmentation', channels: SCENE_CLASSES.length, weight: 1 },
  { name: 'depth', kind: 'depth', channels: 1, weight: 1 },
  { name: 'normal', kind: 'normals', channels: 3, weight: 4 },
];

const FILE_OPTIONS = ['skipUnpaired', 'skipCorrupt', 'labelDir'] as const;
export const MULTITASK_READER_OPTIONS = [...FILE_OPTIONS, 'limit', 'splits'] as const;

const pick = (options: TaLoraMultitaskOptions, keys: readonly (keyof TaLoraMultitaskOptions)[]) =>
  Object.fromEntries(keys.filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));

export function multitaskRecipe(options: TaLoraMultitaskOptions) {
  return MULTITASK_RECIPES[options.recipe ?? (options.checkpoint ? 'paper' : 'small')];
}

/** The parsed task list, checked against what the data gives: one task per kind, no binary task, classes the labels fit. */
export function multitaskTasks(options: TaLoraMultitaskOptions): TaskSpec[] {
  const tasks = parseTasks(options.tasks ?? (options.data ? NYUV2_TASKS : SYNTHETIC_TASKS), "option 'tasks'");
  const seen = new Map<string, string>();
  for (const t of tasks) {
    if (t.kind === 'binary') throw new Error(`option 'tasks': task '${t.name}' is binary, but the multi-task readers give class ids, depth and normals only (kinds segmentation, depth, normals)`);
    if (seen.has(t.kind)) throw new Error(`option 'tasks': tasks '${seen.get(t.kind)}' and '${t.name}' are both ${t.kind}; the data has one ${t.kind} target`);
    seen.set(t.kind, t.name);
    if (!options.data && t.kind === 'segmentation' && t.channels < SCENE_CLASSES.length) {
      throw new Error(`option 'tasks': task '${t.name}' has ${t.channels} classes, but the synthetic scenes' labels are 0..${SCENE_CLASSES.length - 1} (${SCENE_CLASSES.join(', ')})`);
    }
  }
  return tasks;
}

/**
 * A normals task needs normal/ in every split folder read: without it the reader gives all-invalid
 * normals, which would train on nothing and score NaN, so refuse before any work.
 */
function requireTargets(root: string, labelDir: string | undefined, tasks: readonly TaskSpec[], splits?: readonly string[]): void {
  const normals = tasks.find((t) => t.kind === 'normals');
  if (!normals) return;
  const listing = listNyuv2Mtan(root, labelDir);
  const read = { ...listing, splits: listing.splits.filter((s) => !splits || splits.includes(s.name)) };
  const without = splitsWithoutNormals(read);
  if (without.length) {
    const example = JSON.stringify(CITYSCAPES_TASKS);
    throw new Error(`option 'tasks': task '${normals.name}' is ${normals.kind}, but ${without.join(' and ')} ${without.length === 1 ? 'has' : 'have'} no 'normal/' folder (no surface normals to learn or score); leave the normals task out, e.g. MTAN Cityscapes: tasks=${example}`);
  }
}

function readParams(options: TaLoraMultitaskOptions, read: { epochs: number; valEvery: number } | { splits: string[]; shuffle: false }) {
  const root = options.data!;
  return { root, ...pick(options, 'splits' in read ? FILE_OPTIONS : MULTITASK_READER_OPTIONS), ...read };
}

function trainItems(options: TaLoraMultitaskOptions): number {
  if (!options.data) return options.train ?? 32;
  const params = ReaderParams.parse(readParams(options, { epochs: 1, valEvery: 1 }));
  return planSplits(listNyuv2Mtan(options.data, options.labelDir), params).find((s) => s.name === 'train')?.entries.length ?? 0;
}

/** The peft node's params: the method is the one thing that differs between TA-LoRA and its baselines. */
export function adapterParams(options: TaLoraMultitaskOptions, taskCount: number): z.input<typeof InjectAdapterParams> {
  const recipe = multitaskRecipe(options);
  const method = options.method ?? 'ta-lora';
  const common = { trainDecoder: false, ...options.adapter };
  // Checked by adapters/inject, which names a bad field of `adapter`.
  if (method === 'ta-lora') return { method: 'ta-lora', tasks: taskCount, tuckerRanks: [...(options.tuckerRanks ?? recipe.tuckerRanks)] as [number, number, number], ...common } as z.input<typeof InjectAdapterParams>;
  const rank = options.rank ?? recipe.rank;
  return { method: 'lora', rank, alpha: rank, tasks: method === 'lora-stl' ? taskCount : 1, ...common } as z.input<typeof InjectAdapterParams>;
}

type Images = NodeHandle<typeof BatchMultiTask.outputs>['out']['images'];

/** SAM → the encoder adaptation (fresh, or a checkpoint's `peft`) → mSAM (fresh, or the checkpoint's `msam`). */
function addModel(g: GraphBuilder, options: TaLoraMultitaskOptions, tasks: readonly TaskSpec[], images: Images, from?: string) {
  if (options.checkpoint) requireCheckpointFile(options.checkpoint);
  const { arch } = resolvedArch(options);
  const sam = g.add('sam', SamModelNode, { params: { arch, ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}), ...(options.allowPartial !== undefined ? { allowPartial: options.allowPartial } : {}) } });
  const peft = g.add('peft', InjectAdapter, { params: { ...adapterParams(options, tasks.length), ...(from ? { initFrom: join(from, 'peft') } : {}) }, inputs: { model: sam.out.model } });
  return g.add('msam', MsamNode, {
    params: { tasks: [...tasks], batchedTasks: options.batchedTasks ?? false, normalize: options.normalize ?? false, ...(from ? { initFrom: join(from, 'msam') } : {}) },
    inputs: { model: peft.out.model, images },
  });
}

type Msam = ReturnType<typeof addModel>;
type Targets = NodeHandle<typeof BatchMultiTask.outputs>['out'];

/** The segmentation head's class ids, when there is a segmentation task. */
function addClassIds(g: GraphBuilder, tasks: readonly TaskSpec[], msam: Msam) {
  return tasks.some((t) => t.kind === 'segmentation') ? g.add('seg-ids', ClassArgmax, { inputs: { logits: msam.out.seg } }) : undefined;
}

/** The spec's §7 metrics of the tasks there are, over each split and epoch (and Δm against `baseline`); returns the class ids node. */
function addMetrics(g: GraphBuilder, tasks: readonly TaskSpec[], msam: Msam, targets: Targets, baseline?: { path: string; split: string }) {
  const ids = addClassIds(g, tasks, msam);
  const seg = tasks.find((t) => t.kind === 'segmentation');
  const has = (kind: TaskSpec['kind']) => tasks.some((t) => t.kind === kind);
  g.add('metrics', MultiTaskMetrics, {
    params: { convention: 'libmtl', ...(seg ? { numClasses: seg.channels } : {}), ...(baseline ? { baseline: baseline.path, baselineSplit: baseline.split } : {}) },
    inputs: {
      ...(ids ? { segPred: ids.out.labels, segLabels: targets.labels } : {}),
      ...(has('depth') ? { depthPred: msam.out.depth, depthGt: targets.depths } : {}),
      ...(has('normals') ? { normalPred: msam.out.normals, normalGt: targets.normals } : {}),
    },
  });
  return ids;
}

/** The report's per-task gallery: the first val images of each epoch, each task's truth and prediction. */
function addGallery(g: GraphBuilder, tasks: readonly TaskSpec[], msam: Msam, targets: Targets, ids: ReturnType<typeof addClassIds>) {
  const has = (kind: TaskSpec['kind']) => tasks.some((t) => t.kind === kind);
  g.add('gallery', MultitaskGallery, {
    params: { count: 4, tasks: tasks.map((t) => ({ name: t.name, kind: t.kind as 'segmentation' | 'depth' | 'normals', ...(t.kind === 'segmentation' ? { classes: t.channels } : {}) })) },
    inputs: {
      images: targets.images,
      ...(ids ? { segLabels: targets.labels, segPred: ids.out.labels } : {}),
      ...(has('depth') ? { depthGt: targets.depths, depthPred: msam.out.depth } : {}),
      ...(has('normals') ? { normalGt: targets.normals, normalPred: msam.out.normals } : {}),
    },
  });
}

export function taLoraMultitask(options: TaLoraMultitaskOptions = {}): Graph {
  const recipe = multitaskRecipe(options);
  const tasks = multitaskTasks(options);
  const { size } = resolvedArch(options);
  const g = new GraphBuilder({ name: 'ta-lora-multitask', seed: options.seed ?? 0 });
  const epochs = options.epochs ?? recipe.epochs;
  const batchSize = options.batchSize ?? recipe.batchSize;
  const accumulate = options.accumulate ?? recipe.accumulate;
  const valEvery = options.valEvery ?? 1;
  if (options.data) requireTargets(options.data, options.labelDir, tasks, planSplits(listNyuv2Mtan(options.data, options.labelDir), ReaderParams.parse(readParams(options, { epochs, valEvery }))).map((s) => s.name));
  const data = options.data
    ? g.add('data', Nyuv2Mtan, { params: readParams(options, { epochs, valEvery }) })
    : g.add('data', SyntheticScenes, { params: { size, train: options.train ?? 32, val: options.val ?? 16, epochs, valEvery } });
  const crop = g.add('scale-crop', RandomScaleCropMultiTask, {
    params: { scales: [...(options.scales ?? [1, 1.2, 1.5])] },
    inputs: { image: data.out.image, label: data.out.label, depth: data.out.depth, normal: data.out.normal },
  });
  const flip = g.add('flip', RandomFlipMultiTask, { params: { p: 0.5 }, inputs: { image: crop.out.image, label: crop.out.label, depth: crop.out.depth, normal: crop.out.normal } });
  const batch = g.add('batch', BatchMultiTask, { params: { size: batchSize }, inputs: { image: flip.out.image, label: flip.out.label, depth: flip.out.depth, normal: flip.out.normal } });
  const msam = addModel(g, options, tasks, batch.out.images, options.warmStart);
  const losses = tasks.map((t) => {
    switch (t.kind) {
      case 'segmentation':
        return g.add(`loss-${t.name}`, CrossEntropy, { params: { ignoreIndex: -1 }, inputs: { logits: msam.out.seg, labels: batch.out.labels } }).out.loss;
      case 'depth':
        return g.add(`loss-${t.name}`, DepthL1, { inputs: { pred: msam.out.depth, gt: batch.out.depths } }).out.loss;
      default:
        return g.add(`loss-${t.name}`, NormalCosine, { inputs: { pred: msam.out.normals, gt: batch.out.normals } }).out.loss;
    }
  });
  const taLora = (options.method ?? 'ta-lora') === 'ta-lora';
  const total = g.add('loss', WeightedSum, {
    params: { weights: tasks.map((t) => t.weight), normalize: true, orthWeight: options.orthWeight ?? recipe.orthWeight },
    inputs: { ...Object.fromEntries(losses.map((l, i) => [`loss${i}`, l])), ...(taLora ? { orth: msam.out.orth } : {}) },
  });
  const schedule = options.schedule ?? recipe.schedule;
  const totalSteps = Math.floor((Math.ceil(trainItems(options) / batchSize) * epochs) / accumulate);
  g.add('optimizer', Adam, {
    params: {
      lr: options.lr ?? recipe.lr,
      weightDecay: options.weightDecay ?? recipe.weightDecay,
      accumulate,
      divergeFactor: 100,
      schedule,
      warmupSteps: options.warmupSteps ?? Math.floor(recipe.warmup * totalSteps),
      ...(schedule !== 'constant' ? { totalSteps } : {}),
    },
    inputs: { loss: total.out.loss },
  });
  const ids = addMetrics(g, tasks, msam, batch.out, options.baseline ? { path: options.baseline, split: 'val' } : undefined);
  addGallery(g, tasks, msam, batch.out, ids);
  return g.build();
}

/**
 * The metrics of a trained checkpoint folder (or, without one, of the untrained model) on the
 * synthetic set's val images: the reference a learning test compares against. The source also
 * makes one training image, which only passes forward (there is no optimiser).
 */
export function taLoraMultitaskSyntheticScore(options: TaLoraMultitaskOptions, checkpoint?: string): Graph {
  if (options.data) throw new Error('taLoraMultitaskSyntheticScore scores on the synthetic set; for a data folder use the evaluate graph');
  const tasks = multitaskTasks(options);
  const { size } = resolvedArch(options);
  const g = new GraphBuilder({ name: 'ta-lora-multitask-score', seed: options.seed ?? 0 });
  const data = g.add('data', SyntheticScenes, { params: { size, train: 1, val: options.val ?? 16, epochs: 1 } });
  const batch = g.add('batch', BatchMultiTask, { params: { size: options.batchSize ?? multitaskRecipe(options).batchSize }, inputs: { image: data.out.image, label: data.out.label, depth: data.out.depth, normal: data.out.normal } });
  addMetrics(g, tasks, addModel(g, options, tasks, batch.out.images, checkpoint), batch.out);
  return g.build();
}

/** The split an evaluation reads: the one named; in the MTAN layout 'val' (the benchmark's test set) when there is no 'test'. */
function multitaskSplit(root: string, split: string | undefined, labelDir?: string): string {
  if (split) return split;
  const names = listNyuv2Mtan(root, labelDir).splits.map((s) => s.name);
  if (!names.includes('test') && names.includes('val')) return 'val';
  return evaluationSplit(root, split);
}

/** The trained checkpoint on one split of an MTAN-layout folder: the spec's §7 metrics, each over the whole split. */
export function taLoraMultitaskEvaluate(options: TaLoraMultitaskOptions, target: EvaluateTarget): Graph {
  const tasks = multitaskTasks({ ...options, data: target.data });
  const split = multitaskSplit(target.data, target.split, options.labelDir);
  requireTargets(target.data, options.labelDir, tasks, [split]);
  const g = new GraphBuilder({ name: 'ta-lora-multitask-eval', seed: options.seed ?? 0 });
  const data = g.add('data', Nyuv2Mtan, { params: readParams({ ...options, data: target.data }, { splits: [split], shuffle: false }) });
  const batch = g.add('batch', BatchMultiTask, { params: { size: options.batchSize ?? multitaskRecipe(options).batchSize }, inputs: { image: data.out.image, label: data.out.label, depth: data.out.depth, normal: data.out.normal } });
  addMetrics(g, tasks, addModel(g, options, tasks, batch.out.images, target.checkpoint), batch.out);
  return g.build();
}

/** Per-task output PNGs that already exist for these images: an error before any work, since none is overwritten. */
function refuseExistingOutputs(images: string, out: string, tasks: readonly TaskSpec[]): void {
  if (!existsSync(images)) return; // the image reader names a missing folder
  const stems = new Set(readdirSync(images).map((f) => basename(f, extname(f))));
  for (const t of tasks) {
    const dir = join(out, t.name);
    if (!existsSync(dir)) continue;
    const taken = readdirSync(dir).filter((f) => f.endsWith('.png') && stems.has(basename(f, '.png')));
    if (taken.length) throw new Error(`${dir} already holds ${taken.length} ${t.name} PNG(s) for these images (${taken.slice(0, 3).join(', ')}${taken.length > 3 ? ', ...' : ''}); predict never overwrites: choose another --out`);
  }
}

/**
 * The trained checkpoint on every image of a folder, each at its own size (batch 1: images may
 * differ in size; mSAM resizes inside and returns maps at the input's size): `<out>/<task>/<id>.png`,
 * segmentation as class ids, depth as 16-bit millimetres, normals as RGB (report/write-multitask).
 */
export function taLoraMultitaskPredict(options: TaLoraMultitaskOptions, target: PredictTarget): Graph {
  const tasks = multitaskTasks(options);
  refuseExistingOutputs(target.images, target.out, tasks);
  const g = new GraphBuilder({ name: 'ta-lora-multitask-predict', seed: options.seed ?? 0 });
  const images = g.add('images', ImageFolder, { params: { root: target.images, ...pick(options, ['skipCorrupt']) } });
  const batch = g.add('batch', BatchImages, { params: { size: 1 }, inputs: { image: images.out.image, info: images.out.info } });
  const msam = addModel(g, options, tasks, batch.out.images, target.checkpoint);
  const ids = addClassIds(g, tasks, msam);
  const folder = (kind: TaskSpec['kind']) => tasks.find((t) => t.kind === kind)?.name;
  const seg = tasks.find((t) => t.kind === 'segmentation');
  const [depth, normals] = [folder('depth'), folder('normals')];
  g.add('write', WriteMultiTask, {
    params: {
      dir: target.out,
      folders: { ...(seg ? { seg: seg.name } : {}), ...(depth ? { depth } : {}), ...(normals ? { normals } : {}) },
      ...(seg ? { classes: seg.channels } : {}),
    },
    inputs: {
      infos: batch.out.infos,
      ...(ids ? { seg: ids.out.labels } : {}),
      ...(depth ? { depth: msam.out.depth } : {}),
      ...(normals ? { normals: msam.out.normals } : {}),
    },
  });
  return g.build();
}
