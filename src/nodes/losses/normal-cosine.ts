/**
 * Surface-normal loss (MTAN / LibMTL, TA-LoRA's normal task): 1 − Σ_V ⟨n̂, n⟩ / |V|, with the
 * prediction unit-normalised per pixel (n̂ = p / max(‖p‖, 1e−12)) and V the valid pixels.
 *
 * V follows the benchmark code: a pixel is valid when its ground-truth components **sum** to a
 * non-zero value (`torch.sum(gt, dim=1) != 0`), so the rare unit normal whose components sum
 * to exactly 0 is skipped along with the (0, 0, 0) "invalid" ones. With no valid pixel the loss
 * is 0.
 *
 * ```ts
 * normalCosine(pred, gt); // both NHW3; gt unit vectors, (0, 0, 0) = invalid
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { Loss, NormalBatch } from '../ports.ts';
import { validPixels } from './depth-l1.ts';
import { checkSameShape, checkShape, zeroLoss } from './elementwise.ts';

/** p / max(‖p‖, 1e−12) over the last axis. */
export function unitNormals<T extends tf.Tensor>(pred: T): T {
  return tf.tidy(() => tf.div(pred, tf.maximum(tf.sqrt(tf.sum(tf.square(pred), -1, true)), 1e-12)) as T);
}

export function normalCosine(pred: tf.Tensor4D, gt: tf.Tensor4D): tf.Scalar {
  checkShape(pred, 'prediction', [null, null, null, 3], 'NHW3', 'normalCosine');
  checkSameShape(pred, 'prediction', gt, 'ground truth', 'normalCosine');
  return tf.tidy(() => {
    const { mask, count } = validPixels(gt);
    if (count === 0) return zeroLoss(pred);
    const cos = tf.sum(tf.mul(unitNormals(pred), gt), -1, true);
    return tf.sub(1, tf.div(tf.sum(tf.mul(cos, mask)), count)) as tf.Scalar;
  });
}

export const NormalCosine = defineNode({
  kind: 'losses/normal-cosine',
  description: '1 − mean cosine between unit-normalised predicted and ground-truth normals over valid pixels',
  placement: 'worker',
  inputs: { pred: NormalBatch, gt: NormalBatch },
  outputs: { loss: Loss },
  params: z.object({}),
  worker: {
    create: () => ({
      forward: ({ pred, gt }) => ({ loss: normalCosine(pred, gt) }),
    }),
  },
});
