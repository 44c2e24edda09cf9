import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff, useBackend } from '../fixtures/tensors.ts';

/** Gradients of sum(matMul(a, b) · r), by the kernel's default gradient or by ours. */
async function grads(fast: boolean, aShape: number[], bShape: number[], ta: boolean, tb: boolean) {
  const a = tf.randomNormal(aShape, 0, 1, 'float32', 1);
  const b = tf.randomNormal(bShape, 0, 1, 'float32', 2);
  const y = tf.matMul(a, b, ta, tb);
  const r = tf.randomNormal(y.shape, 0, 1, 'float32', 3);
  if (fast) {
    const { registerFastMatMulGradient } = await import('../../workers/matmul-gradient.ts');
    registerFastMatMulGradient();
  }
  return tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z, ta, tb), r)))([a, b]);
}

describe('matMul gradient without transpose flags', () => {
  it('equals the default gradient for every flag combination, rank 2 and batched (wasm)', async () => {
    await useBackend('wasm');
    const cases: [number[], number[], boolean, boolean][] = [
      [[5, 7], [7, 3], false, false],
      [[5, 7], [3, 7], false, true],
      [[7, 5], [7, 3], true, false],
      [[7, 5], [3, 7], true, true],
      [[4, 5, 7], [4, 7, 3], false, false],
      [[4, 7, 5], [4, 3, 7], true, true],
    ];
    // Defaults first (the override is global once registered), then ours.
    const reference = [];
    for (const c of cases) reference.push(await grads(false, ...c));
    for (const [i, c] of cases.entries()) {
      const ours = await grads(true, ...c);
      expect(maxAbsDiff(ours[0]!, reference[i]![0]!), `da case ${i}`).toBeLessThan(1e-4);
      expect(maxAbsDiff(ours[1]!, reference[i]![1]!), `db case ${i}`).toBeLessThan(1e-4);
    }
  });
});
