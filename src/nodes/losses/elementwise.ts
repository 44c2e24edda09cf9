/**
 * Pieces the loss nodes share: the numerically stable element-wise BCE on logits and the shape
 * checks whose messages name both shapes.
 *
 * ```ts
 * bceWithLogits(tf.tensor([0, 2]), tf.tensor([1, 0])); // [log 2, 2 + log(1 + e^-2)]
 * ```
 */
import * as tf from '@tensorflow/tfjs';

/** Element-wise BCE(x, y) = max(x, 0) − x·y + log(1 + e^−|x|): no overflow for large |x|. */
export function bceWithLogits<T extends tf.Tensor>(logits: T, targets: tf.Tensor): T {
  return tf.tidy(() => tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))) as T);
}

/** softplus(−x) = log(1 + e^−x), stable: max(−x, 0) + log(1 + e^−|x|). */
export function softplusNeg<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.add(tf.relu(tf.neg(x)), tf.log1p(tf.exp(tf.neg(tf.abs(x))))) as T);
}

/** Throws unless the two tensors have the same shape, naming both. */
export function checkSameShape(a: tf.Tensor, aName: string, b: tf.Tensor, bName: string, op: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${op}: ${aName} [${a.shape.join(', ')}] and ${bName} [${b.shape.join(', ')}] differ in shape`);
  }
}

/** Throws unless `t` has the given rank and, where given, the given sizes (null = any). */
export function checkShape(t: tf.Tensor, name: string, expected: readonly (number | null)[], layout: string, op: string): void {
  const ok = t.rank === expected.length && expected.every((d, i) => d === null || t.shape[i] === d);
  if (!ok) throw new Error(`${op}: ${name} must be ${layout}, got [${t.shape.join(', ')}]`);
}

/** A loss of exactly +0 that keeps `t` on the gradient tape (zero gradient), for batches with nothing to score. */
export function zeroLoss(t: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.add(tf.mul(tf.sum(t), 0), 0) as tf.Scalar);
}
