/**
 * Conv-LoRA for multi-class semantic segmentation (spec ../shared/specs/conv-lora.md §2 "Multi-class
 * head", §3 Trans10K row): images resized to SAM's square input (labels nearest) and flipped on
 * the main thread; in the worker a SAM model with Conv-LoRA on every qkv (or any PEFT method) and
 * the multi-class decoder (Q mask tokens, copies of token 0, one shared hypernetwork MLP, a
 * Linear(C → classes + 1) class head; IoU head frozen), run without prompts; the point-sampled
 * Mask2Former set loss plus the MoE balance loss; AdamW over the adapters and the decoder.
 * Validation is MaskFormer inference at the input size against the labels resized to it, as the
 * official code scores (spec §4): mIoU in both conventions, per-class IoU, pixel accuracy.
 *
 * Data: a class-index folder (CamVid's SegNet layout `train/ trainannot/ val/ valannot/ test/
 * testannot/`, or Trans10K's `images/` + `masks_12/N_mask.png`), or by default the synthetic set,
 * whose classes are shapes in random colours.
 */
import type { EvaluateTarget, PredictTarget } from '../src/api/pipeline.ts';
import { GraphBuilder, type Graph, type NodeHandle } from '../src/graph/graph.ts';
import { RandomFlipLabels } from '../src/nodes/augment/random-flip.ts';
import { ResizeSquareLabels } from '../src/nodes/augment/resize-square.ts';
import { BatchLabels } from '../src/nodes/data/batch.ts';
import { ClassIndexMasks, listClassIndexMasks } from '../src/nodes/data/class-index-masks.ts';
import { LabelReaderParams, planSplits } from '../src/nodes/data/dataset-source.ts';
import { SyntheticClasses } from '../src/nodes/data/synthetic-classes.ts';
import { SetLoss } from '../src/nodes/losses/set-loss.ts';
import { WeightedSum } from '../src/nodes/losses/weighted-sum.ts';
import { SemanticSegMetrics } from '../src/nodes/metrics/miou.ts';
import { MaskFormerInference } from '../src/nodes/metrics/semantic-inference.ts';
import { ClassGallery } from '../src/nodes/report/class-gallery.ts';
import { WriteClassMasks } from '../src/nodes/report/write-class-masks.ts';
import type { SamConfig } from '../src/nodes/sam/config.ts';
import { SamMulticlass } from '../src/nodes/sam/multiclass-node.ts';
import type { SamRunOptions } from './sam-run-options.ts';
import { addAdaptedSam, addRecipeOptimizer, addSquareImages, evaluationSplit, resolvedArch } from './conv-lora-binary.ts';

/**
 * With real weights, the spec's recipe (Trans10K: 30 epochs, lr 1e-4 decaying linearly, micro-batch
 * 1 × accumulation 4) with Q = 100 queries and HF's 12,544 points. The built-in small model starts
 * from random weights and must learn in minutes: its Q copies of token 0 get noise of half token
 * 0's spread (tokenJitter; exact copies stay alike for a hundred steps or more), lr 1e-3, batch 4,
 * Q = 8, 1,024 points (its masks are 64² = 4,096 pixels), 10 epochs of 96 images.
 */
export const MULTICLASS_RECIPES = {
  paper: { epochs: 30, lr: 1e-4, batchSize: 1, accumulate: 4, schedule: 'polynomial', queries: 100, points: 12544, tokenJitter: 0 },
  small: { epochs: 10, lr: 1e-3, batchSize: 4, accumulate: 1, schedule: 'constant', queries: 8, points: 1024, tokenJitter: 0.5 },
} as const;

export interface ConvLoraMulticlassOptions extends SamRunOptions {
  readonly recipe?: keyof typeof MULTICLASS_RECIPES;
  /** Classes including the background / class 0; with `data` required (the class-index maps say nothing of it). */
  readonly classes?: number;
  /** Mask tokens Q. */
  readonly queries?: number;
  /** Set-loss points per mask; 0 scores every label pixel. */
  readonly points?: number;
  /** Noise on the Q copies of mask token 0, as a fraction of its spread (0: exact copies, the official code). */
  readonly tokenJitter?: number;
  /** The data set's ignore value in its label PNGs (CamVid: 11 = void; Trans10K, VOC: 255). */
  readonly ignoreLabel?: number;
}

