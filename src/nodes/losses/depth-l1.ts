/**
 * Masked L1 depth loss (MTAN / LibMTL, TA-LoRA's depth task): Σ_V |d̂ − d| / |V| over the valid
 * pixels V, those whose ground truth (summed over channels) is not 0. With no valid pixel the
 * loss is 0 (PyTorch divides by zero there).
 *
 * ```ts
 * depthL1(pred, gt); // both NHW1; gt 0 = invalid
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { DepthBatch, Loss } from '../ports.ts';
import { checkSameShape, zeroLoss } from './elementwise.ts';

/** 1 where the ground truth summed over its last axis is not 0, as [N, H, W, 1] float, and the count. */
export function validPixels(gt: tf.Tensor4D): { mask: tf.Tensor4D; count: number } {
  const values = gt.dataSync();
  const channels = gt.shape[3];
  const mask = new Float32Array(values.length / channels);
  let count = 0;
  for (let p = 0; p < mask.length; p++) {
    let s = 0;
    for (let k = 0; k < channels; k++) s += values[p * channels + k]!;
    if (s !== 0) {
      mask[p] = 1;
      count++;
    }
  }
  return { mask: tf.tensor4d(mask, [gt.shape[0], gt.shape[1], gt.shape[2], 1]), count };
}

export function depthL1(pred: tf.Tensor4D, gt: tf.Tensor4D): tf.Scalar {
  checkSameShape(pred, 'prediction', gt, 'ground truth', 'depthL1');
  return tf.tidy(() => {
    const { mask, count } = validPixels(gt);
    if (count === 0) return zeroLoss(pred);
    return tf.div(tf.sum(tf.mul(tf.abs(tf.sub(pred, gt)), mask)), count) as tf.Scalar;
  });
}

export const DepthL1 = defineNode({
  kind: 'losses/depth-l1',
  description: 'L1 depth loss over valid pixels (ground truth ≠ 0)',
  placement: 'worker',
  inputs: { pred: DepthBatch, gt: DepthBatch },
  outputs: { loss: Loss },
  params: z.object({}),
  worker: {
    create: () => ({
      forward: ({ pred, gt }) => ({ loss: depthL1(pred, gt) }),
    }),
  },
});
