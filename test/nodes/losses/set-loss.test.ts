/**
 * The Mask2Former-style set loss and its Hungarian matching: matching against brute force over
 * every assignment, value and gradients against a float64 loop implementation of the HF
 * definitions (costs 1/5/5, no-object 0.1, losses summed 1:1:1), images with no class, errors
 * and leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { linearSumAssignment } from '../../../src/nodes/losses/hungarian.ts';
import { SetLoss, setLoss } from '../../../src/nodes/losses/set-loss.ts';
import { BACKENDS, bce, expectGradClose, numericGrad, sigmoid, useBackend, values } from './reference.ts';

/** Minimum total cost over all injective maps of the smaller side into the larger (brute force). */
function bruteForce(cost: number[][]): { total: number; cols: number[] } {
  const rows = cost.length;
  const cols = cost[0]!.length;
  let best = { total: Infinity, cols: [] as number[] };
  const transpose = rows > cols;
  const m = transpose ? cols : rows;
  const n = transpose ? rows : cols;
  const at = (i: number, j: number) => (transpose ? cost[j]![i]! : cost[i]![j]!);
  const pick = (i: number, used: number[], total: number) => {
    if (i === m) {
      if (total < best.total) best = { total, cols: [...used] };
      return;
    }
    for (let j = 0; j < n; j++) if (!used.includes(j)) pick(i + 1, [...used, j], total + at(i, j));
  };
  pick(0, [], 0);
  return best;
}

describe('linearSumAssignment', () => {
  it('finds the minimum on square and rectangular matrices, sorted by row', () => {
    expect(linearSumAssignment([[4, 1, 3], [2, 0, 5], [3, 2, 2]])).toEqual({ rows: [0, 1, 2], cols: [1, 0, 2] });
    for (const [r, c, seed] of [[5, 5, 1], [6, 3, 2], [3, 6, 3], [7, 4, 4]] as const) {
      const v = values(r * c, seed, 0, 10);
      const cost = Array.from({ length: r }, (_, i) => v.slice(i * c, (i + 1) * c));
      const { rows, cols } = linearSumAssignment(cost);
      expect(rows.length).toBe(Math.min(r, c));
      expect([...rows].sort((a, b) => a - b)).toEqual(rows);
      const total = rows.reduce((s, row, k) => s + cost[row]![cols[k]!]!, 0);
      expect(total).toBeCloseTo(bruteForce(cost).total, 10);
    }
  });

  it('refuses ragged and non-finite matrices', () => {
    expect(() => linearSumAssignment([[1, 2], [3]])).toThrow('linearSumAssignment: row 1 has 1 columns, row 0 has 2');
    expect(() => linearSumAssignment([[1, NaN]])).toThrow('linearSumAssignment: cost[0][1] is NaN; costs must be finite');
    expect(linearSumAssignment([])).toEqual({ rows: [], cols: [] });
  });
});

// 3 images of 3×4 pixels, Q = 4 tokens, K = 3 classes (+ "no object").
const N = 3;
const Q = 4;
const H = 3;
const W = 4;
const P = H * W;
const K = 3;
const MASKS = values(N * Q * P, 11, -3, 3);
const CLASSES = values(N * Q * (K + 1), 12, -2, 2);
// image 0: classes 0 and 2 and two ignored pixels; image 1: class 1 only; image 2: all ignored
const LABELS = [0, 0, 2, 2, 0, -1, 2, 2, 0, 0, -1, 2, ...new Array(P).fill(1), ...new Array(P).fill(-1)];

function reference(masks: readonly number[], classes: readonly number[], weights = { ce: 1, mask: 1, dice: 1 }): number {
  let ceSum = 0;
  let ceWeight = 0;
  let maskSum = 0;
  let diceSum = 0;
  let numMasks = 0;
  for (let b = 0; b < N; b++) {
    const labels = LABELS.slice(b * P, (b + 1) * P);
    const present = [...new Set(labels.filter((l) => l >= 0))].sort();
    numMasks += present.length;
    const softmax = (q: number) => {
      const z = classes.slice((b * Q + q) * (K + 1), (b * Q + q + 1) * (K + 1));
      const e = z.map(Math.exp);
      const s = e.reduce((a, v) => a + v, 0);
      return e.map((v) => v / s);
    };
    const maskOf = (q: number) => masks.slice((b * Q + q) * P, (b * Q + q + 1) * P);
    const bceMean = (q: number, c: number) => maskOf(q).reduce((s, x, p) => s + bce(x, labels[p] === c ? 1 : 0), 0) / P;
    const diceOf = (q: number, c: number) => {
      const m = maskOf(q);
      let pt = 0;
      let ps = 0;
      let ts = 0;
      m.forEach((x, p) => {
        const t = labels[p] === c ? 1 : 0;
        pt += sigmoid(x) * t;
        ps += sigmoid(x);
        ts += t;
      });
      return 1 - (2 * pt + 1) / (ps + ts + 1);
    };
    const target = new Array(Q).fill(K);
    if (present.length) {
      const cost = Array.from({ length: Q }, (_, q) => present.map((c) => -softmax(q)[c]! + 5 * bceMean(q, c) + 5 * diceOf(q, c)));
      // brute force over the transpose: each class picks a distinct token
      const t = cost[0]!.map((_, j) => cost.map((row) => row[j]!));
      const { cols: tokens } = bruteForce(t);
      tokens.forEach((q, j) => {
        target[q] = present[j]!;
        maskSum += bceMean(q, present[j]!);
        diceSum += diceOf(q, present[j]!);
      });
    }
    for (let q = 0; q < Q; q++) {
      const w = target[q] === K ? 0.1 : 1;
      ceSum += -w * Math.log(softmax(q)[target[q]]!);
      ceWeight += w;
    }
  }
  const nm = Math.max(numMasks, 1);
  return weights.ce * (ceSum / ceWeight) + weights.mask * (maskSum / nm) + weights.dice * (diceSum / nm);
}

