/**
 * Conv-LoRA for binary segmentation, the method's main job (spec ../shared/specs/conv-lora.md):
 * images resized to SAM's square input and flipped on the main thread; in the worker a SAM model
 * with Conv-LoRA injected into every block's qkv, run without prompts (one mask token, as the
 * official code rebuilds the decoder), the structure loss plus the MoE balance loss, and AdamW
 * over the adapters and the mask decoder; the Conv-LoRA benchmark metrics on the validation split.
 *
 * Without `checkpoint` the SAM weights are random (seeded): the built-in default then shows the
 * machinery end to end on a small SAM-architecture model; with real weights and data it is the
 * published recipe.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { EvaluateTarget, PredictTarget } from '../src/api/pipeline.ts';
import { GraphBuilder, type Graph, type NodeHandle } from '../src/graph/graph.ts';
import { InjectAdapter } from '../src/nodes/adapters/inject-node.ts';
import { RandomFlip } from '../src/nodes/augment/random-flip.ts';
import { ResizeSquare, ResizeSquareImage } from '../src/nodes/augment/resize-square.ts';
import { AutogluonCsv } from '../src/nodes/data/autogluon-csv.ts';
import { Batch, BatchImages } from '../src/nodes/data/batch.ts';
import { planSplits, ReaderParams } from '../src/nodes/data/dataset-source.ts';
import { detectLayout } from '../src/nodes/data/detect-layout.ts';
import type { Listing } from '../src/nodes/data/listing.ts';
import { ImageFolder } from '../src/nodes/data/image-folder.ts';
import { Isic2017 } from '../src/nodes/data/isic2017.ts';
import { PairedFolders } from '../src/nodes/data/paired-folders.ts';
import { SyntheticShapes } from '../src/nodes/data/synthetic-shapes.ts';
import { StructureLoss } from '../src/nodes/losses/structure-loss.ts';
import { WeightedSum } from '../src/nodes/losses/weighted-sum.ts';
import type { BinaryMetricName } from '../src/nodes/metrics/binary-metrics.ts';
import { BinaryMetrics } from '../src/nodes/metrics/binary-set.ts';
import { Gallery } from '../src/nodes/report/gallery.ts';
import { WriteMasks } from '../src/nodes/report/write-masks.ts';
import { resolveSamConfig, SAM_PRESETS, samConfigFromArg, type SamConfig } from '../src/nodes/sam/config.ts';
import { SamModelNode } from '../src/nodes/sam/model-node.ts';
import { SamSemantic } from '../src/nodes/sam/semantic-node.ts';
import { Adam } from '../src/nodes/train/adam.ts';
import type { LrSchedule } from '../src/nodes/train/lr-schedule.ts';
import type { SamRunOptions } from './sam-run-options.ts';

/** A SAM-architecture model small enough to fine-tune on a 2-core CPU in a minute or two. */
export const SMALL_SAM: SamConfig = {
  ...SAM_PRESETS.vit_b,
  image_size: 64,
  patch_size: 4,
  encoder_embed_dim: 96,
  encoder_depth: 4,
  encoder_num_heads: 4,
  encoder_global_attn_indexes: [1, 3],
  window_size: 4,
  prompt_embed_dim: 64,
  decoder_mlp_dim: 256,
  decoder_num_heads: 4,
  iou_head_hidden_dim: 64,
};

/**
 * The two sets of defaults. With real SAM weights (`checkpoint`), the spec's recipe (§3): lr
 * 1e-4 decaying linearly to 0 with no warmup, micro-batch 1 × accumulation 4 (so the gate's
 * balance loss sees one image at a time), 30 epochs. The built-in small model starts from
 * random weights and must learn something in a few minutes on 2 cores: a higher lr, batch 4,
 * constant lr, 3 epochs. Every other setting (AdamW 1e-4 without decay on biases and norms,
 * clip 1, flip 0.5, best-of-3 by val sm, patience 10) is the recipe's in both.
 */
