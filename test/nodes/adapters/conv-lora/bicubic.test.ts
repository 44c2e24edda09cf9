import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { bicubicMatrix, resizeBicubic } from '../../../../src/nodes/adapters/conv-lora/bicubic.ts';
import { BACKENDS, fixture, fixtureData, maxAbsDiff, useBackend } from './fixtures.ts';

describe('bicubicMatrix', () => {
  it.each([
    [5, 13],
    [13, 5],
    [4, 4],
    [3, 24],
    [24, 3],
  ])('matches PyTorch for %i -> %i', (from, to) => {
    const expected = fixtureData(`bicubic_matrix_${from}_${to}`);
    expect(expected.shape).toEqual([to, from]);
    const m = bicubicMatrix(from, to);
    let worst = 0;
    for (let i = 0; i < m.length; i++) worst = Math.max(worst, Math.abs(m[i]! - expected.data[i]!));
    expect(worst).toBeLessThan(1e-6);
  });

  it('rows sum to one (constants are preserved) and the same size is the identity', () => {
    for (const [from, to] of [
      [3, 17],
      [17, 3],
      [1, 6],
    ] as const) {
      const m = bicubicMatrix(from, to);
      for (let o = 0; o < to; o++) expect(m.subarray(o * from, (o + 1) * from).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    }
    expect(Array.from(bicubicMatrix(3, 3))).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it('rejects sizes that are not positive integers', () => {
    expect(() => bicubicMatrix(0, 3)).toThrow(/positive integers/);
    expect(() => bicubicMatrix(2.5, 3)).toThrow(/positive integers/);
  });
});

describe.each(BACKENDS)('resizeBicubic against PyTorch on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('up by 2..8 and back down to the input size', () => {
    tf.tidy(() => {
      const x = fixture('bicubic_x') as tf.Tensor4D; // [1, 3, 5, 2]
      for (let f = 2; f <= 8; f++) {
        const up = resizeBicubic(x, [3 * f, 5 * f]);
        expect(maxAbsDiff(up, fixture(`bicubic_up_${f}`)), `up ${f}`).toBeLessThan(1e-5);
        const down = resizeBicubic(fixture(`bicubic_up_${f}`) as tf.Tensor4D, [3, 5]);
        expect(maxAbsDiff(down, fixture(`bicubic_down_${f}`)), `down ${f}`).toBeLessThan(1e-5);
      }
    });
  });

  it('non-square sizes, non-integer ratios, one axis only and a one-pixel-high input', () => {
    tf.tidy(() => {
      const x = fixture('bicubic_odd_x') as tf.Tensor4D; // [2, 7, 4, 3]
      expect(maxAbsDiff(resizeBicubic(x, [3, 9]), fixture('bicubic_odd_3x9'))).toBeLessThan(1e-5);
      expect(maxAbsDiff(resizeBicubic(x, [10, 2]), fixture('bicubic_odd_10x2'))).toBeLessThan(1e-5);
      expect(maxAbsDiff(resizeBicubic(x, [7, 11]), fixture('bicubic_odd_7x11'))).toBeLessThan(1e-5);
      expect(resizeBicubic(x, [7, 4])).toBe(x);
      const pixel = fixture('bicubic_pixel_x') as tf.Tensor4D; // [1, 1, 3, 2]
      expect(maxAbsDiff(resizeBicubic(pixel, [4, 5]), fixture('bicubic_pixel_4x5'))).toBeLessThan(1e-5);
    });
  });

  it('gradients match PyTorch autograd', () => {
    tf.tidy(() => {
      const x = fixture('bicubic_x') as tf.Tensor4D;
      const rUp = fixture('bicubic_grad_up_r');
      const gUp = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(resizeBicubic(t as tf.Tensor4D, [9, 15]), rUp)))(x);
      expect(maxAbsDiff(gUp, fixture('bicubic_grad_up'))).toBeLessThan(1e-5);
      const big = fixture('bicubic_grad_down_x') as tf.Tensor4D;
      const rDown = fixture('bicubic_grad_down_r');
      const gDown = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(resizeBicubic(t as tf.Tensor4D, [3, 5]), rDown)))(big);
      expect(maxAbsDiff(gDown, fixture('bicubic_grad_down'))).toBeLessThan(1e-5);
    });
  });
});
