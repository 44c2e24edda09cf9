/**
 * Sigmoid focal loss on mask logits (Lin et al. 2017), the mask loss SAM trains with (with
 * dice, 20:1): BCE scaled by (1 − p_t)^γ, so the many easy background pixels stop dominating,
 * and weighted α for foreground, 1 − α for background. Averaged over pixels, as detectron2's
 * `sigmoid_focal_loss` with reduction 'mean' per mask.
 *
 * ```ts
 * focalLossRows(logits, targets); // [M] for [M, P] logits
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { Loss, MaskBatch, MaskLogits } from '../ports.ts';
import { bceWithLogits, checkSameShape } from './elementwise.ts';

export interface FocalOptions {
  /** Weight of foreground pixels (background: 1 − alpha); negative: no weighting. Default 0.25. */
  readonly alpha?: number;
  /** Focusing exponent; 0 is plain BCE. Default 2. */
  readonly gamma?: number;
}

/** Focal loss of each row of [M, P] logits against [M, P] targets in {0, 1}: shape [M]. */
export function focalLossRows(logits: tf.Tensor2D, targets: tf.Tensor2D, options: FocalOptions = {}): tf.Tensor1D {
  const alpha = options.alpha ?? 0.25;
  const gamma = options.gamma ?? 2;
  return tf.tidy(() => {
    const p = tf.sigmoid(logits);
    // 1 − p_t = p + t − 2pt: the probability the pixel is wrong.
    const wrong = tf.sub(tf.add(p, targets), tf.mul(2, tf.mul(p, targets)));
    let loss = tf.mul(bceWithLogits(logits, targets), gamma === 0 ? 1 : gamma === 2 ? tf.square(wrong) : tf.pow(wrong, gamma));
    if (alpha >= 0) loss = tf.mul(loss, tf.add(tf.mul(targets, 2 * alpha - 1), 1 - alpha));
    return tf.mean(loss, 1) as tf.Tensor1D;
  });
}

export function focalLoss(logits: tf.Tensor, targets: tf.Tensor, options: FocalOptions = {}): tf.Scalar {
  checkSameShape(logits, 'logits', targets, 'masks', 'focalLoss');
  if (logits.rank < 2) throw new Error(`focalLoss: logits must have a batch axis and pixels, got [${logits.shape.join(', ')}]`);
  return tf.tidy(() => {
    const n = logits.shape[0]!;
    return tf.mean(focalLossRows(tf.reshape(logits, [n, -1]), tf.reshape(targets, [n, -1]), options)) as tf.Scalar;
  });
}

export const FocalLoss = defineNode({
  kind: 'losses/focal',
  description: 'sigmoid focal loss on mask logits, mean over pixels then images',
  placement: 'worker',
  inputs: { logits: MaskLogits, masks: MaskBatch },
  outputs: { loss: Loss },
  params: z.object({
    alpha: z.number().max(1).default(0.25).describe('foreground weight (background 1 − alpha); negative: none'),
    gamma: z.number().min(0).default(2).describe('focusing exponent (0: BCE)'),
  }),
  worker: {
    create: (p) => ({
      forward: ({ logits, masks }) => ({ loss: focalLoss(logits, masks, p) }),
    }),
  },
});