describe.each(BACKENDS)('set loss on %s', (backend) => {
  beforeAll(() => useBackend(backend));
  const tensors = () => ({
    masks: tf.tensor4d(MASKS, [N, Q, H, W]),
    classes: tf.tensor3d(CLASSES, [N, Q, K + 1]),
    labels: tf.tensor4d(LABELS, [N, H, W, 1], 'int32'),
  });

  it('scoring every pixel, matches the brute-force reference: each term, the total, and the gradients', () => {
    const { masks, classes, labels } = tensors();
    for (const weights of [{ ce: 1, mask: 0, dice: 0 }, { ce: 0, mask: 1, dice: 0 }, { ce: 0, mask: 0, dice: 1 }, { ce: 1, mask: 1, dice: 1 }]) {
      const loss = setLoss(masks, classes, labels, { weights, points: 0 });
      expect(loss.dataSync()[0], JSON.stringify(weights)).toBeCloseTo(reference(MASKS, CLASSES, weights), 5);
      loss.dispose();
    }
    const [gm, gc] = tf.grads((m: tf.Tensor, c: tf.Tensor) => setLoss(m as tf.Tensor4D, c as tf.Tensor3D, labels, { points: 0 }))([masks, classes]);
    expectGradClose(gm!.dataSync(), numericGrad((m) => reference(m, CLASSES), MASKS));
    expectGradClose(gc!.dataSync(), numericGrad((c) => reference(MASKS, c), CLASSES));
    tf.dispose([masks, classes, labels, gm!, gc!]);
  });

  it('a batch without any class is all "no object", with zero mask gradient', () => {
    const { masks, classes } = tensors();
    const ignored = tf.fill([N, H, W, 1], -1, 'int32') as tf.Tensor4D;
    const [gm] = tf.grads((m: tf.Tensor) => setLoss(m as tf.Tensor4D, classes, ignored, { points: 0 }))([masks]);
    expect([...gm!.dataSync()].every((g) => g === 0)).toBe(true);
    const loss = setLoss(masks, classes, ignored, { points: 0 });
    let ce = 0;
    for (let t = 0; t < N * Q; t++) {
      const z = CLASSES.slice(t * (K + 1), (t + 1) * (K + 1));
      ce += Math.log(z.reduce((s, v) => s + Math.exp(v), 0)) - z[K]!;
    }
    expect(loss.dataSync()[0]).toBeCloseTo(ce / (N * Q), 5);
    tf.dispose([masks, classes, ignored, gm!, loss]);
  });

  it('names bad shapes and stray labels; the node leaks no tensor', async () => {
    const { masks, classes, labels } = tensors();
    const small = tf.zeros([2, 2, 2, 1], 'int32') as tf.Tensor4D;
    expect(() => setLoss(masks, classes, small)).toThrow('setLoss: labels [2, 2, 2, 1] must be [N, H, W, 1] with the N of the mask logits [3, 4, 3, 4]');
    const stray = tf.fill([N, H, W, 1], 7, 'int32') as tf.Tensor4D;
    expect(() => setLoss(masks, classes, stray)).toThrow('setLoss: label 7 in image 0 is outside [0, 3) and is not the ignore index -1');
    const node = await SetLoss.worker.create(
      SetLoss.params.parse({ points: 0 }),
      { node: 'set', kind: SetLoss.kind, seed: 0, emit: () => undefined },
    );
    const before = tf.memory().numTensors;
    const { loss } = node.forward({ masks, classes, labels }, { meta: { index: 0, split: 'train', epoch: 0, groupEnd: false }, training: true, emit: () => undefined });
    expect(loss.dataSync()[0]).toBeCloseTo(reference(MASKS, CLASSES), 5);
    loss.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([masks, classes, labels, small, stray]);
  });
});
