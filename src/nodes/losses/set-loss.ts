/**
 * Mask2Former-style set loss for multi-class segmentation with mask tokens (the Conv-LoRA
 * multi-class loss, HF `Mask2FormerLoss`): each image's ground-truth classes (one binary mask
 * per class present) are matched one-to-one to mask tokens by the Hungarian algorithm on
 *
 *   cost = costClass · (−softmax(class logits)[class]) + costMask · BCE(mask) + costDice · dice(mask)
 *
 * and then
 * - ce: cross-entropy of every token's class logits against its matched class, or "no object"
 *   (the last class) when unmatched; "no object" is weighted `noObjectWeight` (PyTorch's
 *   weighted mean: Σ w·nll / Σ w);
 * - mask: per matched pair the mean sigmoid BCE over the points, summed, / number of GT masks;
 * - dice: per matched pair 1 − (2Σpt + 1)/(Σp + Σt + 1) over the points, summed, / number of GT masks;
 * - loss = weights.ce · ce + weights.mask · mask + weights.dice · dice.
 *
 * Masks are scored at points, as HF does (point-sampling.ts): the matching at `points` uniform
 * points per image (shared by its tokens and targets); each matched pair's losses at PointRend's
 * importance-sampled points (`oversample` × points drawn, the `importance` share most uncertain
 * kept, the rest uniform). The prediction (low resolution, e.g. 256²) and the labels (any
 * resolution, e.g. 1024²) are both sampled bilinearly at the same normalised points, so the
 * labels need not be resized. `points: 0` scores every label pixel instead (the logits
 * upsampled bilinearly to the labels' size, F.interpolate's align_corners=False): exact, and
 * slow at 1024².
 *
 * Defaults are HF's (costs 1 / 5 / 5, no-object 0.1, 12,544 points, oversample 3, importance
 * 0.75). The loss weights default to 1 : 1 : 1 because HF's `Mask2FormerLoss.forward` returns the
 * raw terms (its `weight_dict` 10 / 5 / 5 is not applied) and the Conv-LoRA module sums them; the
 * spec marks this unverified, so the weights are params.
 *
 * Ignored pixels (LabelBatch −1) belong to no ground-truth mask: they are negatives for every
 * token, as Mask2Former's semantic mapper makes them. The official Conv-LoRA code removes 255 from
 * the class list but keeps a mask for it, which leaves one more target mask than target classes;
 * that quirk is not reproduced (the matcher's class and mask costs would not line up).
 *
 * ```ts
 * setLoss(maskLogits, classLogits, labels, { seed }); // [N, Q, h, w], [N, Q, K+1], [N, H, W, 1] int32
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { LabelBatch, Loss, MaskTokenLogits, TokenClassLogits } from '../ports.ts';
import { mixSeed } from '../random.ts';
import { linearSumAssignment } from './hungarian.ts';
import { bceWithLogits, zeroLoss } from './elementwise.ts';
import { diceLossRows } from './dice-loss.ts';
import { gatherPoints, pixelCentres, pointSamplingKernels, randomPoints, sampleClassMasks, sampleMaps, seededUniforms, uncertainPoints, uniformsFrom, type UniformSource } from './point-sampling.ts';

export interface SetLossOptions {
  readonly costClass?: number;
  readonly costMask?: number;
  readonly costDice?: number;
  readonly noObjectWeight?: number;
  readonly weights?: { readonly ce?: number; readonly mask?: number; readonly dice?: number };
  /** Label id of ignored pixels (LabelBatch: −1). */
  readonly ignoreIndex?: number;
  /** Points per mask (HF: 12,544); 0 scores every label pixel. */
  readonly points?: number;
  readonly oversample?: number;
  readonly importance?: number;
  /**
   * The uniform draws in [0, 1) (default: seeded by `seed`). They are taken in HF's order: for
   * each image in turn 2·points for the matching points (the matcher sees the whole batch first);
   * then per matched token, in image and token order, 2·points·oversample candidates and
   * 2·(points − ⌊importance·points⌋) uniform ones.
   */
  readonly random?: () => number;
  readonly seed?: number;
}

interface Sampling {
  readonly points: number;
  readonly oversample: number;
  readonly importance: number;
}