export const RECIPES = {
  paper: { epochs: 30, lr: 1e-4, batchSize: 1, accumulate: 4, schedule: 'polynomial' },
  small: { epochs: 3, lr: 3e-3, batchSize: 4, accumulate: 1, schedule: 'constant' },
} as const;
export type RecipeName = keyof typeof RECIPES;

export interface ConvLoraBinaryOptions extends SamRunOptions {
  readonly recipe?: RecipeName;
  /** With `data`: a mask pixel is foreground above this grey value. */
  readonly maskThreshold?: number;
}

/** The reader options that say how to treat the files (any split): evaluation applies them too. */
const FILE_OPTIONS = ['skipUnpaired', 'skipCorrupt', 'resizeMasks', 'maskThreshold'] as const;
/** The reader options that choose what to train on: evaluation reads one whole split instead. */
const SPLIT_OPTIONS = ['limit', 'holdout', 'splits'] as const;
export const READER_OPTIONS = [...FILE_OPTIONS, ...SPLIT_OPTIONS] as const;

const pick = (options: ConvLoraBinaryOptions, keys: readonly (keyof ConvLoraBinaryOptions)[]) =>
  Object.fromEntries(keys.filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));

/** The recipe a run uses: the one named, else the paper's with real weights and the small one without. */
export function recipeOf(options: ConvLoraBinaryOptions): RecipeName {
  return options.recipe ?? (options.checkpoint ? 'paper' : 'small');
}

/**
 * The training reader's params: the user's reader options, and without a val split 20 % of
 * train held out (unless `holdout` is given, or `splits` does not read 'val').
 */
function trainingReadParams(options: ConvLoraBinaryOptions, listing: Listing, read: { epochs: number; valEvery: number }) {
  const wantsVal = !options.splits || options.splits.includes('val');
  const holdout = options.holdout ?? (wantsVal && !listing.splits.some((s) => s.name === 'val') ? 0.2 : undefined);
  return { ...read, ...pick(options, READER_OPTIONS), ...(holdout !== undefined ? { holdout } : {}) };
}

/**
 * Evaluating 'val' of a folder without one: the part of 'train' that training held out (the same
 * seeded draw, at the run's holdout or the training default), so `eval --split val` scores
 * exactly the images validation scored.
 */
function heldOut(options: ConvLoraBinaryOptions, listing: Listing, splits: readonly string[]): { holdout?: number } {
  if (!splits.includes('val') || listing.splits.some((s) => s.name === 'val')) return {};
  return { holdout: options.holdout ?? 0.2 };
}

/** The training split's size, for the schedule's length (max steps = batches per epoch × epochs / accumulation, as the recipe computes it). */
function trainItems(options: ConvLoraBinaryOptions): number {
  if (!options.data) return options.train ?? 32;
  const listing = detectLayout(options.data);
  const params = ReaderParams.parse({ root: options.data, ...trainingReadParams(options, listing, { epochs: 1, valEvery: 1 }) });
  const train = planSplits(listing, params).find((s) => s.name === 'train');
  return train?.entries.length ?? 0;
}

/**
 * The reader for a real data set folder: its layout decides the node. For training, the user's
 * reader options (trainingReadParams); for evaluation, `splits` names the one to read, in file
 * order, with the options that say how to treat the files.
 */
function addReader(g: GraphBuilder, root: string, options: ConvLoraBinaryOptions, read: { epochs: number; valEvery: number } | { splits: string[]; shuffle: false }) {
  const listing = detectLayout(root);
  const params = { root, ...('splits' in read ? { ...pick(options, FILE_OPTIONS), ...heldOut(options, listing, read.splits), ...read } : trainingReadParams(options, listing, read)) };
  switch (listing.layout) {
    case 'autogluon-csv':
      return g.add('data', AutogluonCsv, { params });
    case 'isic2017':
      return g.add('data', Isic2017, { params });
    case 'paired-folders':
      return g.add('data', PairedFolders, { params });
    default:
      throw new Error(`${root}: a ${listing.layout} data set has no binary masks; conv-lora-binary needs binary segmentation data`);
  }
}

