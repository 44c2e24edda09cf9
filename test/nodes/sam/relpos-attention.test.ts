/**
 * The recomputing attention against the composite it replaces (attend with the materialised
 * bias), values and every gradient, on each backend; and the memory it is there to save.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { attend } from '../../../src/nodes/sam/ops.ts';
import { relativePositionBias } from '../../../src/nodes/sam/relative-position.ts';
import { relPosAttention } from '../../../src/nodes/sam/relpos-attention.ts';
import { BACKENDS, maxAbsDiff, useBackend } from '../../fixtures/tensors.ts';

const composite = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, h: tf.Tensor, w: tf.Tensor) =>
  attend(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, relativePositionBias(h as tf.Tensor4D, w as tf.Tensor4D));
const recomputed = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, h: tf.Tensor, w: tf.Tensor) =>
  relPosAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, h as tf.Tensor4D, w as tf.Tensor4D);

describe.each(BACKENDS)('relative-position attention with recompute on %s', (backend) => {
  it('gives the composite attention and its gradients for q, k, v and both bias terms', async () => {
    await useBackend(backend);
    tf.tidy(() => {
      const [b, qh, qw, kh, kw, d] = [3, 4, 5, 3, 6, 8];
      const seeded = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
      const inputs = [seeded([b, qh * qw, d], 1), seeded([b, kh * kw, d], 2), seeded([b, kh * kw, d], 3), seeded([b, qh, qw, kh], 4), seeded([b, qh, qw, kw], 5)];
      const weights = seeded([b, qh * qw, d], 6);
      const loss = (f: typeof composite) => (...xs: tf.Tensor[]) => tf.sum(tf.mul(f(xs[0]!, xs[1]!, xs[2]!, xs[3]!, xs[4]!), weights));
      expect(maxAbsDiff(recomputed(...(inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor])), composite(...(inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor])))).toBeLessThan(1e-5);
      const expected = tf.grads(loss(composite))(inputs);
      const actual = tf.grads(loss(recomputed))(inputs);
      for (const [i, name] of ['q', 'k', 'v', 'relH', 'relW'].entries()) {
        expect(actual[i]!.shape, name).toEqual(inputs[i]!.shape);
        expect(maxAbsDiff(actual[i]!, expected[i]!), name).toBeLessThan(1e-4);
      }
    });
  });
});

describe('relative-position attention memory', () => {
  it('keeps no [B, T, T] tensor for backward, where the composite keeps the softmax twice', async () => {
    await useBackend('cpu');
    const [b, side, d] = [2, 16, 8];
    const t = side * side;
    const inputs = [tf.randomNormal([b, t, d]), tf.randomNormal([b, t, d]), tf.randomNormal([b, t, d]), tf.randomNormal([b, side, side, side]), tf.randomNormal([b, side, side, side])];
    // Bytes alive while the tape holds what backward needs: measured inside tf.grads, after the forward.
    const heldBy = (f: typeof composite) => {
      let held = 0;
      tf.tidy(() =>
        tf.grads((...xs: tf.Tensor[]) => {
          const before = tf.memory().numBytes;
          const y = tf.tidy(() => f(xs[0]!, xs[1]!, xs[2]!, xs[3]!, xs[4]!));
          held = tf.memory().numBytes - before - y.size * 4;
          return tf.sum(y);
        })(inputs),
      );
      return held;
    };
    const map = b * t * t * 4;
    // The softmax output, saved by the softmax's gradient and by the product with v (the training
    // engine's Add gradient no longer keeps the logits and the bias for their shapes).
    expect(heldBy(composite)).toBeGreaterThanOrEqual(2 * map);
    expect(heldBy(recomputed)).toBeLessThan(map / 4);
    tf.dispose(inputs);
  });
});
