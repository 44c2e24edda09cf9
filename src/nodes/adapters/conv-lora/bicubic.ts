/**
 * Bicubic resize with PyTorch's F.interpolate(mode='bicubic', align_corners=False) semantics,
 * which tfjs lacks. The resize is separable and linear, so each axis is a constant
 * [out, in] matrix applied with a rank-2 matMul: differentiable on every backend (no gather).
 */
import * as tf from '@tensorflow/tfjs';

/** PyTorch's cubic-convolution coefficient (OpenCV's choice; Keys' is −0.5). */
const A = -0.75;

/** Kernel for |d| ≤ 1. */
const near = (d: number) => ((A + 2) * d - (A + 3)) * d * d + 1;
/** Kernel for 1 < |d| < 2. */
const far = (d: number) => ((A * d - 5 * A) * d + 8 * A) * d - 4 * A;

const cache = new Map<string, Float32Array>();

/**
 * The [outSize, inSize] matrix M with out = M · in along one axis. Half-pixel centres; unlike
 * linear modes the cubic source index is not clamped at 0 (area_pixel_compute_source_index with
 * cubic = true), the four taps are clamped to the edge, and there is no antialiasing.
 */
export function bicubicMatrix(inSize: number, outSize: number): Float32Array {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1) {
    throw new Error(`bicubicMatrix: sizes must be positive integers, got ${inSize} -> ${outSize}`);
  }
  const key = `${inSize}:${outSize}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = scale * (o + 0.5) - 0.5;
    const i0 = Math.floor(src);
    const t = src - i0;
    const weights = [far(t + 1), near(t), near(1 - t), far(2 - t)];
    for (let j = 0; j < 4; j++) {
      const i = Math.min(Math.max(i0 - 1 + j, 0), inSize - 1);
      m[o * inSize + i] = m[o * inSize + i]! + weights[j]!;
    }
  }
  cache.set(key, m);
  return m;
}

/** Resizes NHWC x to [outH, outW] (a no-op for an unchanged size). */
export function resizeBicubic(x: tf.Tensor4D, [outH, outW]: readonly [number, number]): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (h === outH && w === outW) return x;
  return tf.tidy(() => {
    // Each axis in turn is brought to the front and contracted as [out, in] · [in, rest].
    const along = (t: tf.Tensor, from: number, to: number) =>
      tf.matMul(tf.tensor2d(bicubicMatrix(from, to), [to, from]), t.reshape([from, -1]));
    if (w === outW) {
      return along(x.transpose([1, 0, 2, 3]), h, outH).reshape([outH, n, w, c]).transpose([1, 0, 2, 3]) as tf.Tensor4D;
    }
    if (h === outH) {
      return along(x.transpose([2, 0, 1, 3]), w, outW).reshape([outW, n, h, c]).transpose([1, 2, 0, 3]) as tf.Tensor4D;
    }
    const rows = along(x.transpose([1, 0, 2, 3]), h, outH).reshape([outH, n, w, c]); // [outH, n, w, c]
    const both = along(rows.transpose([2, 0, 1, 3]), w, outW).reshape([outW, outH, n, c]);
    return both.transpose([2, 1, 0, 3]) as tf.Tensor4D;
  });
}