/** The ground-truth classes present in each image of a [N, H, W, 1] label batch (ascending); ids outside [0, K) must be the ignore id. */
export function presentClasses(labels: ArrayLike<number>, n: number, pixels: number, numClasses: number, ignoreIndex: number): number[][] {
  const out: number[][] = [];
  const seen = new Uint8Array(numClasses);
  for (let b = 0; b < n; b++) {
    seen.fill(0);
    for (let p = b * pixels; p < (b + 1) * pixels; p++) {
      const id = labels[p]!;
      if (id >= 0 && id < numClasses) seen[id] = 1;
      else if (id !== ignoreIndex) throw new Error(`setLoss: label ${id} in image ${b} is outside [0, ${numClasses}) and is not the ignore index ${ignoreIndex}`);
    }
    out.push(Array.from(seen.keys()).filter((k) => seen[k]));
  }
  return out;
}

/**
 * HF's pairwise matching cost [Q][T] from token mask logits sampled at P points [Q × P], the
 * targets at the same points [T × P], and each token's probability of each target's class. The
 * BCE term uses Σ_p BCE(x, t) = Σ_p softplus(x) − x·t, so one softplus per point and two matrix
 * products ([x; σ(x)] · tᵀ) give every pair's BCE and dice.
 */
export function matchingCost(pred: Float32Array, target: Float32Array, classProb: Float32Array, queries: number, targets: number, costs: { costClass: number; costMask: number; costDice: number }): number[][] {
  const points = pred.length / queries;
  const both = new Float32Array(2 * pred.length);
  both.set(pred);
  const softplusSum = new Float64Array(queries);
  const probSum = new Float64Array(queries);
  pointSamplingKernels().softplusSigmoid(pred, queries, points, both.subarray(pred.length), softplusSum, probSum);
  const targetSum = new Float64Array(targets);
  for (let j = 0; j < targets; j++) for (let p = 0; p < points; p++) targetSum[j]! += target[j * points + p]!;
  const products = tf.tidy(() => tf.matMul(tf.tensor2d(both, [2 * queries, points]), tf.tensor2d(target, [targets, points]), false, true).dataSync());
  const cost: number[][] = [];
  for (let q = 0; q < queries; q++) {
    const row: number[] = [];
    for (let j = 0; j < targets; j++) {
      const xt = products[q * targets + j]!;
      const pt = products[(queries + q) * targets + j]!;
      const bce = (softplusSum[q]! - xt) / points;
      const dice = 1 - (2 * pt + 1) / (probSum[q]! + targetSum[j]! + 1);
      row.push(costs.costMask * bce + costs.costDice * dice - costs.costClass * classProb[q * targets + j]!);
    }
    cost.push(row);
  }
  return cost;
}

/** Softmax of each row of `logits` [rows × k], float64 inside. */
function softmaxRows(logits: ArrayLike<number>, rows: number, k: number): Float32Array {
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[r * k + j]!);
    let z = 0;
    for (let j = 0; j < k; j++) z += Math.exp(logits[r * k + j]! - max);
    for (let j = 0; j < k; j++) out[r * k + j] = Math.exp(logits[r * k + j]! - max) / z;
  }
  return out;
}

export interface SetMatch {
  /** Per image: matched token indices (ascending) and the matched class ids, in token order. */
  readonly queries: number[][];
  readonly classes: number[][];
}

interface Shapes {
  readonly n: number;
  readonly q: number;
  readonly h: number;
  readonly w: number;
  readonly labelH: number;
  readonly labelW: number;
  readonly numLabels: number;
}