export function convLoraBinary(options: ConvLoraBinaryOptions = {}): Graph {
  const recipe = RECIPES[recipeOf(options)];
  const { arch, size } = resolvedArch(options);
  const g = new GraphBuilder({ name: 'conv-lora-binary', seed: options.seed ?? 42 });
  const epochs = options.epochs ?? recipe.epochs;
  const batchSize = options.batchSize ?? recipe.batchSize;
  const accumulate = options.accumulate ?? recipe.accumulate;
  const valEvery = options.valEvery ?? 1;
  const reader = options.data ? addReader(g, options.data, options, { epochs, valEvery }) : undefined;
  const data = reader ?? g.add('data', SyntheticShapes, { params: { size, train: options.train ?? 32, val: options.val ?? 16, epochs, valEvery } });
  const resize = g.add('resize', ResizeSquare, { params: { size }, inputs: { image: data.out.image, mask: data.out.mask } });
  const flip = g.add('flip', RandomFlip, { params: { p: 0.5 }, inputs: { image: resize.out.image, mask: resize.out.mask } });
  // A real data set's masks also travel at their own size, so validation scores at the ground truth's resolution.
  const originals = reader ? { info: reader.out.info, original: reader.out.mask } : {};
  const batch = g.add('batch', Batch, { params: { size: batchSize }, inputs: { image: flip.out.image, mask: flip.out.mask, ...originals } });
  const seg = addModel(g, options, arch, batch.out.images, options.warmStart);
  const structure = g.add('structure', StructureLoss, { inputs: { logits: seg.out.logits, masks: batch.out.masks } });
  const total = g.add('loss', WeightedSum, { inputs: { loss0: structure.out.loss, moe: seg.out.aux } });
  addRecipeOptimizer(g, total.out.loss, { lr: options.lr ?? recipe.lr, schedule: options.schedule ?? recipe.schedule, warmupSteps: options.warmupSteps ?? 0, accumulate, items: trainItems(options), batchSize, epochs });
  g.add('metrics', BinaryMetrics, {
    params: { metrics: ['iou', 'dice', 'sm', 'mae'] },
    inputs: { probs: seg.out.probs, masks: batch.out.masks, ...(reader ? { originals: batch.out.originals, infos: batch.out.infos } : {}) },
  });
  // The report's pictures: the first validation images of each epoch, as the metrics scored them.
  g.add('gallery', Gallery, { inputs: { images: batch.out.images, masks: batch.out.masks, probs: seg.out.probs, ...(reader ? { infos: batch.out.infos } : {}) } });
  return g.build();
}

/**
 * The recipe's AdamW (spec §3): weight decay 1e-4 (not on biases and norms), clip 1, the lr
 * schedule stepped per update over max steps = batches per epoch × epochs / accumulation, as
 * the recipe computes it; a loss 100× its running median for 20 items in a row has diverged
 * (see divergence-guard.ts).
 */
export function addRecipeOptimizer(
  g: GraphBuilder,
  loss: NodeHandle<typeof WeightedSum.outputs>['out']['loss'],
  o: { lr: number; schedule: LrSchedule['schedule']; warmupSteps: number; accumulate: number; items: number; batchSize: number; epochs: number },
): void {
  const totalSteps = Math.floor((Math.ceil(o.items / o.batchSize) * o.epochs) / o.accumulate);
  g.add('optimizer', Adam, {
    params: { lr: o.lr, weightDecay: 1e-4, clipNorm: 1, accumulate: o.accumulate, divergeFactor: 100, schedule: o.schedule, warmupSteps: o.warmupSteps, ...(o.schedule !== 'constant' ? { totalSteps } : {}) },
    inputs: { loss },
  });
}

