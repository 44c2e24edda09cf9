/**
 * Soft Dice loss on mask logits, per image then averaged:
 * `1 − (2·Σ p·t + s) / (Σ p + Σ t + s)` with p = sigmoid(logits) and smoothing s (default 1, the
 * Mask2Former / HF `dice_loss` form, which keeps an empty mask and an empty prediction at 0).
 *
 * ```ts
 * diceLoss(logits, masks); // scalar in [0, 1)
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { Loss, MaskBatch, MaskLogits } from '../ports.ts';
import { checkSameShape } from './elementwise.ts';

/** Dice loss of each row of [M, P] logits against [M, P] targets: shape [M]. */
export function diceLossRows(logits: tf.Tensor2D, targets: tf.Tensor2D, smooth = 1): tf.Tensor1D {
  return tf.tidy(() => {
    const p = tf.sigmoid(logits);
    const numerator = tf.mul(2, tf.sum(tf.mul(p, targets), 1));
    const denominator = tf.add(tf.sum(p, 1), tf.sum(targets, 1));
    return tf.sub(1, tf.div(tf.add(numerator, smooth), tf.add(denominator, smooth))) as tf.Tensor1D;
  });
}

export function diceLoss(logits: tf.Tensor, targets: tf.Tensor, smooth = 1): tf.Scalar {
  checkSameShape(logits, 'logits', targets, 'masks', 'diceLoss');
  if (logits.rank < 2) throw new Error(`diceLoss: logits must have a batch axis and pixels, got [${logits.shape.join(', ')}]`);
  return tf.tidy(() => {
    const n = logits.shape[0]!;
    return tf.mean(diceLossRows(tf.reshape(logits, [n, -1]), tf.reshape(targets, [n, -1]), smooth)) as tf.Scalar;
  });
}

export const DiceLoss = defineNode({
  kind: 'losses/dice',
  description: 'soft Dice loss on mask logits, 1 − (2Σpt + s)/(Σp + Σt + s) per image, averaged',
  placement: 'worker',
  inputs: { logits: MaskLogits, masks: MaskBatch },
  outputs: { loss: Loss },
  params: z.object({ smooth: z.number().min(0).default(1).describe('added to numerator and denominator') }),
  worker: {
    create: (p) => ({
      forward: ({ logits, masks }) => ({ loss: diceLoss(logits, masks, p.smooth) }),
    }),
  },
});