/** Hungarian matching of every image's tokens to its ground-truth classes (no gradient). */
function matchTokens(masks: Float32Array, classes: ArrayLike<number>, labels: Int32Array, present: readonly number[][], s: Shapes, sampling: Sampling, uniforms: UniformSource, costs: { costClass: number; costMask: number; costDice: number }): SetMatch {
  const out: SetMatch = { queries: [], classes: [] };
  const probs = softmaxRows(classes, s.n * s.q, s.numLabels);
  const all = sampling.points === 0;
  const centres = all ? pixelCentres(s.labelH, s.labelW) : undefined;
  const pixels = s.labelH * s.labelW;
  for (let b = 0; b < s.n; b++) {
    const targets = present[b]!;
    const points = centres ?? randomPoints(sampling.points, uniforms);
    if (!targets.length) {
      out.queries.push([]);
      out.classes.push([]);
      continue;
    }
    const offsets = Array.from({ length: s.q }, (_, i) => (b * s.q + i) * s.h * s.w);
    const pred = sampleMaps(masks, offsets, points, { h: s.h, w: s.w, clamp: all });
    const target = sampleClassMasks(labels.subarray(b * pixels, (b + 1) * pixels), { h: s.labelH, w: s.labelW, clamp: all }, targets, points);
    const classProb = new Float32Array(s.q * targets.length);
    for (let i = 0; i < s.q; i++) targets.forEach((c, j) => (classProb[i * targets.length + j] = probs[(b * s.q + i) * s.numLabels + c]!));
    const { rows, cols } = linearSumAssignment(matchingCost(pred, target, classProb, s.q, targets.length, costs));
    out.queries.push(rows);
    out.classes.push(cols.map((c) => targets[c]!));
  }
  return out;
}

export function setLoss(maskLogits: tf.Tensor4D, classLogits: tf.Tensor3D, labels: tf.Tensor4D, options: SetLossOptions = {}): tf.Scalar {
  const [n, q, h, w] = maskLogits.shape;
  if (classLogits.rank !== 3 || classLogits.shape[0] !== n || classLogits.shape[1] !== q || classLogits.shape[2] < 2) {
    throw new Error(`setLoss: class logits [${classLogits.shape.join(', ')}] must be [N, Q, K+1] with N, Q of the mask logits [${maskLogits.shape.join(', ')}]`);
  }
  if (labels.rank !== 4 || labels.shape[0] !== n || labels.shape[3] !== 1) {
    throw new Error(`setLoss: labels [${labels.shape.join(', ')}] must be [N, H, W, 1] with the N of the mask logits [${maskLogits.shape.join(', ')}]`);
  }
  const [, labelH, labelW] = labels.shape;
  const numLabels = classLogits.shape[2];
  const numClasses = numLabels - 1;
  const s: Shapes = { n, q, h, w, labelH, labelW, numLabels };
  const sampling: Sampling = { points: options.points ?? 12544, oversample: options.oversample ?? 3, importance: options.importance ?? 0.75 };
  if (!Number.isInteger(sampling.points) || sampling.points < 0) throw new Error(`setLoss: points must be a whole number ≥ 0 (0: every pixel), got ${sampling.points}`);
  const uniforms = options.random ? uniformsFrom(options.random) : seededUniforms(options.seed ?? 0);
  const labelIds = Int32Array.from(labels.dataSync());
  const present = presentClasses(labelIds, n, labelH * labelW, numClasses, options.ignoreIndex ?? -1);
  const masks = maskLogits.dataSync() as Float32Array;
  const costs = { costClass: options.costClass ?? 1, costMask: options.costMask ?? 5, costDice: options.costDice ?? 5 };
  const match = matchTokens(masks, classLogits.dataSync(), labelIds, present, s, sampling, uniforms, costs);
  const weights = { ce: options.weights?.ce ?? 1, mask: options.weights?.mask ?? 1, dice: options.weights?.dice ?? 1 };
  const noObject = options.noObjectWeight ?? 0.1;

  const targetClass = new Int32Array(n * q).fill(numClasses);
  match.queries.forEach((qs, b) => qs.forEach((qi, j) => (targetClass[b * q + qi] = match.classes[b]![j]!)));
  const ceWeight = Float32Array.from(targetClass, (c) => (c === numClasses ? noObject : 1));
  const numMasks = Math.max(present.reduce((sum, t) => sum + t.length, 0), 1);

  // Each matched pair's points, drawn in token order (the documented order of `random`).
  const offsets: number[] = [];
  const pairs: { b: number; cls: number }[] = [];
  match.queries.forEach((qs, b) => qs.forEach((qi, j) => (offsets.push((b * q + qi) * h * w), pairs.push({ b, cls: match.classes[b]![j]! }))));
  const all = sampling.points === 0;
  const count = all ? labelH * labelW : sampling.points;
  const shared = all ? pixelCentres(labelH, labelW) : undefined;
  const points = shared ?? new Float32Array(2 * count * offsets.length);
  if (!shared) offsets.forEach((offset, m) => points.set(uncertainPoints(masks, offset, h, w, sampling, uniforms), 2 * count * m));
  const labelGrid = { h: labelH, w: labelW, clamp: all };
  const truthData = new Float32Array(offsets.length * count);
  const pixels = labelH * labelW;
  pairs.forEach(({ b, cls }, m) => {
    const at = shared ?? points.subarray(2 * count * m, 2 * count * (m + 1));
    truthData.set(sampleClassMasks(labelIds.subarray(b * pixels, (b + 1) * pixels), labelGrid, [cls], at), m * count);
  });

  return tf.tidy(() => {
    const logp = tf.reshape(tf.logSoftmax(classLogits), [n * q, numLabels]);
    const nll = tf.neg(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(targetClass, 'int32'), numLabels), logp), 1));
    const wsum = ceWeight.reduce((a, v) => a + v, 0);
    const ce = tf.div(tf.sum(tf.mul(nll, tf.tensor1d(ceWeight))), wsum);
    let total = tf.mul(ce, weights.ce);
    if (offsets.length > 0) {
      const picked = gatherPoints(tf.reshape(maskLogits, [-1]) as tf.Tensor1D, offsets, points, { h, w, clamp: all }, !shared);
      const truth = tf.tensor2d(truthData, [offsets.length, count]);
      const maskLoss = tf.div(tf.sum(tf.mean(bceWithLogits(picked, truth), 1)), numMasks);
      const diceLoss = tf.div(tf.sum(diceLossRows(picked, truth)), numMasks);
      total = tf.add(total, tf.add(tf.mul(maskLoss, weights.mask), tf.mul(diceLoss, weights.dice)));
    } else {
      // Keep the mask logits on the tape (zero gradient) when no image has a ground-truth class.
      total = tf.add(total, zeroLoss(maskLogits));
    }
    return total as tf.Scalar;
  });
}

