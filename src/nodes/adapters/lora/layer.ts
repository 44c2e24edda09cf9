/**
 * LoRA (Hu et al. 2021): a frozen linear W plus a trainable low-rank update, y = xW + s·(x A) B with
 * s = alpha / rank. A [in, r] is Kaiming-uniform (a = √5, i.e. U(±1/√in)), B [r, out] zeros, so
 * the adapted layer starts equal to the base one.
 */
import * as tf from '@tensorflow/tfjs';

export interface LoraWeights {
  readonly a: tf.Variable;
  readonly b: tf.Variable;
}

export function createLoraWeights(inDim: number, outDim: number, rank: number, seed: number): LoraWeights {
  const bound = 1 / Math.sqrt(inDim);
  return {
    a: tf.variable(tf.randomUniform([inDim, rank], -bound, bound, 'float32', seed), true),
    b: tf.variable(tf.zeros([rank, outDim]), true),
  };
}

/** s·(dropout(x) A) B for x [..., in]. */
export function loraDelta(x: tf.Tensor, w: LoraWeights, scaling: number, dropout: number, training: boolean, seed: number): tf.Tensor {
  const shape = x.shape;
  let flat = x.reshape([-1, shape[shape.length - 1]!]);
  if (training && dropout > 0) flat = tf.dropout(flat, dropout, undefined, seed);
  const delta = tf.matMul(tf.matMul(flat, w.a), w.b).mul(scaling);
  return delta.reshape([...shape.slice(0, -1), w.b.shape[1]!]);
}

/** The dense update s·A·B [in, out], for merging into the base weight. */
export function loraUpdate(w: LoraWeights, scaling: number): tf.Tensor2D {
  return tf.matMul(w.a, w.b).mul(scaling) as tf.Tensor2D;
}
