/**
 * The bilinear resize with half-pixel centres whose gradient is exact: tfjs's forward, and the
 * gradient of the linear map by finite differences, on square and non-square maps; and the
 * tfjs 4.22 cpu gradient it replaces, which is not.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { resizeBilinearHalfPixel } from '../../../src/nodes/tensor/resize-bilinear.ts';
import { maxAbsDiff, useBackend } from '../../fixtures/tensors.ts';

describe('resizeBilinearHalfPixel', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('matches tfjs forward and has the gradient of the linear map (finite differences), for non-square maps', () => {
    for (const [ih, iw, oh, ow] of [[6, 8, 3, 4], [24, 32, 9, 12], [5, 7, 11, 3], [4, 4, 16, 16]] as const) {
      const x = tf.randomNormal([2, ih, iw, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([2, oh, ow, 3], 0, 1, 'float32', 2);
      const f = (a: tf.Tensor) => tf.sum(tf.mul(resizeBilinearHalfPixel(a as tf.Tensor4D, [oh, ow]), w));
      expect(maxAbsDiff(resizeBilinearHalfPixel(x, [oh, ow]), tf.image.resizeBilinear(x, [oh, ow], false, true))).toBe(0);
      const g = tf.grad(f)(x).dataSync();
      const xd = x.dataSync();
      for (let i = 0; i < xd.length; i += 11) {
        const [p, m] = [xd.slice(), xd.slice()];
        p[i]! += 1e-2;
        m[i]! -= 1e-2;
        const fd = (f(tf.tensor4d(p, x.shape)).dataSync()[0]! - f(tf.tensor4d(m, x.shape)).dataSync()[0]!) / 2e-2;
        expect(Math.abs(fd - g[i]!), `${[ih, iw, oh, ow]} element ${i}`).toBeLessThan(1e-3);
      }
    }
  });

  it('differs from tfjs-backend-cpu 4.22’s own gradient, which ignores half-pixel centres (why it exists)', () => {
    const x = tf.randomNormal([1, 4, 4, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    const r = tf.randomNormal([1, 16, 16, 1], 0, 1, 'float32', 2);
    const own = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeBilinear(v as tf.Tensor4D, [16, 16], false, true), r)))(x);
    const exact = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(resizeBilinearHalfPixel(v as tf.Tensor4D, [16, 16]), r)))(x);
    expect(maxAbsDiff(own, exact)).toBeGreaterThan(0.1);
  });
});
