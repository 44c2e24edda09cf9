/**
 * `sam-pretrain`: a SAM-architecture model trained from scratch the way SAM was, in miniature
 * (Kirillov et al. 2023, §3 and appendix A): generic synthetic scenes with many occluding objects
 * (data/synthetic-generic), several objects per scene as targets, other ones each epoch, each a
 * random point or noisy box prompt, multimask output with the lowest-loss mask trained by focal +
 * dice at 20:1, the IoU head by MSE (sam/prompted); every parameter trains (AdamW with SAM's
 * weight decay 0.1, linear warmup, cosine decay). Validation scores the centre-point prompt.
 *
 * `samPretrainEvaluate` scores a model (a checkpoint file, or the run's untrained initialisation)
 * on held-out test scenes with the single centre point: SAM's zero-shot point protocol.
 */
import { GraphBuilder, type Graph } from '../src/graph/graph.ts';
import { InjectAdapter } from '../src/nodes/adapters/inject-node.ts';
import { BatchLabels } from '../src/nodes/data/batch.ts';
import { SyntheticGeneric } from '../src/nodes/data/synthetic-generic.ts';
import { BinaryMetrics } from '../src/nodes/metrics/binary-set.ts';
import { maskTokenCount } from '../src/nodes/sam/mask-tokens.ts';
import { resolveSamConfig, SAM_PRESETS, type SamConfig } from '../src/nodes/sam/config.ts';
import { SamModelNode } from '../src/nodes/sam/model-node.ts';
import { SamPrompted } from '../src/nodes/sam/pretrain-node.ts';
import { Adam } from '../src/nodes/train/adam.ts';

/**
 * The base the main job fine-tunes: SAM's architecture at 64 px with 8 px patches (an 8x8 token
 * grid), 3 encoder blocks of width 48. conv-lora-binary's SMALL_SAM (16x16 tokens, 4 blocks of
 * 96) does not get past the empty-mask plateau in minutes on two cores (measured: val point IoU
 * still 0 after 350 steps, 4 minutes); this one learns promptable segmentation in that time.
 */
export const PRETRAIN_SAM: SamConfig = {
  ...SAM_PRESETS.vit_b,
  image_size: 64,
  patch_size: 8,
  encoder_embed_dim: 48,
  encoder_depth: 3,
  encoder_num_heads: 3,
  encoder_global_attn_indexes: [1, 2],
  window_size: 4,
  prompt_embed_dim: 32,
  decoder_mlp_dim: 128,
  decoder_num_heads: 2,
  iou_head_hidden_dim: 32,
};

export interface SamPretrainOptions {
  /** A preset name or a config (default PRETRAIN_SAM). */
  readonly arch?: string | SamConfig | Record<string, unknown>;
  readonly epochs?: number;
  /** Training scenes per epoch (each epoch picks another object of each). */
  readonly train?: number;
  readonly val?: number;
  readonly batchSize?: number;
  readonly lr?: number;
  readonly weightDecay?: number;
  readonly warmupSteps?: number;
  readonly boxShare?: number;
  /** Objects prompted per scene per step. */
  readonly prompts?: number;
  /** Objects drawn per scene [fewest, most] and the smallest radius (fraction of the side): the scenes' difficulty. */
  readonly objects?: readonly [number, number];
  readonly minScale?: number;
  readonly seed?: number;
}

/**
 * The defaults: 1,200 steps of 8 scenes (about 3.5 minutes on two CPU cores for PRETRAIN_SAM), on
 * scenes of 2 to 6 objects no smaller than a tenth of the side: the generator's default range
 * (4 to 9, down to 6 %) is harder than this budget learns.
 */
export const PRETRAIN_DEFAULTS = { epochs: 12, train: 800, val: 32, batchSize: 8, lr: 2e-3, weightDecay: 0.1, boxShare: 0.5, prompts: 1, objects: [2, 6] as readonly [number, number], minScale: 0.1, seed: 0 };

export function pretrainSettings(options: SamPretrainOptions) {
  const arch = typeof options.arch === 'string' ? resolveSamConfig(options.arch, "option 'arch'") : resolveSamConfig(options.arch ?? PRETRAIN_SAM, "option 'arch'");
  const s = { ...PRETRAIN_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)), arch };
  const steps = Math.ceil(s.train / s.batchSize) * s.epochs;
  return { ...s, totalSteps: steps, warmupSteps: options.warmupSteps ?? Math.floor(steps / 20) };
}

function addModel(g: GraphBuilder, arch: SamConfig, checkpoint?: string) {
  const sam = g.add('sam', SamModelNode, { params: { arch, ...(checkpoint ? { checkpoint } : {}) } });
  return sam;
}

export function samPretrain(options: SamPretrainOptions = {}): Graph {
  const s = pretrainSettings(options);
  if (maskTokenCount(s.arch) < 2) throw new Error("option 'arch': promptable pre-training needs the multimask output (num_multimask_outputs >= 1)");
  const g = new GraphBuilder({ name: 'sam-pretrain', seed: s.seed });
  const data = g.add('data', SyntheticGeneric, { params: { size: s.arch.image_size, train: s.train, val: s.val, epochs: s.epochs, objects: [...s.objects], minScale: s.minScale } });
  const batch = g.add('batch', BatchLabels, { params: { size: s.batchSize }, inputs: { image: data.out.image, label: data.out.instances } });
  const sam = addModel(g, s.arch);
  // Everything trains: the whole table of mask tokens and the IoU head too.
  const full = g.add('peft', InjectAdapter, { params: { method: 'full', maskTokens: maskTokenCount(s.arch), freezeIouHead: false }, inputs: { model: sam.out.model } });
  const prompted = g.add('prompted', SamPrompted, { params: { prompts: s.prompts, boxShare: s.boxShare }, inputs: { model: full.out.model, images: batch.out.images, labels: batch.out.labels } });
  g.add('optimizer', Adam, {
    params: { lr: s.lr, weightDecay: s.weightDecay, clipNorm: 1, schedule: 'cosine', warmupSteps: s.warmupSteps, totalSteps: s.totalSteps, divergeFactor: 100 },
    inputs: { loss: prompted.out.loss },
  });
  g.add('metrics', BinaryMetrics, { params: { metrics: ['iou'] }, inputs: { probs: prompted.out.probs, masks: prompted.out.masks } });
  return g.build();
}

/**
 * Centre-point IoU on `test` held-out scenes of the pre-training set (seeds its train and val
 * never use). Without `checkpoint` the model is the pre-training's initialisation for the same
 * options (same graph seed and node names), i.e. the untrained model.
 */
export function samPretrainEvaluate(options: SamPretrainOptions & { checkpoint?: string; test?: number }): Graph {
  const s = pretrainSettings(options);
  const g = new GraphBuilder({ name: 'sam-pretrain-eval', seed: s.seed });
  const data = g.add('data', SyntheticGeneric, { params: { size: s.arch.image_size, train: 1, val: 0, epochs: 1, test: options.test ?? 64, testOnly: true, objects: [...s.objects], minScale: s.minScale } });
  const batch = g.add('batch', BatchLabels, { params: { size: s.batchSize }, inputs: { image: data.out.image, label: data.out.instances } });
  const sam = addModel(g, s.arch, options.checkpoint);
  const prompted = g.add('prompted', SamPrompted, { params: { prompts: s.prompts }, inputs: { model: sam.out.model, images: batch.out.images, labels: batch.out.labels } });
  g.add('metrics', BinaryMetrics, { params: { metrics: ['iou', 'dice'] }, inputs: { probs: prompted.out.probs, masks: prompted.out.masks } });
  return g.build();
}