/** Synthetic default: 4 shapes + background. */
const SYNTHETIC_CLASSES = 5;
const FILE_OPTIONS = ['skipUnpaired', 'skipCorrupt', 'resizeMasks', 'ignoreLabel'] as const;
export const MULTICLASS_READER_OPTIONS = [...FILE_OPTIONS, 'limit', 'holdout', 'splits'] as const;

const pick = (options: ConvLoraMulticlassOptions, keys: readonly (keyof ConvLoraMulticlassOptions)[]) =>
  Object.fromEntries(keys.filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));

export function multiclassRecipe(options: ConvLoraMulticlassOptions) {
  return MULTICLASS_RECIPES[options.recipe ?? (options.checkpoint ? 'paper' : 'small')];
}

/** The number of classes: given, or the synthetic set's; a data folder must say it. */
export function classCount(options: ConvLoraMulticlassOptions): number {
  if (options.classes !== undefined) return options.classes;
  if (options.data) throw new Error(`option 'classes': give the number of classes of ${options.data} (label ids 0..classes-1; e.g. CamVid 11 with ignoreLabel 11, Trans10K-v2 12)`);
  return SYNTHETIC_CLASSES;
}

function readParams(options: ConvLoraMulticlassOptions, read: { epochs: number; valEvery: number } | { splits: string[]; shuffle: false }) {
  const root = options.data!;
  if ('splits' in read) return { root, classes: classCount(options), ...pick(options, FILE_OPTIONS), ...read };
  const listing = listClassIndexMasks(root);
  const wantsVal = !options.splits || options.splits.includes('val');
  const holdout = options.holdout ?? (wantsVal && !listing.splits.some((s) => s.name === 'val') ? 0.2 : undefined);
  return { root, classes: classCount(options), ...read, ...pick(options, MULTICLASS_READER_OPTIONS), ...(holdout !== undefined ? { holdout } : {}) };
}

function trainItems(options: ConvLoraMulticlassOptions): number {
  if (!options.data) return options.train ?? 96;
  const params = LabelReaderParams.parse(readParams(options, { epochs: 1, valEvery: 1 }));
  return planSplits(listClassIndexMasks(options.data), params).find((s) => s.name === 'train')?.entries.length ?? 0;
}

/** SAM → the PEFT method with the multi-class decoder (fresh, or the weights at `adapter`) → the promptless forward. */
function addModel(g: GraphBuilder, options: ConvLoraMulticlassOptions, arch: SamConfig | string, images: NodeHandle<typeof BatchLabels.outputs>['out']['images'], adapter?: string) {
  const decoder = {
    classes: classCount(options),
    maskTokens: options.queries ?? multiclassRecipe(options).queries,
    tokenJitter: options.tokenJitter ?? multiclassRecipe(options).tokenJitter,
  };
  const adapted = addAdaptedSam(g, options, arch, decoder, adapter);
  return g.add('segment', SamMulticlass, { inputs: { model: adapted.out.model, images } });
}

/** mIoU in the Conv-LoRA convention (all classes, per-class IoU) and in LibMTL's (classes seen), and pixel accuracy. */
function addMetrics(g: GraphBuilder, classes: number, pred: NodeHandle<typeof MaskFormerInference.outputs>['out']['labels'], labels: NodeHandle<typeof BatchLabels.outputs>['out']['labels']) {
  g.add('metrics', SemanticSegMetrics, { params: { numClasses: classes, convention: 'conv-lora', perClass: true }, inputs: { pred, labels } });
  g.add('metrics-libmtl', SemanticSegMetrics, { params: { numClasses: classes, convention: 'libmtl', prefix: 'libmtl/' }, inputs: { pred, labels } });
}

