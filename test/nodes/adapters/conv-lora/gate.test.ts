import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { parseConvLoraConfig } from '../../../../src/nodes/adapters/conv-lora/config.ts';
import { cvSquared, noisyTopKGate } from '../../../../src/nodes/adapters/conv-lora/gate.ts';
import { mulberry32 } from '../../../../src/nodes/random.ts';
import { BACKENDS, fixture, fixtureData, maxAbsDiff, useBackend } from './fixtures.ts';

/** cv² with the unbiased variance, in doubles. */
function cv2(x: number[]): number {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / (x.length - 1);
  return variance / (mean * mean + 1e-10);
}

describe.each(BACKENDS)('noisy top-k gate on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('at initialisation (w_gate = w_noise = 0) routing follows the noise, hand-derived', () => {
    tf.tidy(() => {
      const config = parseConvLoraConfig({ experts: 3 });
      const noise = tf.tensor2d([
        [0.5, -1, 2],
        [1, 0.2, -0.3],
      ]);
      const g = noisyTopKGate({ pooled: tf.randomNormal([2, 3], 0, 1, 'float32', 7), wGate: tf.zeros([3, 3]), wNoise: tf.zeros([3, 3]), training: true, noise }, config);
      // σ = softplus(0) + 0.01 = ln 2 + 0.01 ≈ 0.7031 scales the noise, so the largest noise wins.
      expect(Math.log(2) + 0.01).toBeCloseTo(0.7031, 4);
      expect(Array.from(g.chosen)).toEqual([2, 0]);
      expect(Array.from(g.gates.dataSync())).toEqual([0, 0, 1, 1, 0, 0]);
      expect(Array.from(g.importance.dataSync())).toEqual([1, 0, 1]);
      // Clean logits are 0, so P = Φ(−threshold/σ) = Φ(−noise at the threshold): the 2nd-largest
      // noise for the chosen expert, the largest for the others.
      const phi = { m05: 0.3085375387, m2: 0.0227501319, m02: 0.4207402906, m1: 0.1586552539 };
      const load = [phi.m2 + phi.m02, phi.m2 + phi.m1, phi.m05 + phi.m1];
      const got = g.load.dataSync();
      load.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
      expect(cv2([1, 0, 1])).toBeCloseTo(0.75, 8); // (1/3) / (4/9), less the 1e-10 guard
      expect(g.balanceLoss.dataSync()[0]).toBeCloseTo(0.01 * (0.75 + cv2(load)), 6);
    });
  });

  const cases = [
    ['k1_train', 1, true],
    ['k2_train', 2, true],
    ['k4_train', 4, true],
    ['k1_eval', 1, false],
    ['k2_eval', 2, false],
  ] as const;

  it.each(cases)('%s matches PyTorch (gates, importance, load, loss and its gradients)', (name, topK, training) => {
    tf.tidy(() => {
      const config = parseConvLoraConfig({ experts: 4, topK });
      const pooled = fixture('gate_pooled') as tf.Tensor2D;
      const wGate = fixture('gate_w_gate');
      const wNoise = fixture('gate_w_noise');
      const noise = fixture('gate_noise') as tf.Tensor2D;
      const g = noisyTopKGate({ pooled, wGate, wNoise, training, noise }, config);
      expect(Array.from(g.chosen)).toEqual(Array.from(fixtureData(`gate_${name}_chosen`).data));
      expect(maxAbsDiff(g.gates, fixture(`gate_${name}_gates`))).toBeLessThan(1e-5);
      expect(maxAbsDiff(g.importance, fixture(`gate_${name}_importance`))).toBeLessThan(1e-5);
      expect(maxAbsDiff(g.load, fixture(`gate_${name}_load`))).toBeLessThan(1e-5);
      expect(maxAbsDiff(g.balanceLoss.reshape([1]), fixture(`gate_${name}_loss`))).toBeLessThan(1e-6);
      const loss = (p: tf.Tensor, wg: tf.Tensor, wn: tf.Tensor) =>
        noisyTopKGate({ pooled: p as tf.Tensor2D, wGate: wg, wNoise: wn, training, noise }, config).balanceLoss;
      if (training) {
        const [gp, gg, gn] = tf.grads(loss)([pooled, wGate, wNoise]);
        expect(maxAbsDiff(gp!, fixture(`gate_${name}_grad_pooled`))).toBeLessThan(1e-5);
        expect(maxAbsDiff(gg!, fixture(`gate_${name}_grad_w_gate`))).toBeLessThan(1e-5);
        expect(maxAbsDiff(gn!, fixture(`gate_${name}_grad_w_noise`))).toBeLessThan(1e-5);
      } else if (topK > 1) {
        // In eval only importance carries a gradient (through the top-k softmax), and w_noise is unused.
        const [gp, gg] = tf.grads((p: tf.Tensor, wg: tf.Tensor) => loss(p, wg, wNoise))([pooled, wGate]);
        expect(maxAbsDiff(gp!, fixture(`gate_${name}_grad_pooled`))).toBeLessThan(1e-5);
        expect(maxAbsDiff(gg!, fixture(`gate_${name}_grad_w_gate`))).toBeLessThan(1e-5);
      }
    });
  });

  it('cv² is 0 for a single expert, and so is the balance loss', () => {
    tf.tidy(() => {
      expect(cvSquared(tf.tensor1d([5])).dataSync()[0]).toBe(0);
      expect(cvSquared(tf.tensor1d([2, 2, 2])).dataSync()[0]).toBe(0);
      expect(cvSquared(tf.tensor1d([1, 0, 1])).dataSync()[0]).toBeCloseTo(0.75, 6);
      const config = parseConvLoraConfig({ experts: 1 });
      for (const training of [true, false]) {
        const g = noisyTopKGate(
          { pooled: tf.randomNormal([4, 3], 0, 1, 'float32', 1), wGate: tf.randomNormal([3, 1], 0, 1, 'float32', 2), wNoise: tf.zeros([3, 1]), training, random: mulberry32(3) },
          config,
        );
        expect(Array.from(g.chosen)).toEqual([0, 0, 0, 0]);
        expect(g.balanceLoss.dataSync()[0]).toBe(0);
      }
    });
  });

  it('draws its noise from the seeded generator, and insists on one in training', () => {
    tf.tidy(() => {
      const config = parseConvLoraConfig({ experts: 8 });
      const input = { pooled: tf.randomNormal([16, 3], 0, 1, 'float32', 1) as tf.Tensor2D, wGate: tf.zeros([3, 8]), wNoise: tf.zeros([3, 8]), training: true };
      const a = noisyTopKGate({ ...input, random: mulberry32(42) }, config);
      const b = noisyTopKGate({ ...input, random: mulberry32(42) }, config);
      const c = noisyTopKGate({ ...input, random: mulberry32(43) }, config);
      expect(Array.from(a.chosen)).toEqual(Array.from(b.chosen));
      expect(Array.from(a.chosen)).not.toEqual(Array.from(c.chosen));
      expect(() => noisyTopKGate(input, config)).toThrow(/noise or a seeded random generator/);
      expect(() => noisyTopKGate({ ...input, noise: tf.zeros([16, 7]) as tf.Tensor2D }, config)).toThrow(/noise must be \[16, 8\]/);
    });
  });
});
