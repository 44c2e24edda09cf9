/**
 * Structure loss, balanced BCE and Dice loss: values against float64 loop implementations of
 * the formulas (spec §3), gradients against central differences of those, on tiny inputs, on
 * every backend that loads; plus shape errors and tensor leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { BalancedBce, balancedBce } from '../../../src/nodes/losses/balanced-bce.ts';
import { DiceLoss, diceLoss } from '../../../src/nodes/losses/dice-loss.ts';
import { StructureLoss, structureLoss, structureWeights } from '../../../src/nodes/losses/structure-loss.ts';
import { BACKENDS, bce, expectGradClose, numericGrad, sigmoid, useBackend, values } from './reference.ts';

const step = { meta: { index: 0, split: 'train', epoch: 0, groupEnd: false }, training: true, emit: () => undefined };
const ctx = { node: 'loss', kind: 'k', seed: 0, emit: () => undefined };

// Two 5×6 images; masks with a block of ones (a boundary for the 31×31 weights to see).
const N = 2;
const H = 5;
const W = 6;
const SHAPE = [N, H, W, 1] as [number, number, number, number];
const X = values(N * H * W, 1, -3, 3);
const T = Array.from({ length: N * H * W }, (_, i) => {
  const b = Math.floor(i / (H * W));
  const r = Math.floor((i % (H * W)) / W);
  const c = i % W;
  return b === 0 ? (r >= 1 && r <= 3 && c >= 2 ? 1 : 0) : c < 2 ? 1 : 0;
});

/** 1 + 5|mean over the 31×31 zero-padded window − t|, counted directly. */
function weightsRef(t: readonly number[]): number[] {
  const out: number[] = [];
  for (let b = 0; b < N; b++) {
    for (let r = 0; r < H; r++) {
      for (let c = 0; c < W; c++) {
        let s = 0;
        for (let dr = -15; dr <= 15; dr++) {
          for (let dc = -15; dc <= 15; dc++) {
            const rr = r + dr;
            const cc = c + dc;
            if (rr >= 0 && rr < H && cc >= 0 && cc < W) s += t[b * H * W + rr * W + cc]!;
          }
        }
        out.push(1 + 5 * Math.abs(s / 961 - t[b * H * W + r * W + c]!));
      }
    }
  }
  return out;
}

function structureRef(x: readonly number[], t: readonly number[], mode: 'mean' | 'weighted'): number {
  const w = weightsRef(t);
  const meanBce = x.reduce((s, xi, i) => s + bce(xi, t[i]!), 0) / x.length;
  let total = 0;
  for (let b = 0; b < N; b++) {
    let inter = 0;
    let union = 0;
    let wb = 0;
    let ws = 0;
    for (let i = b * H * W; i < (b + 1) * H * W; i++) {
      const p = sigmoid(x[i]!);
      inter += w[i]! * p * t[i]!;
      union += w[i]! * (p + t[i]!);
      wb += w[i]! * bce(x[i]!, t[i]!);
      ws += w[i]!;
    }
    const wiou = 1 - (inter + 1) / (union - inter + 1);
    total += (mode === 'mean' ? meanBce : wb / ws) + wiou;
  }
  return total / N;
}

function balancedRef(x: readonly number[], t: readonly number[]): number {
  const pos = t.reduce((a, b) => a + b, 0) + 1e-10;
  const neg = t.reduce((a, b) => a + (1 - b), 0);
  const pw = neg / pos;
  const mean = x.reduce((s, xi, i) => s - (pw * t[i]! * Math.log(sigmoid(xi)) + (1 - t[i]!) * Math.log(1 - sigmoid(xi))), 0) / x.length;
  return (pos / (pos + neg)) * mean;
}

function diceRef(x: readonly number[], t: readonly number[], smooth = 1): number {
  let total = 0;
  for (let b = 0; b < N; b++) {
    let pt = 0;
    let ps = 0;
    let ts = 0;
    for (let i = b * H * W; i < (b + 1) * H * W; i++) {
      const p = sigmoid(x[i]!);
      pt += p * t[i]!;
      ps += p;
      ts += t[i]!;
    }
    total += 1 - (2 * pt + smooth) / (ps + ts + smooth);
  }
  return total / N;
}

describe.each(BACKENDS)('binary losses on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  const cases = [
    ['structure (official batch-mean BCE)', (x: tf.Tensor4D, t: tf.Tensor4D) => structureLoss(x, t), (x: number[]) => structureRef(x, T, 'mean')],
    ['structure (PraNet weighted BCE)', (x: tf.Tensor4D, t: tf.Tensor4D) => structureLoss(x, t, 'weighted'), (x: number[]) => structureRef(x, T, 'weighted')],
    ['balanced BCE', (x: tf.Tensor4D, t: tf.Tensor4D) => balancedBce(x, t), (x: number[]) => balancedRef(x, T)],
    ['dice', (x: tf.Tensor4D, t: tf.Tensor4D) => diceLoss(x, t), (x: number[]) => diceRef(x, T)],
  ] as const;

  it.each(cases)('%s: value and gradient', (_name, loss, ref) => {
    const x = tf.tensor4d(X, SHAPE);
    const t = tf.tensor4d(T, SHAPE);
    const value = loss(x, t);
    expect(value.dataSync()[0]).toBeCloseTo(ref(X), 5);
    const grad = tf.grad((v: tf.Tensor) => loss(v as tf.Tensor4D, t))(x);
    expectGradClose(grad.dataSync(), numericGrad(ref, X));
    tf.dispose([x, t, value, grad]);
  });

  it('the 31×31 weights count the zero padding in the mean', () => {
    const t = tf.tensor4d(T, SHAPE);
    const w = structureWeights(t);
    const ref = weightsRef(T);
    [...w.dataSync()].forEach((v, i) => expect(v).toBeCloseTo(ref[i]!, 5));
    tf.dispose([t, w]);
  });

  it('balanced BCE with no positive pixel stays finite', () => {
    const x = tf.tensor4d(X, SHAPE);
    const t = tf.zeros(SHAPE) as tf.Tensor4D;
    const value = balancedBce(x, t);
    expect(value.dataSync()[0]).toBeCloseTo(balancedRef(X, new Array(X.length).fill(0)), 5);
    tf.dispose([x, t, value]);
  });

  it.each([
    ['structure', StructureLoss, { bce: 'mean' }],
    ['balanced BCE', BalancedBce, {}],
    ['dice', DiceLoss, { smooth: 1 }],
  ] as const)('%s node: names both shapes, leaks no tensor', async (_name, def, params) => {
    const node = await def.worker.create(params as never, ctx);
    const x = tf.tensor4d(X, SHAPE);
    const t = tf.tensor4d(T, SHAPE);
    const before = tf.memory().numTensors;
    const { loss } = node.forward({ logits: x, masks: t }, step);
    loss.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const small = tf.zeros([2, 5, 5, 1]) as tf.Tensor4D;
    expect(() => node.forward({ logits: x, masks: small }, step)).toThrow('logits [2, 5, 6, 1] and masks [2, 5, 5, 1] differ in shape');
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([x, t, small]);
  });
});
