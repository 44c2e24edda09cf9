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

/**
 * The update of several task LoRAs over a task-major batch: the leading axis of x splits into
 * `perGroup.length` equal contiguous groups, group g getting s·(x A_g) B_g (as TA-LoRA's groups).
 */
export function taskLoraDelta(x: tf.Tensor, perGroup: readonly LoraWeights[], scaling: number, dropout: number, training: boolean, seed: number): tf.Tensor {
  if (perGroup.length === 1) return loraDelta(x, perGroup[0]!, scaling, dropout, training, seed);
  const shape = x.shape;
  const groups = perGroup.length;
  if (shape[0]! % groups !== 0) throw new Error(`LoRA: a batch of ${shape[0]} cannot split into ${groups} task groups (task-major layout)`);
  return tf.tidy(() => {
    const inDim = shape[shape.length - 1]!;
    let flat = x.reshape([-1, inDim]);
    if (training && dropout > 0) flat = tf.dropout(flat, dropout, undefined, seed);
    const rows = flat.shape[0]! / groups;
    const h = tf.matMul(flat.reshape([groups, rows, inDim]), tf.stack(perGroup.map((w) => w.a))); // [G, rows, r]
    const delta = tf.matMul(h, tf.stack(perGroup.map((w) => w.b))).mul(scaling); // [G, rows, out]
    return delta.reshape([...shape.slice(0, -1), perGroup[0]!.b.shape[1]!]);
  });
}
