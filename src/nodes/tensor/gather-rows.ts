/**
 * `tf.gather` along axis 0 whose gradient is a one-hot matrix product instead of tfjs's
 * UnsortedSegmentSum, which the wasm backend does not implement (4.22): a graph that gathers a
 * trained tensor, such as sam/prompted taking each prompt's image embedding, then trains on every
 * backend. dx = onehot(indices)ᵀ · dy: each row of x receives the sum of the rows taken from it.
 */
import * as tf from '@tensorflow/tfjs';

export function gatherRows<T extends tf.Tensor>(x: T, indices: readonly number[]): T {
  const rows = x.shape[0]!;
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= rows) throw new Error(`gatherRows: index ${i} is outside the ${rows} rows of a [${x.shape.join(', ')}] tensor`);
  }
  const gather = tf.customGrad((x) => {
    const input = x as tf.Tensor;
    const value = tf.gather(input, tf.tensor1d([...indices], 'int32'));
    const gradFunc = (dy: tf.Tensor) => {
      // [rows, taken]: column j is one-hot at indices[j] (built on the host: no transpose kernel needed).
      const scatter = new Float32Array(rows * indices.length);
      indices.forEach((row, j) => (scatter[row * indices.length + j] = 1));
      const flat = tf.reshape(dy, [indices.length, -1]);
      return tf.reshape(tf.matMul(tf.tensor2d(scatter, [rows, indices.length]), flat), input.shape);
    };
    return { value, gradFunc };
  });
  return gather(x) as T;
}
