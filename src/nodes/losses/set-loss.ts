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
import { COMPACT_IGNORE, importancePoints, pixelCentres, pointSamplingKernels, randomPoints, sampleMaps, seededUniforms, spare, uniformsFrom, type LabelIds, type UniformSource } from './point-sampling.ts';

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

/**
 * The ground-truth classes present in each image of a [N, H, W, 1] label batch (ascending); ids
 * outside [0, K) must be the ignore id. With `compact`, the labels are also written there as bytes.
 */
export function presentClasses(labels: Int32Array, n: number, pixels: number, numClasses: number, ignoreIndex: number, compact?: Uint8Array): number[][] {
  const present = new Uint8Array(n * numClasses);
  const stray = pointSamplingKernels().presentClasses(labels.subarray(0, n * pixels), n, numClasses, ignoreIndex, present, compact);
  if (stray >= 0) throw new Error(`setLoss: label ${labels[stray]} in image ${Math.floor(stray / pixels)} is outside [0, ${numClasses}) and is not the ignore index ${ignoreIndex}`);
  return Array.from({ length: n }, (_, b) => Array.from({ length: numClasses }, (_, k) => k).filter((k) => present[b * numClasses + k]));
}

/** The softmax of each row of class logits [rows × k] and each row's log-normaliser, in float64: the matching's class cost and the class term both read them. */
interface ClassSoftmax {
  readonly logits: ArrayLike<number>;
  readonly k: number;
  readonly probs: Float64Array;
  readonly logZ: Float64Array;
}

function softmaxRows(logits: ArrayLike<number>, rows: number, k: number): ClassSoftmax {
  const probs = new Float64Array(rows * k);
  const logZ = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[r * k + j]!);
    let z = 0;
    for (let j = 0; j < k; j++) z += Math.exp(logits[r * k + j]! - max);
    logZ[r] = max + Math.log(z);
    for (let j = 0; j < k; j++) probs[r * k + j] = Math.exp(logits[r * k + j]! - logZ[r]!);
  }
  return { logits, k, probs, logZ };
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
function matchTokens(masks: Float32Array, probs: Float64Array, labels: LabelIds, present: readonly number[][], s: Shapes, sampling: Sampling, centres: Float32Array | undefined, uniforms: UniformSource, costs: { costClass: number; costMask: number; costDice: number }): SetMatch {
  const out: SetMatch = { queries: [], classes: [] };
  const all = centres !== undefined;
  const pixels = s.labelH * s.labelW;
  for (let b = 0; b < s.n; b++) {
    const targets = present[b]!;
    const points = centres ?? randomPoints(sampling.points, uniforms);
    if (!targets.length) {
      out.queries.push([]);
      out.classes.push([]);
      continue;
    }
    const offsets = Float64Array.from({ length: s.q }, (_, i) => (b * s.q + i) * s.h * s.w);
    // class id → its column (ids are small: label maps hold 0..254)
    const slot = new Int32Array(targets[targets.length - 1]! + 1).fill(-1);
    targets.forEach((c, j) => (slot[c] = j));
    const bce = new Float64Array(s.q * targets.length);
    const dice = new Float64Array(s.q * targets.length);
    pointSamplingKernels().matchingCosts(masks, offsets, points, s.h, s.w, labels.subarray(b * pixels, (b + 1) * pixels), s.labelH, s.labelW, all, slot, bce, dice);
    const cost = Array.from({ length: s.q }, (_, i) =>
      targets.map((c, j) => costs.costMask * bce[i * targets.length + j]! + costs.costDice * dice[i * targets.length + j]! - costs.costClass * probs[(b * s.q + i) * s.numLabels + c]!),
    );
    const { rows, cols } = linearSumAssignment(cost);
    out.queries.push(rows);
    out.classes.push(cols.map((c) => targets[c]!));
  }
  return out;
}

