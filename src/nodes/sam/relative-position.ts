/**
 * SAM's decomposed relative position embeddings (image_encoder.get_rel_pos /
 * add_decomposed_rel_pos), as constant matrices applied with matMuls so the table stays
 * differentiable on every backend (tfjs has no gather gradient on wasm).
 */
import * as tf from '@tensorflow/tfjs';
import { bmm } from './ops.ts';

/**
 * The [qSize·kSize, L] matrix M with M · table = R, where R[q, k] is the (linearly
 * interpolated, if L ≠ 2·max(q, k) − 1) table row for the offset between query q and key k.
 */
export function relativePositionMatrix(qSize: number, kSize: number, tableLength: number): Float32Array {
  // Every block of every forward pass asks for the same few matrices: build each once.
  const key = `${qSize}x${kSize}x${tableLength}`;
  let m = matrices.get(key);
  if (!m) matrices.set(key, (m = buildRelativePositionMatrix(qSize, kSize, tableLength)));
  return m;
}

const matrices = new Map<string, Float32Array>();

function buildRelativePositionMatrix(qSize: number, kSize: number, tableLength: number): Float32Array {
  const maxRel = 2 * Math.max(qSize, kSize) - 1;
  // Linear interpolation from tableLength rows to maxRel rows, align_corners = False.
  const interp = new Float32Array(maxRel * tableLength);
  if (tableLength === maxRel) {
    for (let i = 0; i < maxRel; i++) interp[i * tableLength + i] = 1;
  } else {
    const scale = tableLength / maxRel;
    for (let i = 0; i < maxRel; i++) {
      const src = Math.max(scale * (i + 0.5) - 0.5, 0);
      const i0 = Math.floor(src);
      const i1 = i0 < tableLength - 1 ? i0 + 1 : i0;
      const l1 = src - i0;
      interp[i * tableLength + i0] = interp[i * tableLength + i0]! + (1 - l1);
      interp[i * tableLength + i1] = interp[i * tableLength + i1]! + l1;
    }
  }
  const m = new Float32Array(qSize * kSize * tableLength);
  const qScale = Math.max(kSize / qSize, 1);
  const kScale = Math.max(qSize / kSize, 1);
  for (let q = 0; q < qSize; q++) {
    for (let k = 0; k < kSize; k++) {
      const row = Math.trunc(q * qScale - k * kScale + (kSize - 1) * kScale);
      m.set(interp.subarray(row * tableLength, (row + 1) * tableLength), (q * kSize + k) * tableLength);
    }
  }
  return m;
}

/** R [qSize, kSize, C] for a table [L, C]. */
export function relativePositions(qSize: number, kSize: number, table: tf.Tensor): tf.Tensor3D {
  const [length, channels] = table.shape as [number, number];
  const m = tf.tensor2d(relativePositionMatrix(qSize, kSize, length), [qSize * kSize, length]);
  return tf.matMul(m, table).reshape([qSize, kSize, channels]);
}

/**
 * The two terms of SAM's decomposed relative-position bias for queries q [B, qh·qw, C]
 * (unscaled) over a kh×kw key grid: relH [B, qh, qw, kh] and relW [B, qh, qw, kw].
 */
export function relativePositionTerms(
  q: tf.Tensor3D,
  [qh, qw]: readonly [number, number],
  [kh, kw]: readonly [number, number],
  tableH: tf.Tensor,
  tableW: tf.Tensor,
): { relH: tf.Tensor4D; relW: tf.Tensor4D } {
  const [b, , c] = q.shape;
  const rh = relativePositions(qh, kh, tableH).transpose([0, 2, 1]) as tf.Tensor3D; // [qh, C, kh]
  const rw = relativePositions(qw, kw, tableW).transpose([0, 2, 1]) as tf.Tensor3D; // [qw, C, kw]
  const grid = q.reshape([b, qh, qw, c]);
  const relH = bmm(grid.transpose([1, 0, 2, 3]).reshape([qh, b * qw, c]) as tf.Tensor3D, rh)
    .reshape([qh, b, qw, kh])
    .transpose([1, 0, 2, 3]);
  const relW = bmm(grid.transpose([2, 0, 1, 3]).reshape([qw, b * qh, c]) as tf.Tensor3D, rw)
    .reshape([qw, b, qh, kw])
    .transpose([1, 2, 0, 3]);
  return { relH: relH as tf.Tensor4D, relW: relW as tf.Tensor4D };
}

/** The bias itself, rel_h[b, y, x, ky] + rel_w[b, y, x, kx], as [B, qh·qw, kh·kw]. */
export function relativePositionBias(relH: tf.Tensor4D, relW: tf.Tensor4D): tf.Tensor3D {
  const [b, qh, qw, kh] = relH.shape;
  const kw = relW.shape[3];
  return tf.add(relH.reshape([b, qh, qw, kh, 1]), relW.reshape([b, qh, qw, 1, kw])).reshape([b, qh * qw, kh * kw]) as tf.Tensor3D;
}
