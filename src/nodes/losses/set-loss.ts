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
 * - mask: per matched pair the mean sigmoid BCE over pixels, summed, / number of GT masks;
 * - dice: per matched pair 1 − (2Σpt + 1)/(Σp + Σt + 1), summed, / number of GT masks;
 * - loss = weights.ce · ce + weights.mask · mask + weights.dice · dice.
 *
 * Defaults are HF's (costs 1 / 5 / 5, no-object 0.1). The loss weights default to 1 : 1 : 1
 * because HF's `Mask2FormerLoss.forward` returns the raw terms (its `weight_dict` is not
 * applied) and the Conv-LoRA module sums them.
 *
 * Differences from HF, chosen on purpose: costs and losses use every pixel instead of 12,544
 * randomly / importance-sampled points (deterministic, and tfjs has no differentiable
 * grid_sample); ignored pixels belong to no ground-truth mask (negatives for every token), as
 * Mask2Former's semantic mapper does; the official code's quirk of keeping a mask for id 255
 * is not reproduced.
 *
 * ```ts
 * setLoss(maskLogits, classLogits, labels); // [N, Q, H, W], [N, Q, K+1], [N, H, W, 1] int32
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { LabelBatch, Loss, MaskTokenLogits, TokenClassLogits } from '../ports.ts';
import { linearSumAssignment } from './hungarian.ts';
import { bceWithLogits, zeroLoss } from './elementwise.ts';
import { diceLossRows } from './dice-loss.ts';

export interface SetLossOptions {
  readonly costClass?: number;
  readonly costMask?: number;
  readonly costDice?: number;
  readonly noObjectWeight?: number;
  readonly weights?: { readonly ce?: number; readonly mask?: number; readonly dice?: number };
  /** Label id of ignored pixels (LabelBatch: −1). */
  readonly ignoreIndex?: number;
}

/** One image's targets: the classes present (ascending) and, per pixel, its class's index in that list (−1: none). */
export interface ImageTargets {
  readonly classes: number[];
  readonly slot: Int32Array;
}

/** Ground-truth classes of each image of a [N, H, W, 1] label batch; ids outside [0, K) must be the ignore id. */
export function imageTargets(labels: ArrayLike<number>, n: number, pixels: number, numClasses: number, ignoreIndex: number): ImageTargets[] {
  const out: ImageTargets[] = [];
  for (let b = 0; b < n; b++) {
    const present = new Set<number>();
    for (let p = 0; p < pixels; p++) {
      const id = labels[b * pixels + p]!;
      if (id === ignoreIndex) continue;
      if (!Number.isInteger(id) || id < 0 || id >= numClasses) {
        throw new Error(`setLoss: label ${id} in image ${b} is outside [0, ${numClasses}) and is not the ignore index ${ignoreIndex}`);
      }
      present.add(id);
    }
    const classes = [...present].sort((a, c) => a - c);
    const index = new Map(classes.map((c, i) => [c, i]));
    const slot = new Int32Array(pixels).fill(-1);
    for (let p = 0; p < pixels; p++) slot[p] = index.get(labels[b * pixels + p]!) ?? -1;
    out.push({ classes, slot });
  }
  return out;
}

function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/**
 * The matching cost matrix [Q][T] of one image: mask logits [Q × P] (row-major), class logits
 * [Q × (K+1)], and its targets.
 */
export function matchingCost(
  masks: ArrayLike<number>,
  classes: ArrayLike<number>,
  queries: number,
  pixels: number,
  numLabels: number,
  targets: ImageTargets,
  costs: { costClass: number; costMask: number; costDice: number },
): number[][] {
  const t = targets.classes.length;
  const area = new Float64Array(t);
  for (let p = 0; p < pixels; p++) if (targets.slot[p]! >= 0) area[targets.slot[p]!]!++;
  const cost: number[][] = [];
  for (let q = 0; q < queries; q++) {
    // softmax over the token's class logits
    let max = -Infinity;
    for (let k = 0; k < numLabels; k++) max = Math.max(max, classes[q * numLabels + k]!);
    let z = 0;
    for (let k = 0; k < numLabels; k++) z += Math.exp(classes[q * numLabels + k]! - max);
    // per-target sums over the target's pixels, plus totals over all pixels
    const posIn = new Float64Array(t); // Σ_{p∈t} softplus(−x)   (BCE against 1)
    const negIn = new Float64Array(t); // Σ_{p∈t} softplus(x)    (BCE against 0)
    const probIn = new Float64Array(t); // Σ_{p∈t} σ(x)
    let negAll = 0;
    let probAll = 0;
    for (let p = 0; p < pixels; p++) {
      const x = masks[q * pixels + p]!;
      const spNeg = softplus(-x);
      const spPos = x + spNeg; // softplus(x) = x + softplus(−x)
      const prob = 1 / (1 + Math.exp(-x));
      negAll += spPos;
      probAll += prob;
      const s = targets.slot[p]!;
      if (s >= 0) {
        posIn[s]! += spNeg;
        negIn[s]! += spPos;
        probIn[s]! += prob;
      }
    }
    const row: number[] = [];
    for (let j = 0; j < t; j++) {
      const costClass = -Math.exp(classes[q * numLabels + targets.classes[j]!]! - max) / z;
      const costMask = (posIn[j]! + negAll - negIn[j]!) / pixels;
      const costDice = 1 - (2 * probIn[j]! + 1) / (probAll + area[j]! + 1);
      row.push(costs.costMask * costMask + costs.costClass * costClass + costs.costDice * costDice);
    }
    cost.push(row);
  }
  return cost;
}

export interface SetMatch {
  /** Per image: matched token indices and the matched class ids, in token order. */
  readonly queries: number[][];
  readonly classes: number[][];
}

/** Hungarian matching of every image's tokens to its ground-truth classes (no gradient). */
export function matchTokens(maskLogits: tf.Tensor4D, classLogits: tf.Tensor3D, targets: readonly ImageTargets[], options: SetLossOptions = {}): SetMatch {
  const [n, q, h, w] = maskLogits.shape;
  const numLabels = classLogits.shape[2];
  const masks = maskLogits.dataSync();
  const classes = classLogits.dataSync();
  const pixels = h * w;
  const costs = { costClass: options.costClass ?? 1, costMask: options.costMask ?? 5, costDice: options.costDice ?? 5 };
  const out: SetMatch = { queries: [], classes: [] };
  for (let b = 0; b < n; b++) {
    const cost = matchingCost(
      masks.subarray(b * q * pixels, (b + 1) * q * pixels),
      classes.subarray(b * q * numLabels, (b + 1) * q * numLabels),
      q,
      pixels,
      numLabels,
      targets[b]!,
      costs,
    );
    const { rows, cols } = linearSumAssignment(cost);
    out.queries.push(rows);
    out.classes.push(cols.map((c) => targets[b]!.classes[c]!));
  }
  return out;
}

export function setLoss(maskLogits: tf.Tensor4D, classLogits: tf.Tensor3D, labels: tf.Tensor4D, options: SetLossOptions = {}): tf.Scalar {
  const [n, q, h, w] = maskLogits.shape;
  if (classLogits.rank !== 3 || classLogits.shape[0] !== n || classLogits.shape[1] !== q || classLogits.shape[2] < 2) {
    throw new Error(`setLoss: class logits [${classLogits.shape.join(', ')}] must be [N, Q, K+1] with N, Q of the mask logits [${maskLogits.shape.join(', ')}]`);
  }
  if (labels.rank !== 4 || labels.shape[0] !== n || labels.shape[1] !== h || labels.shape[2] !== w || labels.shape[3] !== 1) {
    throw new Error(`setLoss: labels [${labels.shape.join(', ')}] must be [N, H, W, 1] matching the mask logits [${maskLogits.shape.join(', ')}] (resize one to the other first)`);
  }
  const numLabels = classLogits.shape[2];
  const numClasses = numLabels - 1;
  const pixels = h * w;
  const targets = imageTargets(labels.dataSync(), n, pixels, numClasses, options.ignoreIndex ?? -1);
  const match = matchTokens(maskLogits, classLogits, targets, options);
  const weights = { ce: options.weights?.ce ?? 1, mask: options.weights?.mask ?? 1, dice: options.weights?.dice ?? 1 };
  const noObject = options.noObjectWeight ?? 0.1;

  // Constant selections built here, so the differentiable part is matMuls and reductions only
  // (tfjs lacks gather gradients on wasm and gatherND gradients everywhere).
  const targetClass = new Int32Array(n * q).fill(numClasses);
  match.queries.forEach((qs, b) => qs.forEach((qi, j) => (targetClass[b * q + qi] = match.classes[b]![j]!)));
  const ceWeight = Float32Array.from(targetClass, (c) => (c === numClasses ? noObject : 1));
  const matched = match.queries.reduce((s, qs) => s + qs.length, 0);
  const numMasks = Math.max(targets.reduce((s, t) => s + t.classes.length, 0), 1);
  const select = new Float32Array(matched * n * q);
  const targetMasks = new Float32Array(matched * pixels);
  let m = 0;
  match.queries.forEach((qs, b) => {
    qs.forEach((qi, j) => {
      select[m * n * q + b * q + qi] = 1;
      const slotIndex = targets[b]!.classes.indexOf(match.classes[b]![j]!);
      const slot = targets[b]!.slot;
      for (let p = 0; p < pixels; p++) if (slot[p] === slotIndex) targetMasks[m * pixels + p] = 1;
      m++;
    });
  });

  return tf.tidy(() => {
    const logp = tf.reshape(tf.logSoftmax(classLogits), [n * q, numLabels]);
    const nll = tf.neg(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(targetClass, 'int32'), numLabels), logp), 1));
    const wsum = ceWeight.reduce((s, v) => s + v, 0);
    const ce = tf.div(tf.sum(tf.mul(nll, tf.tensor1d(ceWeight))), wsum);
    let total = tf.mul(ce, weights.ce);
    if (matched > 0) {
      const picked = tf.matMul(tf.tensor2d(select, [matched, n * q]), tf.reshape(maskLogits, [n * q, pixels]));
      const truth = tf.tensor2d(targetMasks, [matched, pixels]);
      const maskLoss = tf.div(tf.sum(tf.mean(bceWithLogits(picked, truth), 1)), numMasks);
      const diceLoss = tf.div(tf.sum(diceLossRows(picked as tf.Tensor2D, truth)), numMasks);
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
  }),
  worker: {
    create: (p) => ({
      forward: ({ masks, classes, labels }) => ({
        loss: setLoss(masks, classes, labels, {
          costClass: p.costClass,
          costMask: p.costMask,
          costDice: p.costDice,
          noObjectWeight: p.noObjectWeight,
          weights: { ce: p.ceWeight, mask: p.maskWeight, dice: p.diceWeight },
          ignoreIndex: p.ignoreIndex,
        }),
      }),
    }),
  },
});
