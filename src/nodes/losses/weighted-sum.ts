/**
 * The total training loss: a weighted sum of up to four task losses plus auxiliary losses that
 * arrive on their own ports, each with its own weight:
 *
 *   total = Σ_i w_i · loss_i / (normalize ? Σ_{i connected} w_i : 1) + moeWeight · moe + orthWeight · orth
 *
 * - Conv-LoRA: `loss0` = the segmentation loss, `moe` = the summed MoE balance losses, added
 *   unweighted (moeWeight 1), as the official Lightning module does.
 * - TA-LoRA (NYUv2): `loss0..2` = seg, depth, normal with weights [1, 1, 4] and `normalize`
 *   (w_t / Σw), `orth` = the orthogonality regulariser R_orth with λ = orthWeight (1 in the
 *   released script, 0.1 its CLI default).
 *
 * ```ts
 * weightedSum({ losses: [seg, depth, normal], weights: [1, 1, 4], normalize: true, orth, orthWeight: 1 });
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode, optional } from '../../graph/node.ts';
import { Loss } from '../ports.ts';

export interface WeightedSumInput {
  /** Task losses; undefined entries are not connected and do not count. */
  readonly losses: readonly (tf.Scalar | undefined)[];
  readonly weights: readonly number[];
  readonly normalize?: boolean;
  readonly moe?: tf.Scalar | undefined;
  readonly moeWeight?: number;
  readonly orth?: tf.Scalar | undefined;
  readonly orthWeight?: number;
}

export function weightedSum(input: WeightedSumInput): tf.Scalar {
  const terms: [tf.Scalar, number, string][] = [];
  input.losses.forEach((loss, i) => {
    if (loss) terms.push([loss, input.weights[i] ?? 1, `loss${i}`]);
  });
  if (terms.length === 0) throw new Error('weightedSum: no task loss is connected (loss0..loss3)');
  for (const [loss, , name] of terms) {
    if (loss.rank !== 0) throw new Error(`weightedSum: ${name} must be a scalar, got shape [${loss.shape.join(', ')}]`);
  }
  const norm = input.normalize ? terms.reduce((s, [, w]) => s + w, 0) : 1;
  if (norm === 0) throw new Error('weightedSum: the connected task losses’ weights sum to 0, so they cannot be normalised');
  return tf.tidy(() => {
    let total = tf.scalar(0) as tf.Scalar;
    for (const [loss, w] of terms) total = tf.add(total, tf.mul(loss, w / norm));
    if (input.moe) total = tf.add(total, tf.mul(input.moe, input.moeWeight ?? 1));
    if (input.orth) total = tf.add(total, tf.mul(input.orth, input.orthWeight ?? 1));
    return total;
  });
}

export const WeightedSum = defineNode({
  kind: 'losses/weighted-sum',
  description: 'weighted sum of task losses plus auxiliary losses (MoE balance, orthogonality) on their own ports',
  placement: 'worker',
  inputs: {
    loss0: optional(Loss),
    loss1: optional(Loss),
    loss2: optional(Loss),
    loss3: optional(Loss),
    moe: optional(Loss),
    orth: optional(Loss),
  },
  outputs: { loss: Loss },
  params: z.object({
    weights: z.array(z.number().min(0)).max(4).default([1, 1, 1, 1]).describe('weight of loss0..loss3 (missing entries are 1)'),
    normalize: z.boolean().default(false).describe('divide the task sum by the sum of the connected tasks’ weights (TA-LoRA)'),
    moeWeight: z.number().min(0).default(1).describe('weight of the MoE balance loss (Conv-LoRA adds it unweighted)'),
    orthWeight: z.number().min(0).default(1).describe('λ of the orthogonality regulariser (TA-LoRA script: 1)'),
  }),
  worker: {
    create: (p) => ({
      forward: ({ loss0, loss1, loss2, loss3, moe, orth }) => ({
        loss: weightedSum({
          losses: [loss0, loss1, loss2, loss3],
          weights: p.weights,
          normalize: p.normalize,
          moe,
          moeWeight: p.moeWeight,
          orth,
          orthWeight: p.orthWeight,
        }),
      }),
    }),
  },
});
