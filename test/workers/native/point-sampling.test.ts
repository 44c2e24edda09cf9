/**
 * The native point-sampling kernels (native/src/point_sampling.cc) against the JS ones they
 * replace (src/nodes/losses/point-sampling.ts), on random maps, labels, points and gradients; and
 * the addon's argument checks.
 */
import { describe, expect, it } from 'vitest';
import { JS_POINT_SAMPLING } from '../../../src/nodes/losses/point-sampling.ts';
import { loadAddon } from '../../../workers/native/addon.ts';
import { pointSamplingKernelsOf } from '../../../workers/native/register.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!), `entry ${i}: ${actual[i]} vs ${expected[i]}`).toBeLessThan(tol * Math.max(1, Math.abs(expected[i]!)));
}

const load = loadAddon();
if (!load.ok) throw new Error(load.reason);
const native = pointSamplingKernelsOf(load.addon);

// 6 maps of 13 × 17 (rows in reverse order), labels of 21 × 19 with ids −1..4.
const [h, w, labelH, labelW, rows] = [13, 17, 21, 19, 6];
function inputs(seed: number, count: number, perRow: boolean) {
  const random = rng(seed);
  return {
    data: Float32Array.from({ length: rows * h * w }, () => random() * 16 - 8),
    offsets: Float64Array.from({ length: rows }, (_, r) => (rows - 1 - r) * h * w),
    // a little outside [0, 1] too: zero padding / clamping at the edges
    points: Float32Array.from({ length: 2 * count * (perRow ? rows : 1) }, () => random() * 1.2 - 0.1),
    labels: Int32Array.from({ length: 2 * labelH * labelW }, () => Math.floor(random() * 6) - 1),
  };
}

