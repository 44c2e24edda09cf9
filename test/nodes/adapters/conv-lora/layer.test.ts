import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { type ConvLoraConfig, parseConvLoraConfig } from '../../../../src/nodes/adapters/conv-lora/config.ts';
import { type ConvLoraWeights, convLoraDelta, createConvLoraWeights } from '../../../../src/nodes/adapters/conv-lora/layer.ts';
import { BACKENDS, fixture, fixtureData, maxAbsDiff, useBackend } from './fixtures.ts';

const variablesOf = (w: ConvLoraWeights) => [w.a, w.b, w.wGate, w.wNoise, ...w.expertFilters, ...w.expertBiases];
const disposeWeights = (w: ConvLoraWeights) => variablesOf(w).forEach((v) => v.dispose());

function fixtureWeights(): ConvLoraWeights {
  return tf.tidy(() => ({
    a: tf.variable(fixture('layer_a')),
    b: tf.variable(fixture('layer_b')),
    wGate: tf.variable(fixture('layer_w_gate')),
    wNoise: tf.variable(fixture('layer_w_noise')),
    expertFilters: tf.unstack(fixture('layer_filters')).map((t) => tf.variable(t)),
    expertBiases: tf.unstack(fixture('layer_biases')).map((t) => tf.variable(t)),
  }));
}

/** Weights with every tensor random (B, the gate and the biases too), so every gradient is exercised. */
function randomWeights(inDim: number, outDim: number, config: ConvLoraConfig, seed: number): ConvLoraWeights {
  const w = createConvLoraWeights(inDim, outDim, config, seed);
  tf.tidy(() => {
    let s = seed * 1000;
    const fill = (v: tf.Variable, scale: number) => v.assign(tf.randomNormal(v.shape, 0, scale, 'float32', ++s));
    fill(w.b, 0.5);
    fill(w.wGate, 0.5);
    fill(w.wNoise, 0.5);
    w.expertBiases.forEach((v) => fill(v, 0.1));
  });
  return w;
}

/** The test objective: sum(delta · R) + balance loss. */
function objective(x: tf.Tensor4D, w: ConvLoraWeights, config: ConvLoraConfig, r: tf.Tensor, noise: tf.Tensor2D): tf.Scalar {
  const out = convLoraDelta(x, w, config, { training: true, noise });
  return tf.add(tf.sum(tf.mul(out.delta, r)), out.balanceLoss) as tf.Scalar;
}

function gradsOf(f: () => tf.Scalar, w: ConvLoraWeights): tf.Tensor[] {
  const { value, grads } = tf.variableGrads(f, variablesOf(w));
  value.dispose();
  // An expert that saw no sample is not on the tape: its gradient is zero.
  return variablesOf(w).map((v) => grads[v.name] ?? tf.zerosLike(v));
}

describe('Conv-LoRA config', () => {
  it('has the official defaults and scaling alpha / rank', () => {
    const c = parseConvLoraConfig();
    expect(c).toEqual({ rank: 3, alpha: 32, experts: 8, topK: 1, noiseEpsilon: 1e-2, balanceCoefficient: 1e-2, gateWeighted: false, dropout: 0 });
  });

  it('rejects impossible configs with clear messages', () => {
    expect(() => parseConvLoraConfig({ experts: 2, topK: 3 }, 'cfg.json')).toThrow(/cfg.json: 'topK': topK 3 is larger than experts 2/);
    expect(() => parseConvLoraConfig({ rank: 0 })).toThrow(/'rank'/);
    expect(() => parseConvLoraConfig({ dropout: 1 })).toThrow(/'dropout'/);
    expect(() => parseConvLoraConfig({ rnak: 3 })).toThrow(/rnak/);
  });
});