export function convLoraMulticlass(options: ConvLoraMulticlassOptions = {}): Graph {
  const recipe = multiclassRecipe(options);
  const { arch, size } = resolvedArch(options);
  const classes = classCount(options);
  const g = new GraphBuilder({ name: 'conv-lora-multiclass', seed: options.seed ?? 42 });
  const epochs = options.epochs ?? recipe.epochs;
  const batchSize = options.batchSize ?? recipe.batchSize;
  const accumulate = options.accumulate ?? recipe.accumulate;
  const valEvery = options.valEvery ?? 1;
  const data = options.data
    ? g.add('data', ClassIndexMasks, { params: readParams(options, { epochs, valEvery }) })
    : g.add('data', SyntheticClasses, { params: { size, classes, train: options.train ?? 96, val: options.val ?? 16, epochs, valEvery } });
  const resize = g.add('resize', ResizeSquareLabels, { params: { size }, inputs: { image: data.out.image, label: data.out.label } });
  const flip = g.add('flip', RandomFlipLabels, { params: { p: 0.5 }, inputs: { image: resize.out.image, label: resize.out.label } });
  const batch = g.add('batch', BatchLabels, { params: { size: batchSize }, inputs: { image: flip.out.image, label: flip.out.label } });
  const seg = addModel(g, options, arch, batch.out.images, options.warmStart);
  const set = g.add('set-loss', SetLoss, { params: { points: options.points ?? recipe.points }, inputs: { masks: seg.out.masks, classes: seg.out.classes, labels: batch.out.labels } });
  const total = g.add('loss', WeightedSum, { inputs: { loss0: set.out.loss, moe: seg.out.aux } });
  addRecipeOptimizer(g, total.out.loss, { lr: options.lr ?? recipe.lr, schedule: options.schedule ?? recipe.schedule, warmupSteps: options.warmupSteps ?? 0, accumulate, items: trainItems(options), batchSize, epochs });
  const infer = g.add('infer', MaskFormerInference, { params: { size }, inputs: { masks: seg.out.masks, classes: seg.out.classes } });
  addMetrics(g, classes, infer.out.labels, batch.out.labels);
  // The report's pictures: the first validation images of each epoch with their class maps.
  g.add('gallery', ClassGallery, { params: { classes }, inputs: { images: batch.out.images, labels: batch.out.labels, pred: infer.out.labels } });
  return g.build();
}

/** The trained adapter on one split of a class-index folder: mIoU (both conventions), per-class IoU, pixel accuracy. */
export function convLoraMulticlassEvaluate(options: ConvLoraMulticlassOptions, target: EvaluateTarget): Graph {
  const { arch, size } = resolvedArch(options);
  const g = new GraphBuilder({ name: 'conv-lora-multiclass-eval', seed: options.seed ?? 42 });
  const data = g.add('data', ClassIndexMasks, { params: readParams({ ...options, data: target.data }, { splits: [evaluationSplit(target.data, target.split)], shuffle: false }) });
  const resize = g.add('resize', ResizeSquareLabels, { params: { size }, inputs: { image: data.out.image, label: data.out.label } });
  const batch = g.add('batch', BatchLabels, { params: { size: options.batchSize ?? multiclassRecipe(options).batchSize }, inputs: { image: resize.out.image, label: resize.out.label } });
  const seg = addModel(g, options, arch, batch.out.images, `${target.checkpoint}/peft`);
  const infer = g.add('infer', MaskFormerInference, { params: { size }, inputs: { masks: seg.out.masks, classes: seg.out.classes } });
  addMetrics(g, classCount(options), infer.out.labels, batch.out.labels);
  return g.build();
}

/** The trained adapter on every image of a folder: a class-id PNG per image at its own size (and a colour one with palette). */
export function convLoraMulticlassPredict(options: ConvLoraMulticlassOptions, target: PredictTarget): Graph {
  const { arch, size } = resolvedArch(options);
  const g = new GraphBuilder({ name: 'conv-lora-multiclass-predict', seed: options.seed ?? 42 });
  const batch = addSquareImages(g, target.images, size, options.batchSize ?? multiclassRecipe(options).batchSize, options.skipCorrupt);
  const seg = addModel(g, options, arch, batch.out.images, `${target.checkpoint}/peft`);
  const infer = g.add('infer', MaskFormerInference, { params: { size }, inputs: { masks: seg.out.masks, classes: seg.out.classes } });
  g.add('write', WriteClassMasks, { params: { dir: target.out, classes: classCount(options), palette: target.palette ?? false }, inputs: { labels: infer.out.labels, infos: batch.out.infos } });
  return g.build();
}

