/**
 * The point-sampled set loss against HF's Mask2Former loss rebuilt in float64 torch
 * (test/fixtures/set-loss/make_fixtures.py: grid_sample point sampling, importance sampling,
 * brute-force matching), fed the same uniform draws; and the bilinear taps against hand-derived
 * grid_sample / F.interpolate values.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { setLoss } from '../../../src/nodes/losses/set-loss.ts';
import { importancePoints, sampleClassMask, sampleMap, seededUniforms } from '../../../src/nodes/losses/point-sampling.ts';
import { mulberry32 } from '../../../src/nodes/random.ts';
import { npyFixtures } from '../../fixtures/tensors.ts';
import { BACKENDS, expectGradClose, useBackend } from './reference.ts';

const { fixtureData } = npyFixtures(new URL('../../fixtures/set-loss/', import.meta.url).pathname);

function streamOf(name: string): () => number {
  const values = fixtureData(`${name}_stream`).data;
  let at = 0;
  return () => {
    if (at >= values.length) throw new Error('stream exhausted');
    return values[at++]!;
  };
}

describe('bilinear point sampling', () => {
  it('places points as grid_sample(align_corners=False) does, zero outside or clamped', () => {
    // A 2×2 map [[1, 2], [3, 4]]: its pixel centres are at 0.25 and 0.75.
    const map = Float32Array.of(1, 2, 3, 4);
    const at = (x: number, y: number, clamp: boolean) => sampleMap(map, 0, x, y, { h: 2, w: 2, clamp });
    expect(at(0.25, 0.25, false)).toBeCloseTo(1, 6);
    expect(at(0.75, 0.75, false)).toBeCloseTo(4, 6);
    expect(at(0.5, 0.5, false)).toBeCloseTo(2.5, 6);
    expect(at(0.5, 0.25, false)).toBeCloseTo(1.5, 6);
    // x = 0: pixel coordinate −0.5, half of the footprint outside
    expect(at(0, 0.25, false)).toBeCloseTo(0.5, 6);
    expect(at(0, 0.25, true)).toBeCloseTo(1, 6);
    expect(at(1, 1, false)).toBeCloseTo(1, 6); // a quarter of pixel 4
    expect(at(1, 1, true)).toBeCloseTo(4, 6);
  });

  it('samples class masks as the fraction of the footprint, and picks the least certain points', () => {
    const labels = Int32Array.of(0, 1, 1, -1);
    const grid = { h: 2, w: 2, clamp: false };
    expect([0, 1].flatMap((c) => [[0.5, 0.5], [0.25, 0.75]].map(([x, y]) => sampleClassMask(labels, 0, c, x!, y!, grid)))).toEqual([0.25, 0, 0.5, 1]);
    // a map whose |logit| grows left to right, and one whose grows right to left: importance sampling keeps the left, then the right points
    const logits = Float32Array.from({ length: 2 * 16 * 16 }, (_, i) => (i < 256 ? i % 16 : 15 - (i % 16)) - 0.5 + 0.01);
    const pts = importancePoints(logits, Float64Array.of(0, 256), 16, 16, { points: 40, oversample: 3, importance: 0.75 }, seededUniforms(1)).points;
    const xs = Array.from({ length: 80 }, (_, i) => pts[2 * i]!);
    expect(Math.max(...xs.slice(0, 30))).toBeLessThan(0.4);
    expect(Math.min(...xs.slice(40, 70))).toBeGreaterThan(0.6);
  });

  it('draws the same stream as src/nodes/random.ts', () => {
    const expected = mulberry32(77);
    const out = new Float32Array(5);
    seededUniforms(77).fill(out);
    expect([...out]).toEqual([0, 1, 2, 3, 4].map(() => Math.fround(expected())));
  });
});

describe.each(BACKENDS)('point-sampled set loss on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it.each(['plain', 'ignore'])('equals the torch reference of HF Mask2FormerLoss, terms and gradients (%s)', (name) => {
    const m = fixtureData(`${name}_masks`);
    const c = fixtureData(`${name}_classes`);
    const l = fixtureData(`${name}_labels`);
    const [ce, mask, dice] = fixtureData(`${name}_loss`).data;
    const masks = tf.tensor4d(m.data, m.shape as [number, number, number, number]);
    const classes = tf.tensor3d(c.data, c.shape as [number, number, number]);
    const labels = tf.tensor4d(l.data, [...l.shape, 1] as [number, number, number, number], 'int32');
    const options = { points: 24, oversample: 3, importance: 0.75 };
    for (const [weights, expected] of [[{ ce: 1, mask: 0, dice: 0 }, ce], [{ ce: 0, mask: 1, dice: 0 }, mask], [{ ce: 0, mask: 0, dice: 1 }, dice]] as const) {
      const loss = setLoss(masks, classes, labels, { ...options, weights, random: streamOf(name) });
      expect(loss.dataSync()[0], JSON.stringify(weights)).toBeCloseTo(expected!, 5);
      loss.dispose();
    }
    const [gm, gc] = tf.grads((x: tf.Tensor, y: tf.Tensor) => setLoss(x as tf.Tensor4D, y as tf.Tensor3D, labels, { ...options, random: streamOf(name) }))([masks, classes]);
    expectGradClose(gm!.dataSync(), [...fixtureData(`${name}_grad_masks`).data], 1e-4);
    expectGradClose(gc!.dataSync(), [...fixtureData(`${name}_grad_classes`).data], 1e-4);
    tf.dispose([masks, classes, labels, gm!, gc!]);
  });

  it('is deterministic by seed, and refuses a negative number of points', () => {
    const masks = tf.randomNormal([2, 3, 8, 8], 0, 2, 'float32', 1) as tf.Tensor4D;
    const classes = tf.randomNormal([2, 3, 3], 0, 1, 'float32', 2) as tf.Tensor3D;
    const labels = tf.tensor4d(Int32Array.from({ length: 2 * 16 * 16 }, (_, i) => (i % 16 < 8 ? 0 : 1)), [2, 16, 16, 1], 'int32');
    const a = setLoss(masks, classes, labels, { seed: 5, points: 50 });
    const b = setLoss(masks, classes, labels, { seed: 5, points: 50 });
    const other = setLoss(masks, classes, labels, { seed: 6, points: 50 });
    expect(a.dataSync()[0]).toBe(b.dataSync()[0]);
    expect(other.dataSync()[0]).not.toBe(a.dataSync()[0]);
    expect(() => setLoss(masks, classes, labels, { points: -1 })).toThrow('setLoss: points must be a whole number ≥ 0 (0: every pixel), got -1');
    tf.dispose([masks, classes, labels, a, b, other]);
  });
});

describe('the set loss gradient on the native backend', () => {
  beforeAll(() => useBackend('native'));

  it('is written into a recycled array cleared where the last one wrote, and equals one written into a fresh array', () => {
    // Tokens 0-1 matched by the first batch's classes, 4-5 by the second's: the second gradient,
    // in the first one's array, must have nothing left on rows 0-1.
    const [n, q, h, w] = [1, 6, 16, 16];
    const masks = tf.tidy(() => {
      const logits = new Float32Array(n * q * h * w).fill(-4);
      logits.fill(4, 0, h * w); // token 0: all of the image (class 0 of batch one)
      logits.fill(4, 4 * h * w, 5 * h * w); // token 4: all of it (class 2 of batch two)
      return tf.tensor4d(logits, [n, q, h, w]);
    });
    const classes = tf.tensor3d(Float32Array.from({ length: n * q * 4 }, (_, i) => ([0, 1].includes(Math.floor(i / 4)) ? (i % 4 === 0 ? 5 : 0) : i % 4 === 2 ? 5 : 0)), [n, q, 4]);
    const half = (a: number, b: number) => tf.tensor4d(Int32Array.from({ length: 32 * 32 }, (_, i) => (i % 32 < 16 ? a : b)), [1, 32, 32, 1], 'int32');
    const [first, second] = [half(0, 1), half(2, 2)];
    const grad = (labels: tf.Tensor4D) => tf.grads((m: tf.Tensor, c: tf.Tensor) => setLoss(m as tf.Tensor4D, c as tf.Tensor3D, labels, { points: 64, seed: 3 }))([masks, classes]);
    const backend = tf.backend() as unknown as { data: { get(id: object): { values: Float32Array } } };
    const rowsTouched = (values: Float32Array) => Array.from({ length: q }, (_, r) => values.subarray(r * h * w, (r + 1) * h * w).some((v) => v !== 0));

    const [g1, c1] = grad(first);
    const array = backend.data.get(g1!.dataId).values; // looked at without reading it out, which would keep it from the pool
    expect(rowsTouched(array)).toEqual([true, true, false, false, false, false]);
    tf.dispose([g1!, c1!]);
    const [g2, c2] = grad(second);
    expect(backend.data.get(g2!.dataId).values.buffer).toBe(array.buffer); // recycled
    const recycled = Float32Array.from(g2!.dataSync()); // read out: the next one is fresh
    const [g3, c3] = grad(second);
    expect(backend.data.get(g3!.dataId).values.buffer).not.toBe(array.buffer);
    expect(rowsTouched(recycled)).toEqual([false, false, false, false, true, false]);
    expect(recycled).toEqual(g3!.dataSync());
    tf.dispose([masks, classes, first, second, g2!, c2!, g3!, c3!]);
  });
});