/** The matched pairs' maps, scored at points: row r is map `offsets[r]` against class `classes[r]` of the label map at `labelOffsets[r]`. */
interface PointPairs {
  readonly offsets: Float64Array;
  readonly labelOffsets: Float64Array;
  readonly classes: Int32Array;
  /** `count` points shared by every row, or `count` per row. */
  readonly points: Float32Array;
  readonly perRow: boolean;
  readonly count: number;
  /** Each row's map at its points [rows × count]. */
  readonly logits: Float32Array;
}

/**
 * The mask and dice terms at the pairs' points, weights.mask · Σ mean BCE / numMasks +
 * weights.dice · Σ dice / numMasks, differentiable in the mask logits. The logits at the points
 * come with them; one kernel samples the truth there and sums the terms, and the gradient,
 * non-zero only at the points' neighbours, is written by another straight into an array that is
 * zero outside the matched tokens' maps (recycled by the native backend): no dense intermediate
 * exists.
 */
function pointMaskLoss(maskLogits: tf.Tensor4D, labels: LabelIds, pairs: PointPairs, s: Shapes, clamp: boolean, weights: { mask: number; dice: number }, numMasks: number): tf.Scalar {
  const rows = pairs.offsets.length;
  const { logits } = pairs;
  const truth = spare.take(rows * pairs.count);
  const stats = new Float64Array(4 * rows);
  if (rows > 0) pointSamplingKernels().pointLoss(logits, pairs.points, pairs.perRow, labels, pairs.labelOffsets, pairs.classes, s.labelH, s.labelW, clamp, truth, stats);
  let value = 0;
  // stats[r] = (Σ BCE, Σp, Σp·t, Σt)
  for (let r = 0; r < rows; r++) {
    const dice = 1 - (2 * stats[4 * r + 2]! + 1) / (stats[4 * r + 1]! + stats[4 * r + 3]! + 1);
    value += (weights.mask * stats[4 * r]!) / pairs.count / numMasks + (weights.dice * dice) / numMasks;
  }
  const op = tf.customGrad((x) => ({
    value: tf.scalar(value),
    gradFunc: (dy) => {
      const g = (dy as tf.Tensor).dataSync()[0]!;
      // Per row, d/dx = a·(p − t) + (b·t + c)·p(1 − p): the BCE mean's and the dice's derivatives.
      const coefficients = new Float64Array(3 * rows);
      for (let r = 0; r < rows; r++) {
        const denominator = stats[4 * r + 1]! + stats[4 * r + 3]! + 1;
        coefficients[3 * r] = (g * weights.mask) / (pairs.count * numMasks);
        coefficients[3 * r + 1] = (-2 * g * weights.dice) / (numMasks * denominator);
        coefficients[3 * r + 2] = (g * weights.dice * (2 * stats[4 * r + 2]! + 1)) / (numMasks * denominator * denominator);
      }
      const dx = pointSamplingKernels().gradientArray((x as tf.Tensor).size, pairs.offsets, s.h * s.w);
      if (rows > 0) pointSamplingKernels().pointLossGrad(dx, pairs.offsets, pairs.points, pairs.perRow, s.h, s.w, clamp, logits, truth, coefficients);
      spare.giveBack(pairs.points, logits, truth);
      return tf.tensor(dx, (x as tf.Tensor).shape);
    },
  }));
  return op(maskLogits) as tf.Scalar;
}

// The compact labels of the batch in hand, reused from call to call (4 MB at 4 × 1024², which
// fresh would cost its page faults every step): only a forward reads them, and within its call.
let reusedCompact = new Uint8Array(0);