describe.each(BACKENDS)('Conv-LoRA layer on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  describe('against PyTorch', () => {
    let w: ConvLoraWeights;
    const config = parseConvLoraConfig({ rank: 3, alpha: 32, experts: 5, topK: 1 });
    beforeAll(() => {
      w = fixtureWeights();
    });
    afterAll(() => disposeWeights(w));

    it('forward delta, balance loss and routing in training, with the same explicit noise', () => {
      tf.tidy(() => {
        const out = convLoraDelta(fixture('layer_x') as tf.Tensor4D, w, config, { training: true, noise: fixture('layer_noise') as tf.Tensor2D });
        expect(Array.from(out.usage)).toEqual([1, 2, 1, 1, 0]);
        expect(maxAbsDiff(out.delta, fixture('layer_delta'))).toBeLessThan(1e-4);
        expect(maxAbsDiff(out.balanceLoss.reshape([1]), fixture('layer_loss'))).toBeLessThan(1e-6);
      });
    });

    it('forward in eval (clean logits, count load)', () => {
      tf.tidy(() => {
        const out = convLoraDelta(fixture('layer_x') as tf.Tensor4D, w, config, { training: false });
        const usage = [0, 0, 0, 0, 0];
        for (const e of fixtureData('layer_eval_chosen').data) usage[e]!++;
        expect(Array.from(out.usage)).toEqual(usage);
        expect(maxAbsDiff(out.delta, fixture('layer_eval_delta'))).toBeLessThan(1e-4);
        expect(maxAbsDiff(out.balanceLoss.reshape([1]), fixture('layer_eval_loss'))).toBeLessThan(1e-6);
      });
    });

    it('gradients of sum(delta · R) + balance loss match torch autograd', () => {
      tf.tidy(() => {
        const x = fixture('layer_x') as tf.Tensor4D;
        const noise = fixture('layer_noise') as tf.Tensor2D;
        const r = fixture('layer_r');
        const grads = gradsOf(() => objective(x, w, config, r, noise), w);
        const m = config.experts;
        const expected = [
          fixture('layer_grad_a'),
          fixture('layer_grad_b'),
          fixture('layer_grad_w_gate'),
          fixture('layer_grad_w_noise'),
          ...tf.unstack(fixture('layer_grad_filters')),
          ...tf.unstack(fixture('layer_grad_biases')),
        ];
        const names = ['A', 'B', 'w_gate', 'w_noise', ...Array.from({ length: m }, (_, i) => `filter ${i}`), ...Array.from({ length: m }, (_, i) => `bias ${i}`)];
        grads.forEach((g, i) => expect(maxAbsDiff(g, expected[i]!), names[i]).toBeLessThan(1e-4));
        // The task loss reaches the router only through the balance loss, which is small but nonzero.
        expect(tf.max(tf.abs(grads[3]!)).dataSync()[0]).toBeGreaterThan(1e-6);
      });
    });
  });

  it.each([
    ['top-1, unweighted (official)', { topK: 1 }],
    ['top-2, gate-weighted', { topK: 2, gateWeighted: true }],
  ])('finite differences agree with the gradients: %s', (_, overrides) => {
    const config = parseConvLoraConfig({ rank: 2, alpha: 4, experts: 3, balanceCoefficient: 1, ...overrides });
    const w = randomWeights(4, 3, config, 5);
    tf.tidy(() => {
      const x = tf.randomNormal([4, 2, 3, 4], 0, 1, 'float32', 11) as tf.Tensor4D;
      const r = tf.randomNormal([4, 2, 3, 3], 0, 0.2, 'float32', 12);
      // Well-separated noise (σ ≈ 0.7) keeps routing and thresholds fixed under the perturbations.
      const noise = tf.tensor2d([
        [2, 0, -2],
        [0, 2, -2],
        [-2, 0, 2],
        [0, -2, 2],
      ]);
      const loss = () => objective(x, w, config, r, noise);
      const usage = convLoraDelta(x, w, config, { training: true, noise }).usage;
      expect(Array.from(usage).every((u) => u > 0)).toBe(true);
      const grads = gradsOf(loss, w);
      const eps = 5e-3;
      variablesOf(w).forEach((v, p) => {
        const base = v.dataSync().slice();
        const g = grads[p]!.dataSync();
        for (const idx of new Set([0, Math.floor(base.length / 2), base.length - 1])) {
          const at = (delta: number) => {
            const values = base.slice();
            values[idx] = values[idx]! + delta;
            v.assign(tf.tensor(values, v.shape));
            return loss().dataSync()[0]!;
          };
          const fd = (at(eps) - at(-eps)) / (2 * eps);
          v.assign(tf.tensor(base, v.shape));
          // float32 central differences at eps = 5e-3 agree to a few 1e-5 here.
          const err = Math.abs(fd - g[idx]!) / (2e-4 + 2e-3 * Math.abs(g[idx]!));
          expect(err, `parameter ${p} [${idx}]: finite difference ${fd}, gradient ${g[idx]}`).toBeLessThan(1);
        }
      });
    });
    disposeWeights(w);
  });

  it('sparse dispatch: usage sums to N, batching matches per-sample calls, an unused expert gets no gradient', () => {
    const config = parseConvLoraConfig({ experts: 4 });
    const w = randomWeights(8, 6, config, 9);
    tf.tidy(() => {
      const x = tf.randomNormal([6, 3, 3, 8], 0, 1, 'float32', 21) as tf.Tensor4D;
      const route = [0, 1, 0, 1, 1, 0];
      const noise = tf.tensor2d(route.flatMap((e) => [0, 1, 2, 3].map((j) => (j === e ? 8 : -j))), [6, 4]);
      const out = convLoraDelta(x, w, config, { training: true, noise });
      expect(Array.from(out.usage)).toEqual([3, 3, 0, 0]);
      const single = route.map((_, n) =>
        convLoraDelta(x.slice([n, 0, 0, 0], [1, 3, 3, 8]), w, config, { training: true, noise: noise.slice([n, 0], [1, 4]) }).delta,
      );
      expect(maxAbsDiff(out.delta, tf.concat(single, 0))).toBeLessThan(1e-5);

      const r = tf.randomNormal(out.delta.shape, 0, 1, 'float32', 22);
      const grads = gradsOf(() => objective(x, w, config, r, noise), w);
      const norm = (i: number) => tf.sum(tf.abs(grads[4 + i]!)).dataSync()[0]! + tf.sum(tf.abs(grads[8 + i]!)).dataSync()[0]!;
      expect(norm(0)).toBeGreaterThan(0);
      expect(norm(1)).toBeGreaterThan(0);
      expect(norm(2)).toBe(0);
      expect(norm(3)).toBe(0);

      const seeded = convLoraDelta(tf.randomNormal([40, 2, 2, 8], 0, 1, 'float32', 23) as tf.Tensor4D, w, config, { training: true, seed: 3 });
      expect(seeded.usage.reduce((a, b) => a + b, 0)).toBe(40);
      expect(Array.from(seeded.usage).filter((u) => u > 0).length).toBeGreaterThan(1);
    });
    disposeWeights(w);
  });

  it('initialises as the spec says: delta starts at zero and routing at random', () => {
    const config = parseConvLoraConfig();
    const w = createConvLoraWeights(16, 48, config, 1);
    const again = createConvLoraWeights(16, 48, config, 1);
    tf.tidy(() => {
      expect(w.a.shape).toEqual([16, 3]);
      expect(w.b.shape).toEqual([3, 48]);
      expect(w.wGate.shape).toEqual([3, 8]);
      expect(w.expertFilters).toHaveLength(8);
      expect(w.expertFilters[0]!.shape).toEqual([3, 3, 3, 3]);
      expect(w.expertBiases[7]!.shape).toEqual([3]);
      const maxAbs = (t: tf.Tensor) => tf.max(tf.abs(t)).dataSync()[0]!;
      expect(maxAbs(w.a)).toBeLessThanOrEqual(1 / 4);
      expect(maxAbs(w.a)).toBeGreaterThan(0.15);
      expect(maxAbs(w.expertFilters[3]!)).toBeLessThanOrEqual(1 / Math.sqrt(27));
      for (const zero of [w.b, w.wGate, w.wNoise, ...w.expertBiases]) expect(maxAbs(zero)).toBe(0);
      expect(maxAbsDiff(w.a, again.a)).toBe(0);
      expect(maxAbsDiff(w.expertFilters[5]!, again.expertFilters[5]!)).toBe(0);
      expect(maxAbsDiff(w.expertFilters[5]!, w.expertFilters[6]!)).toBeGreaterThan(0);
      const out = convLoraDelta(tf.randomNormal([4, 5, 5, 16], 0, 1, 'float32', 2) as tf.Tensor4D, w, config, { training: true, seed: 7 });
      expect(maxAbs(out.delta)).toBe(0);
      expect(out.delta.shape).toEqual([4, 5, 5, 48]);
    });
    disposeWeights(w);
    disposeWeights(again);
  });

  it('dropout applies in training only, seeded; errors are clear', () => {
    const config = parseConvLoraConfig({ experts: 2, dropout: 0.5 });
    const w = randomWeights(4, 4, config, 3);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 2, 2, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
      const evalNoDrop = convLoraDelta(x, w, { ...config, dropout: 0 }, { training: false }).delta;
      expect(maxAbsDiff(convLoraDelta(x, w, config, { training: false }).delta, evalNoDrop)).toBe(0);
      const a = convLoraDelta(x, w, config, { training: true, seed: 4 }).delta;
      const b = convLoraDelta(x, w, config, { training: true, seed: 4 }).delta;
      const noDrop = convLoraDelta(x, w, { ...config, dropout: 0 }, { training: true, seed: 4 }).delta;
      expect(maxAbsDiff(a, b)).toBe(0);
      expect(maxAbsDiff(a, noDrop)).toBeGreaterThan(0);
      expect(() => convLoraDelta(x, w, config, { training: true })).toThrow(/needs a seed/);
      expect(() => convLoraDelta(tf.zeros([1, 2, 2, 5]) as tf.Tensor4D, w, config, { training: false })).toThrow(/5 channels, A expects 4/);
      expect(() => convLoraDelta(x, w, { ...config, experts: 3 }, { training: false })).toThrow(/2 experts, the config says 3/);
    });
    disposeWeights(w);
  });

  it('leaks no tensors across repeated forward and gradient calls', () => {
    const config = parseConvLoraConfig({ experts: 4 });
    const w = randomWeights(6, 6, config, 2);
    const x = tf.randomNormal([5, 3, 3, 6], 0, 1, 'float32', 3) as tf.Tensor4D;
    const r = tf.randomNormal([5, 3, 3, 6], 0, 1, 'float32', 4);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => {
        convLoraDelta(x, w, config, { training: true, seed: i }).delta.dataSync();
      });
      expect(tf.memory().numTensors).toBe(before);
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const out = convLoraDelta(x, w, config, { training: true, seed: i });
          return tf.add(tf.sum(tf.mul(out.delta, r)), out.balanceLoss) as tf.Scalar;
        });
        value.dataSync();
        Object.values(grads).forEach((g) => g.dataSync());
      });
      expect(tf.memory().numTensors).toBe(before);
    }
    // Outside a tidy, only the two returned tensors remain.
    const out = convLoraDelta(x, w, config, { training: false });
    expect(tf.memory().numTensors).toBe(before + 2);
    out.delta.dispose();
    out.balanceLoss.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, r]);
    disposeWeights(w);
  });
});
