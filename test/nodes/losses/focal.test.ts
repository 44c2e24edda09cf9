/**
 * Focal loss against the formula computed in float64 loops, its gradient against central
 * differences, and the multimask promptable loss: only the lowest-loss mask gets a gradient,
 * and the IoU head regresses onto the masks' actual IoU.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { focalLoss } from '../../../src/nodes/losses/focal.ts';
import { promptableLoss } from '../../../src/nodes/sam/pretrain-loss.ts';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
function reference(x: number[], t: number[], alpha = 0.25, gamma = 2): number {
  let sum = 0;
  x.forEach((xi, i) => {
    const p = sigmoid(xi);
    const pt = t[i] ? p : 1 - p;
    const a = t[i] ? alpha : 1 - alpha;
    sum += -a * (1 - pt) ** gamma * Math.log(pt);
  });
  return sum / x.length;
}

describe('focal loss', () => {
  it('matches the formula, and its gradient matches central differences', () => {
    const x = [-3, -0.5, 0, 0.7, 2.5, -1.2];
    const t = [0, 1, 1, 0, 1, 0];
    const value = tf.tidy(() => focalLoss(tf.tensor2d(x, [1, 6]), tf.tensor2d(t, [1, 6])).dataSync()[0]!);
    expect(value).toBeCloseTo(reference(x, t), 6);
    expect(tf.tidy(() => focalLoss(tf.tensor2d(x, [1, 6]), tf.tensor2d(t, [1, 6]), { alpha: -1, gamma: 0 }).dataSync()[0]!)).toBeCloseTo(reference(x, t, 0.5, 0) * 2, 6);
    const grad = tf.tidy(() => [...tf.grad((l: tf.Tensor) => focalLoss(l, tf.tensor2d(t, [1, 6])))(tf.tensor2d(x, [1, 6])).dataSync()]);
    const h = 1e-3;
    grad.forEach((g, i) => {
      const up = [...x];
      const down = [...x];
      up[i]! += h;
      down[i]! -= h;
      expect(g).toBeCloseTo((reference(up, t) - reference(down, t)) / (2 * h), 3);
    });
  });

  it('names both shapes when they differ', () => {
    expect(() => tf.tidy(() => focalLoss(tf.zeros([1, 4]), tf.zeros([1, 5])))).toThrow(/\[1, 4\] and masks \[1, 5\]/);
  });
});

describe('promptable loss (multimask, min loss, IoU head)', () => {
  it('back-propagates only the lowest-loss mask and regresses the IoU head onto the actual IoU', () => {
    const before = tf.memory().numTensors;
    // One sample, 2x2 pixels (target: the top row), three masks in NHWK: mask 0 predicts pixel 0
    // only (IoU 1/2), mask 1 the top row (IoU 1), mask 2 pixels 0..2 (IoU 2/3).
    const target = tf.tensor4d([1, 1, 0, 0], [1, 2, 2, 1]);
    const initial = [tf.tensor4d([4, 4, 4, -4, 4, 4, -4, -4, 4, -4, -4, -4], [1, 2, 2, 3]), tf.tensor2d([0.5, 0.5, 0.5], [1, 3])];
    const logits = tf.variable(initial[0]!);
    const iouPred = tf.variable(initial[1]!);
    const { value, grads } = tf.variableGrads(() => {
      const loss = promptableLoss(logits as unknown as tf.Tensor4D, iouPred as unknown as tf.Tensor2D, target as tf.Tensor4D);
      const total = tf.add(loss.mask, loss.iou) as tf.Scalar;
      expect([...loss.best.dataSync()]).toEqual([1]);
      return total;
    }, [logits, iouPred]);
    const g = grads[logits.name]!.arraySync() as number[][][][];
    const perMask = [0, 1, 2].map((k) => g[0]!.flat().reduce((n, px) => n + Math.abs(px[k]!), 0));
    expect(perMask[0]).toBe(0);
    expect(perMask[2]).toBe(0);
    expect(perMask[1]).toBeGreaterThan(0);
    const ious = [1 / 2, 1, 2 / 3];
    const iouGrad = [...grads[iouPred.name]!.dataSync()];
    iouGrad.forEach((gi, k) => expect(gi).toBeCloseTo((2 / 3) * (0.5 - ious[k]!), 5));
    tf.dispose([value, ...Object.values(grads), logits, iouPred, target, ...initial]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