function compactLabels(size: number): Uint8Array {
  if (reusedCompact.length < size) reusedCompact = new Uint8Array(size);
  return reusedCompact.subarray(0, size);
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
  // Read in place where the backend holds int32 labels as an Int32Array (cpu, native): 4 × 1024² is 16 MB.
  const labelData = labels.dataSync();
  const labelIds = labelData instanceof Int32Array ? labelData : Int32Array.from(labelData);
  const pixels = labelH * labelW;
  // The kernels read the labels as bytes where the classes fit: a 1024² map then fits in L2.
  const compact = numClasses <= COMPACT_IGNORE ? compactLabels(n * pixels) : undefined;
  const present = presentClasses(labelIds, n, pixels, numClasses, options.ignoreIndex ?? -1, compact);
  const ids = compact ?? labelIds;
  const masks = maskLogits.dataSync() as Float32Array;
  const costs = { costClass: options.costClass ?? 1, costMask: options.costMask ?? 5, costDice: options.costDice ?? 5 };
  const softmax = softmaxRows(classLogits.dataSync(), n * q, numLabels);
  // Every label pixel's centre (points: 0), shared by the matching and the losses.
  const all = sampling.points === 0;
  const centres = all ? pixelCentres(labelH, labelW) : undefined;
  const match = matchTokens(masks, softmax.probs, ids, present, s, sampling, centres, uniforms, costs);
  const weights = { ce: options.weights?.ce ?? 1, mask: options.weights?.mask ?? 1, dice: options.weights?.dice ?? 1 };
  const noObject = options.noObjectWeight ?? 0.1;

  const targetClass = new Int32Array(n * q).fill(numClasses);
  match.queries.forEach((qs, b) => qs.forEach((qi, j) => (targetClass[b * q + qi] = match.classes[b]![j]!)));
  const ceWeight = Float32Array.from(targetClass, (c) => (c === numClasses ? noObject : 1));
  const numMasks = Math.max(present.reduce((sum, t) => sum + t.length, 0), 1);

  // Each matched pair's points, drawn in token order (the documented order of `random`).
  const images = match.queries.flatMap((qs, b) => qs.map(() => b));
  const offsets = Float64Array.from(match.queries.flatMap((qs, b) => qs.map((qi) => (b * q + qi) * h * w)));
  const sampled = centres ? { points: centres, logits: sampleMaps(masks, offsets, centres, { h, w, clamp: true }) } : importancePoints(masks, offsets, h, w, sampling, uniforms);
  const pairs: PointPairs = {
    offsets,
    labelOffsets: Float64Array.from(images, (b) => b * pixels),
    classes: Int32Array.from(match.classes.flat()),
    perRow: !all,
    count: all ? pixels : sampling.points,
    ...sampled,
  };

  return tf.tidy(() =>
    // With no matched pair the mask logits still get their (zero) gradient.
    tf.add(classLoss(classLogits, softmax, targetClass, ceWeight, weights.ce), pointMaskLoss(maskLogits, ids, pairs, s, all, weights, numMasks)) as tf.Scalar,
  );
}

/**
 * weight · Σ w·nll / Σ w over every token's class logits (PyTorch's weighted mean cross-entropy),
 * in float64, with its gradient weight · w/Σw · (softmax − onehot): one op for what is a few
 * hundred rows, where the tensor ops and their gradients cost more than the arithmetic.
 */
function classLoss(classLogits: tf.Tensor3D, softmax: ClassSoftmax, targetClass: Int32Array, ceWeight: Float32Array, weight: number): tf.Scalar {
  const { logits, k, probs, logZ } = softmax;
  const wsum = ceWeight.reduce((a, v) => a + v, 0);
  let value = 0;
  for (let r = 0; r < targetClass.length; r++) value += ceWeight[r]! * (logZ[r]! - logits[r * k + targetClass[r]!]!);
  const op = tf.customGrad((x) => ({
    value: tf.scalar((weight * value) / wsum),
    gradFunc: (dy) => {
      const g = ((dy as tf.Tensor).dataSync()[0]! * weight) / wsum;
      const grad = new Float32Array(probs.length);
      for (let i = 0; i < grad.length; i++) {
        const r = Math.floor(i / k);
        grad[i] = g * ceWeight[r]! * (probs[i]! - (i - r * k === targetClass[r] ? 1 : 0));
      }
      return tf.tensor(grad, (x as tf.Tensor).shape);
    },
  }));
  return op(classLogits) as tf.Scalar;
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