/** SAM (base weights) → the PEFT method (fresh, or the weights at `adapter`) → the promptless binary forward. */
function addModel(g: GraphBuilder, options: ConvLoraBinaryOptions, arch: SamConfig | string, images: NodeHandle<typeof Batch.outputs>['out']['images'], adapter?: string) {
  const adapted = addAdaptedSam(g, options, arch, {}, adapter);
  return g.add('segment', SamSemantic, { params: { maskTokens: 1 }, inputs: { model: adapted.out.model, images } });
}

/**
 * SAM (base weights, `checkpoint` checked now) → the PEFT method, Conv-LoRA r 3 with 8 experts
 * unless the options say otherwise, with `decoder`'s adapter settings (the multi-class head) and
 * the weights at `adapter` if given.
 */
export function addAdaptedSam(g: GraphBuilder, options: SamRunOptions, arch: SamConfig | string, decoder: Record<string, unknown>, adapter?: string) {
  if (options.checkpoint) requireCheckpointFile(options.checkpoint);
  const sam = g.add('sam', SamModelNode, {
    params: { arch, ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}), ...(options.allowPartial !== undefined ? { allowPartial: options.allowPartial } : {}) },
  });
  return g.add('peft', InjectAdapter, {
    params: {
      ...options.adapter,
      method: options.method ?? 'conv-lora',
      rank: options.rank ?? 3,
      experts: options.experts ?? 8,
      ...decoder,
      ...(adapter ? { initFrom: adapter } : {}),
    },
    inputs: { model: sam.out.model },
  });
}

/** Fails when the graph is built, not when the worker loads weights after the data is listed. */
export function requireCheckpointFile(path: string): void {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw new Error(`option 'checkpoint': ${path}: no such file (expected SAM weights: an official .pth or a Hugging Face .safetensors)`);
  }
  if (!stats.isFile()) throw new Error(`option 'checkpoint': ${path}: not a file (expected SAM weights: an official .pth or a Hugging Face .safetensors)`);
}

export function resolvedArch(options: Pick<ConvLoraBinaryOptions, 'arch' | 'imageSize'>): { arch: SamConfig | string; size: number } {
  // A preset stays a name in the graph; an arch.json is read now, so the graph holds the config itself.
  const named: SamConfig | string = typeof options.arch === 'string' && options.arch.endsWith('.json') ? samConfigFromArg(options.arch) : (options.arch ?? SMALL_SAM);
  if (options.imageSize === undefined) return { arch: named, size: (typeof named === 'string' ? resolveSamConfig(named, "option 'arch'") : named).image_size };
  // Another input size is another config (its grid, position embeddings and windows follow);
  // checked like any config, and a checkpoint made at another size does not load onto it.
  const base = typeof named === 'string' ? resolveSamConfig(named, "option 'arch'") : named;
  const arch = resolveSamConfig({ ...base, image_size: options.imageSize }, `option 'imageSize' (${options.imageSize})`);
  return { arch, size: arch.image_size };
}

/** The split an evaluation reads: the one named, else the data set's only split or its only test split. */
export function evaluationSplit(root: string, split: string | undefined): string {
  const names = detectLayout(root).splits.map((s) => s.name);
  if (split) return split; // the reader names what exists if it does not
  const tests = names.filter((n) => n === 'test' || n.startsWith('test'));
  if (names.length === 1) return names[0]!;
  if (tests.length === 1) return tests[0]!;
  throw new Error(`${root} has splits ${names.map((n) => `'${n}'`).join(', ')}; say which to evaluate with --split`);
}

/**
 * The trained adapter (`<checkpoint>/peft`) on one split of a data set folder, scored per image at
 * each ground truth's own resolution (the prediction resized back, as the benchmarks do).
 */
export function convLoraBinaryEvaluate(options: ConvLoraBinaryOptions, target: EvaluateTarget): Graph {
  return evaluationGraph(options, target, join(target.checkpoint, 'peft'));
}

/**
 * The base SAM weights alone, fine-tuned on nothing, scored the same way: the promptless forward
 * (the checkpoint's mask token 0 and its decoder, no prompt) that fine-tuning starts from. The
 * yardstick a comparison of PEFT methods measures them against.
 */
