/**
 * SAM's promptable training loss (Kirillov et al. 2023, §3 "Losses and training"): each output
 * mask scored by focal + dice at 20:1, only the lowest-loss mask back-propagated (so the three
 * multimask outputs may specialise on whole / part / sub-part of an ambiguous prompt), and the IoU
 * head regressed by mean squared error onto each predicted mask's IoU with the ground truth
 * (the mask thresholded at logit 0; a target, so no gradient flows through it).
 */
import * as tf from '@tensorflow/tfjs';
import { diceLossRows } from '../losses/dice-loss.ts';
import { checkShape } from '../losses/elementwise.ts';
import { focalLossRows, type FocalOptions } from '../losses/focal.ts';

export interface PromptableLossWeights {
  readonly focal: number;
  readonly dice: number;
  readonly iou: number;
}

export const SAM_LOSS_WEIGHTS: PromptableLossWeights = { focal: 20, dice: 1, iou: 1 };

export interface PromptableLoss {
  /** Summed over the samples (callers divide by the batch, so groups of a batch add up). */
  readonly mask: tf.Scalar;
  readonly iou: tf.Scalar;
  /** Index of the lowest-loss mask per sample, [n]. */
  readonly best: tf.Tensor1D;
}

/** logits [n, h, w, K] (K output masks), predicted IoU [n, K], targets [n, h, w, 1] in {0, 1}. */
export function promptableLoss(logits: tf.Tensor4D, iouPred: tf.Tensor2D, targets: tf.Tensor4D, w: PromptableLossWeights = SAM_LOSS_WEIGHTS, focal: FocalOptions = {}): PromptableLoss {
  const [n, h, wd, k] = logits.shape;
  checkShape(iouPred, 'predicted IoU', [n, k], `[${n}, ${k}]`, 'promptable loss');
  checkShape(targets, 'targets', [n, h, wd, 1], `[${n}, ${h}, ${wd}, 1]`, 'promptable loss');
  return tf.tidy(() => {
    const p = h * wd;
    const rows = tf.transpose(tf.reshape(logits, [n, p, k]), [0, 2, 1]).reshape([n * k, p]) as tf.Tensor2D;
    const truth = tf.broadcastTo(tf.reshape(targets, [n, 1, p]), [n, k, p]).reshape([n * k, p]) as tf.Tensor2D;
    const perMask = tf.add(tf.mul(w.focal, focalLossRows(rows, truth, focal)), tf.mul(w.dice, diceLossRows(rows, truth))).reshape([n, k]);
    const mask = tf.sum(tf.min(perMask, 1)) as tf.Scalar;
    const best = tf.argMin(perMask, 1) as tf.Tensor1D;
    // The IoU each mask actually has: comparisons carry no gradient, so this is a constant target.
    const predicted = tf.cast(tf.greaterEqual(rows, 0), 'float32');
    const intersection = tf.sum(tf.mul(predicted, truth), 1);
    const union = tf.sub(tf.add(tf.sum(predicted, 1), tf.sum(truth, 1)), intersection);
    // Both empty: a perfect prediction (IoU 1).
    const actual = tf.div(tf.add(intersection, 1e-6), tf.add(union, 1e-6)).reshape([n, k]);
    const iou = tf.mul(w.iou, tf.sum(tf.mean(tf.squaredDifference(iouPred, actual), 1))) as tf.Scalar;
    return { mask, iou, best };
  });
}
