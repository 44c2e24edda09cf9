/**
 * Cross-entropy with ignore label, masked depth L1, normal cosine and the weighted sum: values
 * against float64 loop implementations (ta-lora spec §3), gradients against central
 * differences, edge cases (all ignored / all invalid), errors and tensor leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { CrossEntropy, crossEntropy } from '../../../src/nodes/losses/cross-entropy.ts';
import { DepthL1, depthL1 } from '../../../src/nodes/losses/depth-l1.ts';
import { NormalCosine, normalCosine } from '../../../src/nodes/losses/normal-cosine.ts';
import { WeightedSum, weightedSum } from '../../../src/nodes/losses/weighted-sum.ts';
import { BACKENDS, expectGradClose, numericGrad, useBackend, values } from './reference.ts';

const step = { meta: { index: 0, split: 'train', epoch: 0, groupEnd: false }, training: true, emit: () => undefined };
const ctx = { node: 'loss', kind: 'k', seed: 0, emit: () => undefined };

const N = 2;
const H = 2;
const W = 3;
const C = 4;
const LOGITS = values(N * H * W * C, 3, -2, 2);
const LABELS = [0, 3, -1, 2, 2, 1, -1, -1, 0, 3, 1, 1];

function ceRef(x: readonly number[], labels: readonly number[]): number {
  let sum = 0;
  let count = 0;
  labels.forEach((y, p) => {
    if (y === -1) return;
    const z = x.slice(p * C, (p + 1) * C);
    const max = Math.max(...z);
    const lse = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
    sum += lse - z[y]!;
    count++;
  });
  return sum / count;
}

const DEPTH_GT = [1.5, 0, 2.25, 3, 0.5, 0, 4, 1, 0, 2, 2.5, 1];
const DEPTH_PRED = values(12, 5, 0, 4);
function depthRef(pred: readonly number[], gt: readonly number[]): number {
  let s = 0;
  let n = 0;
  gt.forEach((g, i) => {
    if (g !== 0) {
      s += Math.abs(pred[i]! - g);
      n++;
    }
  });
  return s / n;
}

// Unit ground-truth normals; pixel 1 invalid (0, 0, 0); pixel 4 sums to 0 (skipped, as the code does).
const NORMAL_GT = (() => {
  const raw = values(12 * 3, 7, -1, 1);
  const out: number[] = [];
  for (let p = 0; p < 12; p++) {
    const v = raw.slice(p * 3, p * 3 + 3);
    const norm = Math.hypot(...v);
    out.push(...(p === 1 ? [0, 0, 0] : p === 4 ? [Math.SQRT1_2, -Math.SQRT1_2, 0] : v.map((c) => c / norm)));
  }
  return out;
})();
const NORMAL_PRED = values(12 * 3, 9, -1, 1);
function normalRef(pred: readonly number[], gt: readonly number[]): number {
  let s = 0;
  let n = 0;
  for (let p = 0; p < gt.length / 3; p++) {
    const g = gt.slice(p * 3, p * 3 + 3);
    if (g[0]! + g[1]! + g[2]! === 0) continue;
    const v = pred.slice(p * 3, p * 3 + 3);
    const norm = Math.hypot(...v);
    s += (v[0]! * g[0]! + v[1]! * g[1]! + v[2]! * g[2]!) / norm;
    n++;
  }
  return 1 - s / n;
}

describe.each(BACKENDS)('dense losses on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('cross-entropy skips ignored pixels: value and gradient', () => {
    const x = tf.tensor4d(LOGITS, [N, H, W, C]);
    const y = tf.tensor4d(LABELS, [N, H, W, 1], 'int32');
    expect(crossEntropy(x, y).dataSync()[0]).toBeCloseTo(ceRef(LOGITS, LABELS), 5);
    const grad = tf.grad((v: tf.Tensor) => crossEntropy(v as tf.Tensor4D, y))(x);
    expectGradClose(grad.dataSync(), numericGrad((v) => ceRef(v, LABELS), LOGITS));
    tf.dispose([x, y, grad]);
  });

  it('cross-entropy: all ignored is 0 with zero gradient; a stray label is named', () => {
    const x = tf.tensor4d(LOGITS, [N, H, W, C]);
    const ignored = tf.fill([N, H, W, 1], 255, 'int32') as tf.Tensor4D;
    expect(crossEntropy(x, ignored, 255).dataSync()[0]).toBe(0);
    expect([...tf.grad((v: tf.Tensor) => crossEntropy(v as tf.Tensor4D, ignored, 255))(x).dataSync()].every((g) => g === 0)).toBe(true);
    expect(() => crossEntropy(x, ignored, -1)).toThrow('crossEntropy: label 255 at pixel 0 is outside [0, 4) and is not the ignore index -1');
    const wrong = tf.zeros([N, H, W + 1, 1], 'int32') as tf.Tensor4D;
    expect(() => crossEntropy(x, wrong)).toThrow('crossEntropy: labels [2, 2, 4, 1] must be NHW1 matching logits [2, 2, 3, 4]');
    tf.dispose([x, ignored, wrong]);
  });

  it('depth L1 over valid pixels: value and gradient; all invalid is 0', () => {
    const p = tf.tensor4d(DEPTH_PRED, [N, H, W, 1]);
    const g = tf.tensor4d(DEPTH_GT, [N, H, W, 1]);
    expect(depthL1(p, g).dataSync()[0]).toBeCloseTo(depthRef(DEPTH_PRED, DEPTH_GT), 5);
    const grad = tf.grad((v: tf.Tensor) => depthL1(v as tf.Tensor4D, g))(p);
    expectGradClose(grad.dataSync(), numericGrad((v) => depthRef(v, DEPTH_GT), DEPTH_PRED));
    expect(depthL1(p, tf.zerosLike(g)).dataSync()[0]).toBe(0);
  });

  it('normal cosine with unit-normalised predictions: value and gradient', () => {
    const p = tf.tensor4d(NORMAL_PRED, [N, H, W, 3]);
    const g = tf.tensor4d(NORMAL_GT, [N, H, W, 3]);
    expect(normalCosine(p, g).dataSync()[0]).toBeCloseTo(normalRef(NORMAL_PRED, NORMAL_GT), 5);
    const grad = tf.grad((v: tf.Tensor) => normalCosine(v as tf.Tensor4D, g))(p);
    expectGradClose(grad.dataSync(), numericGrad((v) => normalRef(v, NORMAL_GT), NORMAL_PRED));
    // A perfect prediction at any scale scores 0.
    expect(normalCosine(tf.mul(g, 3) as tf.Tensor4D, g).dataSync()[0]).toBeCloseTo(normalRef(NORMAL_GT.map((v) => 3 * v), NORMAL_GT), 5);
    expect(() => normalCosine(tf.zeros([1, 2, 2, 1]) as tf.Tensor4D, tf.zeros([1, 2, 2, 1]) as tf.Tensor4D)).toThrow('normalCosine: prediction must be NHW3, got [1, 2, 2, 1]');
  });

  it('weighted sum: task weights, normalisation over connected tasks, auxiliary ports', () => {
    const [a, b, c, moe, orth] = [0.5, 2, 0.25, 0.03, 7].map((v) => tf.scalar(v)) as [tf.Scalar, tf.Scalar, tf.Scalar, tf.Scalar, tf.Scalar];
    const total = weightedSum({ losses: [a, undefined, c], weights: [1, 9, 4], normalize: true, moe, moeWeight: 1, orth, orthWeight: 0.1 });
    expect(total.dataSync()[0]).toBeCloseTo((1 * 0.5 + 4 * 0.25) / 5 + 0.03 + 0.7, 5);
    const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => weightedSum({ losses: [x as tf.Scalar], weights: [2], orth: y as tf.Scalar, orthWeight: 0.5 }))([a, b]);
    expect(grads.map((g) => g.dataSync()[0])).toEqual([2, 0.5]);
    expect(() => weightedSum({ losses: [undefined], weights: [] })).toThrow('weightedSum: no task loss is connected (loss0..loss3)');
    tf.dispose([a, b, c, moe, orth, total, ...grads]);
  });

  it('nodes leak no tensor', async () => {
    const x = tf.tensor4d(LOGITS, [N, H, W, C]);
    const y = tf.tensor4d(LABELS, [N, H, W, 1], 'int32');
    const dp = tf.tensor4d(DEPTH_PRED, [N, H, W, 1]);
    const dg = tf.tensor4d(DEPTH_GT, [N, H, W, 1]);
    const np = tf.tensor4d(NORMAL_PRED, [N, H, W, 3]);
    const ng = tf.tensor4d(NORMAL_GT, [N, H, W, 3]);
    const ce = await CrossEntropy.worker.create({ ignoreIndex: -1 }, ctx);
    const depth = await DepthL1.worker.create({}, ctx);
    const normal = await NormalCosine.worker.create({}, ctx);
    const sum = await WeightedSum.worker.create({ weights: [1, 1, 4], normalize: true, moeWeight: 1, orthWeight: 1 }, ctx);
    const before = tf.memory().numTensors;
    const l0 = ce.forward({ logits: x, labels: y }, step).loss;
    const l1 = depth.forward({ pred: dp, gt: dg }, step).loss;
    const l2 = normal.forward({ pred: np, gt: ng }, step).loss;
    const total = sum.forward({ loss0: l0, loss1: l1, loss2: l2 }, step).loss;
    const expected = (ceRef(LOGITS, LABELS) + depthRef(DEPTH_PRED, DEPTH_GT) + 4 * normalRef(NORMAL_PRED, NORMAL_GT)) / 6;
    expect(total.dataSync()[0]).toBeCloseTo(expected, 5);
    tf.dispose([l0, l1, l2, total]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y, dp, dg, np, ng]);
  });
});