export const SetLoss = defineNode({
  kind: 'losses/set',
  description: 'Mask2Former-style set loss: Hungarian matching of mask tokens to GT classes, then CE + mask BCE + dice',
  placement: 'worker',
  inputs: { masks: MaskTokenLogits, classes: TokenClassLogits, labels: LabelBatch },
  outputs: { loss: Loss },
  params: z.object({
    costClass: z.number().min(0).default(1).describe('matching cost weight of −p(class)'),
    costMask: z.number().min(0).default(5).describe('matching cost weight of the mask BCE'),
    costDice: z.number().min(0).default(5).describe('matching cost weight of the mask dice'),
    noObjectWeight: z.number().min(0).default(0.1).describe('CE weight of the "no object" class'),
    ceWeight: z.number().min(0).default(1),
    maskWeight: z.number().min(0).default(1),
    diceWeight: z.number().min(0).default(1),
    ignoreIndex: z.number().int().default(-1).describe('label id of ignored pixels'),
    points: z.number().int().min(0).default(12544).describe('points per mask at which masks are scored (HF 12,544); 0 scores every label pixel'),
    oversample: z.number().min(1).default(3).describe('importance sampling: candidate points per kept point'),
    importance: z.number().min(0).max(1).default(0.75).describe('importance sampling: share of the points taken where the prediction is least certain'),
  }),
  worker: {
    create: (p, ctx) => ({
      forward: ({ masks, classes, labels }, step) => ({
        loss: setLoss(masks, classes, labels, {
          costClass: p.costClass,
          costMask: p.costMask,
          costDice: p.costDice,
          noObjectWeight: p.noObjectWeight,
          weights: { ce: p.ceWeight, mask: p.maskWeight, dice: p.diceWeight },
          ignoreIndex: p.ignoreIndex,
          points: p.points,
          oversample: p.oversample,
          importance: p.importance,
          // The draws are a function of (seed, epoch, item), so a resumed run replays them.
          seed: mixSeed(ctx.seed, step.meta.epoch, step.meta.index),
        }),
      }),
    }),
  },
});
