/**
 * gatherRows: tf.gather's values, and a gradient equal to a hand-computed scatter-add (each row
 * of x receives the sum of the upstream rows taken from it, untaken rows zero), on every backend,
 * including wasm, where tf.gather's own gradient (UnsortedSegmentSum) is missing.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { gatherRows } from '../../../src/nodes/tensor/gather-rows.ts';
import { BACKENDS, useBackend } from '../../fixtures/tensors.ts';

describe.each(BACKENDS)('gatherRows on %s', (backend) => {
  it('takes the rows tf.gather takes, and its gradient is the scatter-add of the upstream rows', async () => {
    await useBackend(backend);
    const x = tf.randomNormal([4, 2, 3, 5], 0, 1, 'float32', 1);
    const indices = [2, 0, 2, 3, 2];
    expect([...gatherRows(x, indices).dataSync()]).toEqual([...tf.gather(x, tf.tensor1d(indices, 'int32')).dataSync()]);
    const w = tf.randomNormal([5, 2, 3, 5], 0, 1, 'float32', 2);
    const grad = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(gatherRows(a, indices), w)))(x);
    expect(grad.shape).toEqual([4, 2, 3, 5]);
    // By hand: row r's gradient is the sum of w's rows j with indices[j] = r.
    const wd = w.dataSync();
    const per = 2 * 3 * 5;
    const expected = new Float32Array(4 * per);
    indices.forEach((r, j) => {
      for (let k = 0; k < per; k++) expected[r * per + k]! += wd[j * per + k]!;
    });
    const got = grad.dataSync();
    for (let i = 0; i < expected.length; i++) expect(Math.abs(got[i]! - expected[i]!), `element ${i}`).toBeLessThan(1e-6);
    // Row 1 is never taken: exactly zero.
    expect([...got.slice(per, 2 * per)].every((v) => v === 0)).toBe(true);
  });

  it('names an index outside the rows', async () => {
    await useBackend(backend);
    expect(() => gatherRows(tf.zeros([3, 2]), [0, 3])).toThrow('gatherRows: index 3 is outside the 3 rows of a [3, 2] tensor');
  });
});
