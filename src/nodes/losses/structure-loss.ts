/**
 * Structure loss (PraNet; the Conv-LoRA loss for polyp, CAMO, ISIC, leaf and road): a weighted
 * BCE plus a weighted IoU on mask logits, with the pixel weights
 * `w = 1 + 5·|avgpool31×31(t) − t|` (stride 1, zero padding 15, padding counted in the mean).
 *
 * `wIoU = 1 − (Σ w·p·t + 1) / (Σ w·(p + t) − Σ w·p·t + 1)` per image with p = sigmoid(logits);
 * loss = mean over images of (BCE + wIoU).
 *
 * The BCE term has two forms (param `bce`):
 * - `'mean'` (the default, what the official code computes): it passes the deprecated
 *   `reduce="none"`, which PyTorch reads as "reduce", so the BCE is one unweighted mean over
 *   the whole batch, and the later weighting by w leaves that scalar unchanged;
 * - `'weighted'` (what PraNet intended): Σ w·BCE / Σ w per image.
 *
 * ```ts
 * structureLoss(logits, masks);               // as the Conv-LoRA code trains
 * structureLoss(logits, masks, 'weighted');   // PraNet's per-pixel weighting
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { Loss, MaskBatch, MaskLogits } from '../ports.ts';
import { bceWithLogits, checkSameShape, checkShape } from './elementwise.ts';

export type StructureBce = 'mean' | 'weighted';

/** The pixel weights 1 + 5·|avgpool31(t) − t| (count_include_pad = true), NHW1. */
export function structureWeights(targets: tf.Tensor4D, kernel = 31): tf.Tensor4D {
  return tf.tidy(() => {
    const half = (kernel - 1) / 2;
    const padded = tf.pad(targets, [
      [0, 0],
      [half, half],
      [half, half],
      [0, 0],
    ]);
    // A k×k mean over zero-padded input is a k×1 mean then a 1×k mean.
    const pooled = tf.avgPool(tf.avgPool(padded, [kernel, 1], 1, 'valid'), [1, kernel], 1, 'valid');
    return tf.add(1, tf.mul(5, tf.abs(tf.sub(pooled, targets))));
  });
}

export function structureLoss(logits: tf.Tensor4D, targets: tf.Tensor4D, bce: StructureBce = 'mean'): tf.Scalar {
  checkShape(logits, 'logits', [null, null, null, 1], 'NHW1', 'structureLoss');
  checkSameShape(logits, 'logits', targets, 'masks', 'structureLoss');
  return tf.tidy(() => {
    const w = structureWeights(targets);
    const axes = [1, 2, 3];
    const elementwise = bceWithLogits(logits, targets);
    const wbce = bce === 'mean' ? tf.mean(elementwise) : tf.div(tf.sum(tf.mul(w, elementwise), axes), tf.sum(w, axes));
    const p = tf.sigmoid(logits);
    const inter = tf.sum(tf.mul(tf.mul(p, targets), w), axes);
    const union = tf.sum(tf.mul(tf.add(p, targets), w), axes);
    const wiou = tf.sub(1, tf.div(tf.add(inter, 1), tf.add(tf.sub(union, inter), 1)));
    return tf.mean(tf.add(wbce, wiou)) as tf.Scalar;
  });
}

export const StructureLoss = defineNode({
  kind: 'losses/structure',
  description: 'structure loss: BCE + weighted IoU with 31×31 boundary weights (PraNet, Conv-LoRA)',
  placement: 'worker',
  inputs: { logits: MaskLogits, masks: MaskBatch },
  outputs: { loss: Loss },
  params: z.object({
    bce: z
      .enum(['mean', 'weighted'])
      .default('mean')
      .describe("'mean': the official code's unweighted batch-mean BCE (default); 'weighted': PraNet's per-pixel weighted BCE"),
  }),
  worker: {
    create: (p) => ({
      forward: ({ logits, masks }) => ({ loss: structureLoss(logits, masks, p.bce) }),
    }),
  },
});
