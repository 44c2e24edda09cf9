/**
 * TA-LoRA's orthogonal regulariser (spec ta-lora.md §1.5): the mean, over every adapted layer
 * and every term, of the non-squared Frobenius norm ‖AᵀA − I‖_F, with A = U₁, A = U₂ and
 * A = G[:, :, v] for each v (U₃ is not regularised). Weighted by λ where the losses are summed
 * (losses/weighted-sum's `orth` port), once per optimiser step.
 */
import * as tf from '@tensorflow/tfjs';
import type { TuckerWeights } from './layer.ts';

/** ‖AᵀA − I‖_F for A [m, n], or for each A of a batch [b, m, n] (then shape [b]). */
function gramDeviation(a: tf.Tensor): tf.Tensor {
  const n = a.shape[a.rank - 1]!;
  const gram = tf.matMul(a, a, true, false);
  const eye = tf.eye(n);
  return tf.sqrt(tf.sum(tf.square(tf.sub(gram, eye)), [-2, -1]));
}

/** The sum of one layer's 2 + R3 terms. */
export function orthogonalityTermSum(w: TuckerWeights): tf.Scalar {
  return tf.tidy(() => {
    const slices = tf.transpose(w.core, [2, 0, 1]); // [R3, R1, R2]: slice v is G[:, :, v]
    return tf.addN([gramDeviation(w.u1), gramDeviation(w.u2), tf.sum(gramDeviation(slices))]) as tf.Scalar;
  });
}

/** R_orth over layers: every term of every layer counts once. */
export function orthogonality(layers: readonly TuckerWeights[]): tf.Scalar {
  if (!layers.length) throw new Error('TA-LoRA orthogonality: no adapted layer');
  return tf.tidy(() => {
    const terms = layers.reduce((n, w) => n + 2 + w.core.shape[2]!, 0);
    return tf.div(tf.addN(layers.map(orthogonalityTermSum)), terms) as tf.Scalar;
  });
}
