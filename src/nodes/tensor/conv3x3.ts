/**
 * A 3×3 convolution, stride 1, zero padding 1 (NHWC, filter [3, 3, in, out]). Where the backend
 * has a conv filter gradient (native, cpu, tfjs-node) it is tf.conv2d. The wasm backend has no
 * Conv2DBackpropFilter, so there it is written as im2col: nine shifted slices of the padded input
 * concatenated over channels, then one rank-2 matMul, which needs only slice, pad, concat and
 * matMul gradients.
 */
import * as tf from '@tensorflow/tfjs';

export function conv3x3(x: tf.Tensor4D, filter: tf.Tensor, bias?: tf.Tensor): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [kh, kw, inC, outC] = filter.shape as [number, number, number, number];
  if (kh !== 3 || kw !== 3 || inC !== c) {
    throw new Error(`conv3x3: filter [${filter.shape.join(', ')}] does not fit a 3x3 convolution over ${c} channels`);
  }
  if (tf.getKernel('Conv2DBackpropFilter', tf.getBackend())) {
    return tf.tidy(() => {
      const y = tf.conv2d(x, filter as tf.Tensor4D, 1, 'same');
      return (bias ? tf.add(y, bias) : y) as tf.Tensor4D;
    });
  }
  return tf.tidy(() => {
    const padded = tf.pad(x, [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]);
    const taps: tf.Tensor[] = [];
    for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) taps.push(tf.slice(padded, [0, dy, dx, 0], [n, h, w, c]));
    // Columns ordered (dy, dx, channel), matching the row-major flattening of the filter.
    const patches = tf.concat(taps, 3).reshape([n * h * w, 9 * c]);
    let y = tf.matMul(patches, filter.reshape([9 * c, outC]));
    if (bias) y = tf.add(y, bias);
    return y.reshape([n, h, w, outC]) as tf.Tensor4D;
  });
}
