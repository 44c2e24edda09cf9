import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { SigmoidBce } from '../../../src/nodes/losses/sigmoid-bce.ts';

const step = { meta: { index: 0, split: 'train', epoch: 0, groupEnd: false }, training: true, emit: () => undefined };

describe('sigmoid BCE', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('matches the hand-derived value and gradient', async () => {
    const node = await SigmoidBce.worker.create({}, { node: 'loss', kind: SigmoidBce.kind, seed: 0, emit: () => undefined });
    const x = [0, 2, -1, 3];
    const y = [1, 0, 1, 1];
    const logits = tf.tensor4d(x, [1, 2, 2, 1]);
    const masks = tf.tensor4d(y, [1, 2, 2, 1]);
    // BCE(x, y) = log(1 + e^-x) + (1 - y) x ; d/dx = sigmoid(x) - y, divided by n for the mean
    const expected = x.reduce((s, xi, i) => s + Math.log1p(Math.exp(-xi)) + (1 - y[i]!) * xi, 0) / x.length;
    const { loss } = node.forward({ logits, masks }, step);
    expect(loss.dataSync()[0]).toBeCloseTo(expected, 6);
    const grad = tf.grad((l: tf.Tensor) => node.forward({ logits: l as tf.Tensor4D, masks }, step).loss)(logits);
    const analytic = x.map((xi, i) => (1 / (1 + Math.exp(-xi)) - y[i]!) / x.length);
    [...grad.dataSync()].forEach((g, i) => expect(g).toBeCloseTo(analytic[i]!, 6));
  });

  it('names both shapes when they differ', async () => {
    const node = await SigmoidBce.worker.create({}, { node: 'loss', kind: SigmoidBce.kind, seed: 0, emit: () => undefined });
    expect(() => node.forward({ logits: tf.zeros([1, 2, 2, 1]) as tf.Tensor4D, masks: tf.zeros([1, 4, 4, 1]) as tf.Tensor4D }, step)).toThrow(
      'logits [1, 2, 2, 1] and masks [1, 4, 4, 1] differ in shape',
    );
  });
});
