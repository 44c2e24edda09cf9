/**
 * Balanced BCE (the Conv-LoRA loss for SBU shadows, from EVP): over the whole batch,
 * pos = Σt + 1e−10 and neg = Σ(1 − t); the BCE-with-logits mean uses `pos_weight = neg / pos`
 * on the positive term and is scaled by `pos / (pos + neg)`:
 *
 *   loss = pos/(pos+neg) · mean[(1 − t)·x + (1 + (neg/pos − 1)·t)·softplus(−x)]
 *
 * (PyTorch's stable form of −[pw·t·log σ(x) + (1 − t)·log(1 − σ(x))]). The counts come from
 * the targets, so no gradient flows through the weights.
 *
 * ```ts
 * balancedBce(logits, masks); // scalar
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { Loss, MaskBatch, MaskLogits } from '../ports.ts';
import { checkSameShape, softplusNeg } from './elementwise.ts';

export function balancedBce(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  checkSameShape(logits, 'logits', targets, 'masks', 'balancedBce');
  return tf.tidy(() => {
    const pos = tf.add(tf.sum(targets), 1e-10);
    const neg = tf.sum(tf.sub(1, targets));
    const posWeight = tf.div(neg, pos);
    const wNeg = tf.div(pos, tf.add(pos, neg));
    const perPixel = tf.add(tf.mul(tf.sub(1, targets), logits), tf.mul(tf.add(1, tf.mul(tf.sub(posWeight, 1), targets)), softplusNeg(logits)));
    return tf.mul(wNeg, tf.mean(perPixel)) as tf.Scalar;
  });
}

export const BalancedBce = defineNode({
  kind: 'losses/balanced-bce',
  description: 'balanced BCE: positives weighted by neg/pos, scaled by pos/(pos+neg) (EVP, Conv-LoRA on SBU)',
  placement: 'worker',
  inputs: { logits: MaskLogits, masks: MaskBatch },
  outputs: { loss: Loss },
  params: z.object({}),
  worker: {
    create: () => ({
      forward: ({ logits, masks }) => ({ loss: balancedBce(logits, masks) }),
    }),
  },
});