describe('native point sampling equals the JS kernels', () => {
  it('finds the classes present and the first stray label', () => {
    const labels = Int32Array.from({ length: 3 * 500 }, (_, i) => (i * 7) % 9 - 1);
    const run = (k: typeof native, l: Int32Array) => {
      const present = new Uint8Array(3 * 8);
      return { stray: k.presentClasses(l, 3, 8, -1, present), present };
    };
    expect(run(native, labels)).toEqual(run(JS_POINT_SAMPLING, labels));
    labels[1200] = 8;
    labels[700] = -2;
    expect(run(native, labels).stray).toBe(700);
    expect(run(JS_POINT_SAMPLING, labels).stray).toBe(700);
  });

  it('compacts labels to bytes (ignored ones 255) while finding the classes, and still names the first stray label', () => {
    const labels = Int32Array.from({ length: 3 * 500 }, (_, i) => ((i * 7) % 9) - 1);
    const run = (k: typeof native, l: Int32Array) => {
      const [present, compact] = [new Uint8Array(3 * 8), new Uint8Array(l.length)];
      return { stray: k.presentClasses(l, 3, 8, -1, present, compact), present, compact };
    };
    const expected = { stray: -1, present: new Uint8Array(3 * 8).fill(1), compact: Uint8Array.from(labels, (id) => (id < 0 ? 255 : id)) };
    expect(run(native, labels)).toEqual(expected);
    expect(run(JS_POINT_SAMPLING, labels)).toEqual(expected);
    labels[1200] = 8;
    labels[700] = -2;
    expect(run(native, labels).stray).toBe(700);
    expect(run(JS_POINT_SAMPLING, labels).stray).toBe(700);
    for (const k of [native, JS_POINT_SAMPLING]) expect(() => k.presentClasses(new Int32Array(4), 1, 256, -1, new Uint8Array(256), new Uint8Array(4))).toThrow('255');
  });

  it.each([[false], [true]])('matching costs (clamp %s)', (clamp) => {
    const { data, offsets, points, labels } = inputs(clamp ? 2 : 1, 700, false);
    const slot = Int32Array.of(2, -1, 0, 1); // classes 0, 2, 3 in columns 2, 0, 1; class 1 and 4 not targets
    const run = (k: typeof native) => {
      const [bce, dice] = [new Float64Array(rows * 3), new Float64Array(rows * 3)];
      k.matchingCosts(data, offsets, points, h, w, labels.subarray(0, labelH * labelW), labelH, labelW, clamp, slot, bce, dice);
      return { bce, dice };
    };
    const [a, b] = [run(JS_POINT_SAMPLING), run(native)];
    expectClose(b.bce, a.bce, 1e-6);
    expectClose(b.dice, a.dice, 1e-6);
    // the same labels as bytes (ignored −1 as 255): the same costs
    const bytes = Uint8Array.from(labels.subarray(0, labelH * labelW), (id) => (id < 0 ? 255 : id));
    const [bceBytes, diceBytes] = [new Float64Array(rows * 3), new Float64Array(rows * 3)];
    native.matchingCosts(data, offsets, points, h, w, bytes, labelH, labelW, clamp, slot, bceBytes, diceBytes);
    expect(bceBytes).toEqual(b.bce);
    expect(diceBytes).toEqual(b.dice);
  });

  it('importance sampling, ties included', () => {
    // Small integer logits and points on a 1/64 lattice: every read is exact, so both pick the
    // same points and ties are many.
    const random = rng(3);
    const data = Float32Array.from({ length: rows * 16 * 16 }, () => Math.floor(random() * 9) - 4);
    const offsets = Float64Array.from({ length: rows }, (_, r) => r * 256);
    const [drawn, uncertain, points] = [150, 37, 50];
    const draws = Float32Array.from({ length: rows * (2 * drawn + 2 * (points - uncertain)) }, () => Math.floor(random() * 64) / 64);
    const run = (k: typeof native) => {
      const [out, logits] = [new Float32Array(rows * 2 * points), new Float32Array(rows * points)];
      k.importancePoints(data, offsets, draws, 16, 16, drawn, uncertain, out, logits);
      return { out, logits };
    };
    expect(run(native)).toEqual(run(JS_POINT_SAMPLING));
  });

  it('importance sampling from a stream state: the draws the bulk fill would make, and the state advanced past them', () => {
    const random = rng(4);
    const data = Float32Array.from({ length: rows * 16 * 16 }, () => random() * 8 - 4);
    const offsets = Float64Array.from({ length: rows }, (_, r) => r * 256);
    const [drawn, uncertain, points] = [150, 37, 50];
    const filled = new Float32Array(rows * (2 * drawn + 2 * (points - uncertain)));
    const after = Uint32Array.of(77);
    JS_POINT_SAMPLING.mulberry32Fill(after, filled);
    const run = (k: typeof native, draws: Float32Array | Uint32Array) => {
      const [out, logits] = [new Float32Array(rows * 2 * points), new Float32Array(rows * points)];
      k.importancePoints(data, offsets, draws, 16, 16, drawn, uncertain, out, logits);
      return { out, logits, draws: Array.from(draws) };
    };
    for (const k of [native, JS_POINT_SAMPLING]) {
      const expected = run(k, filled);
      const state = Uint32Array.of(77);
      const got = run(k, state);
      expect(got.out).toEqual(expected.out);
      expect(got.logits).toEqual(expected.logits);
      expect(state[0]).toBe(after[0]);
    }
    expect(() => native.importancePoints(data, offsets, Uint32Array.of(1, 2), 16, 16, drawn, uncertain, new Float32Array(rows * 2 * points), new Float32Array(rows * points))).toThrow(
      'draws: expected a Float32Array of draws or a Uint32Array of one entry',
    );
  });

  it.each([[false, false], [true, false], [false, true], [true, true]])('point losses and their gradient (per row %s, clamp %s)', (perRow, clamp) => {
    const count = 600;
    const { data, offsets, points, labels } = inputs(perRow ? 4 : 5, count, perRow);
    const labelOffsets = Float64Array.from({ length: rows }, (_, r) => (r % 2) * labelH * labelW);
    const classes = Int32Array.from({ length: rows }, (_, r) => r % 5);
    const random = rng(6);
    const coefficients = Float64Array.from({ length: 3 * rows }, () => random() - 0.5);
    const run = (k: typeof native) => {
      const [logits, truth, stats] = [new Float32Array(rows * count), new Float32Array(rows * count), new Float64Array(4 * rows)];
      if (perRow) for (let r = 0; r < rows; r++) k.samplePoints(data, offsets.subarray(r, r + 1), points.subarray(2 * count * r, 2 * count * (r + 1)), h, w, clamp, logits.subarray(count * r, count * (r + 1)));
      else k.samplePoints(data, offsets, points, h, w, clamp, logits);
      k.pointLoss(logits, points, perRow, labels, labelOffsets, classes, labelH, labelW, clamp, truth, stats);
      const dx = new Float32Array(data.length).fill(7); // stale: each row's map is written in full
      k.pointLossGrad(dx, offsets, points, perRow, h, w, clamp, logits, truth, coefficients);
      return { logits, truth, stats, dx };
    };
    const [a, b] = [run(JS_POINT_SAMPLING), run(native)];
    expectClose(b.logits, a.logits, 1e-6);
    expectClose(b.truth, a.truth, 1e-6);
    expectClose(b.stats, a.stats, 1e-6);
    expectClose(b.dx, a.dx, 1e-5);
    // with the labels as bytes: the same truth and sums
    const bytes = Uint8Array.from(labels, (id) => (id < 0 ? 255 : id));
    const [truth, stats] = [new Float32Array(rows * count), new Float64Array(4 * rows)];
    native.pointLoss(b.logits, points, perRow, bytes, labelOffsets, classes, labelH, labelW, clamp, truth, stats);
    expect(truth).toEqual(b.truth);
    expect(stats).toEqual(b.stats);
  });

  it('a gradient with rows sharing a map sums them there, and leaves the other maps alone', () => {
    const count = 300;
    const { data, points } = inputs(8, count, false);
    const offsets = Float64Array.of(h * w, 0, h * w); // rows 0 and 2 share map 1; map 2 is no row's
    const logits = Float32Array.from({ length: 3 * count }, (_, i) => Math.sin(i));
    const truth = Float32Array.from({ length: 3 * count }, (_, i) => (i % 3) / 2);
    const coefficients = Float64Array.of(0.5, -0.2, 0.1, 0.3, 0.1, -0.4, -0.6, 0.2, 0.2);
    const run = (k: typeof native) => {
      const dx = new Float32Array(data.length).fill(7);
      k.pointLossGrad(dx, offsets, points, false, h, w, false, logits, truth, coefficients);
      return dx;
    };
    const [a, b] = [run(JS_POINT_SAMPLING), run(native)];
    expectClose(b, a, 1e-5);
    expect(b.subarray(2 * h * w, 3 * h * w).every((v) => v === 7)).toBe(true);
    // map 1 is the sum of rows 0 and 2 alone: each row's gradient on its own, added
    const single = (r: number) => {
      const dx = new Float32Array(data.length);
      native.pointLossGrad(dx, offsets.subarray(r, r + 1), points, false, h, w, false, logits.subarray(r * count, (r + 1) * count), truth.subarray(r * count, (r + 1) * count), coefficients.subarray(3 * r, 3 * r + 3));
      return dx.subarray(h * w, 2 * h * w);
    };
    const [g0, g2] = [single(0), single(2)];
    expectClose(b.subarray(h * w, 2 * h * w), g0.map((v, i) => v + g2[i]!), 1e-5);
  });

  it('the mulberry32 stream, in one stretch and many', () => {
    for (const n of [1000, 150_000]) {
      const [stateA, stateB] = [Uint32Array.of(123), Uint32Array.of(123)];
      const [ua, ub] = [new Float32Array(n), new Float32Array(n)];
      JS_POINT_SAMPLING.mulberry32Fill(stateA, ua);
      native.mulberry32Fill(stateB, ub);
      expect(ub.findIndex((v, i) => v !== ua[i])).toBe(-1);
      expect(stateB[0]).toBe(stateA[0]);
    }
  });

  it('checks its arguments', () => {
    const x = new Float32Array(16);
    const out = new Float32Array(2);
    const logits = new Float32Array(1);
    expect(() => native.importancePoints(x, Float64Array.of(x.length - 1), new Float32Array(8), 2, 2, 2, 1, out, logits)).toThrow("points: an offset's map reads past the end");
    expect(() => native.importancePoints(x, Float64Array.of(0), new Float32Array(8), 2, 2, 2, 2, out, logits)).toThrow('uncertain: more than the points drawn or kept');
    expect(() => native.matchingCosts(x, Float64Array.of(0), Float32Array.of(0.5, 0.5), 2, 2, new Int32Array(4), 2, 2, false, Int32Array.of(1), new Float64Array(1), new Float64Array(1))).toThrow('slot: a column past the end of bce');
    expect(() => native.presentClasses(new Int32Array(5), 2, 3, -1, new Uint8Array(6))).toThrow('labels: expected a whole number of entries per row');
  });
});