export function convLoraBinaryEvaluateBase(options: ConvLoraBinaryOptions, target: Omit<EvaluateTarget, 'checkpoint'>): Graph {
  return evaluationGraph(untuned(options), target, undefined);
}

/** The base weights with no adapter: decoder-only injects nothing, so the forward is the checkpoint's own. */
const untuned = (options: ConvLoraBinaryOptions): ConvLoraBinaryOptions => ({ ...options, method: 'decoder-only', warmStart: undefined });

function evaluationGraph(options: ConvLoraBinaryOptions, target: Omit<EvaluateTarget, 'checkpoint'>, adapter: string | undefined): Graph {
  const { arch, size } = resolvedArch(options);
  const g = new GraphBuilder({ name: 'conv-lora-binary-eval', seed: options.seed ?? 42 });
  const split = evaluationSplit(target.data, target.split);
  const data = addReader(g, target.data, options, { splits: [split], shuffle: false });
  const resize = g.add('resize', ResizeSquare, { params: { size }, inputs: { image: data.out.image, mask: data.out.mask } });
  const batch = g.add('batch', Batch, {
    params: { size: options.batchSize ?? RECIPES[recipeOf(options)].batchSize },
    inputs: { image: resize.out.image, mask: resize.out.mask, info: data.out.info, original: data.out.mask },
  });
  const seg = addModel(g, options, arch, batch.out.images, adapter);
  g.add('metrics', BinaryMetrics, {
    params: { ...(target.metrics ? { metrics: [...target.metrics] as BinaryMetricName[] } : {}), perImage: true },
    inputs: { probs: seg.out.probs, masks: batch.out.masks, originals: batch.out.originals, infos: batch.out.infos },
  });
  if (target.gallery) g.add('gallery', Gallery, { params: { count: target.gallery, split }, inputs: { images: batch.out.images, masks: batch.out.masks, probs: seg.out.probs, infos: batch.out.infos } });
  return g.build();
}

/** A folder's images for prediction: each resized to the model's square input, batched with its SampleInfo. */
export function addSquareImages(g: GraphBuilder, root: string, size: number, batchSize: number, skipCorrupt?: boolean) {
  const images = g.add('images', ImageFolder, { params: { root, ...(skipCorrupt !== undefined ? { skipCorrupt } : {}) } });
  const resize = g.add('resize', ResizeSquareImage, { params: { size }, inputs: { image: images.out.image } });
  return g.add('batch', BatchImages, { params: { size: batchSize }, inputs: { image: resize.out.image, info: images.out.info } });
}

/** The trained adapter on every image of a folder: one mask PNG per image at its own size. */
export function convLoraBinaryPredict(options: ConvLoraBinaryOptions, target: PredictTarget): Graph {
  return predictionGraph(options, target, join(target.checkpoint, 'peft'));
}

/** The base weights' own promptless masks (see convLoraBinaryEvaluateBase). */
export function convLoraBinaryPredictBase(options: ConvLoraBinaryOptions, target: Omit<PredictTarget, 'checkpoint'>): Graph {
  return predictionGraph(untuned(options), target, undefined);
}

function predictionGraph(options: ConvLoraBinaryOptions, target: Omit<PredictTarget, 'checkpoint'>, adapter: string | undefined): Graph {
  const { arch, size } = resolvedArch(options);
  const g = new GraphBuilder({ name: 'conv-lora-binary-predict', seed: options.seed ?? 42 });
  const batch = addSquareImages(g, target.images, size, options.batchSize ?? RECIPES[recipeOf(options)].batchSize, options.skipCorrupt);
  const seg = addModel(g, options, arch, batch.out.images, adapter);
  g.add('write', WriteMasks, { params: { dir: target.out, probs: target.probs }, inputs: { probs: seg.out.probs, infos: batch.out.infos } });
  return g.build();
}
