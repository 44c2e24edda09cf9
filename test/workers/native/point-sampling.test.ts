/**
 * The native point-sampling loops (native/src/point_sampling.cc) against the JS ones they
 * replace (src/nodes/losses/point-sampling.ts), on random points, maps and gradients; and the
 * addon's argument checks.
 */
import { describe, expect, it } from 'vitest';
import { JS_POINT_SAMPLING } from '../../../src/nodes/losses/point-sampling.ts';
import { loadAddon } from '../../../workers/native/addon.ts';
import { pointSamplingKernelsOf } from '../../../workers/native/register.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const load = loadAddon();
if (!load.ok) throw new Error(load.reason);
const native = pointSamplingKernelsOf(load.addon);

describe('native point sampling equals the JS loops', () => {
  it.each([[false], [true]])('sampling maps and class masks at points, scattering gradients (clamp %s)', (clamp) => {
    const random = rng(clamp ? 2 : 1);
    const [h, w, rows, count] = [13, 17, 6, 500];
    const points = Float32Array.from({ length: 2 * count * rows }, () => random() * 1.2 - 0.1);
    const data = Float32Array.from({ length: rows * h * w }, () => random() * 4 - 2);
    const offsets = Float64Array.from({ length: rows }, (_, r) => (rows - 1 - r) * h * w);
    for (const perRow of [false, true]) {
      const at = perRow ? points : points.subarray(0, 2 * count);
      const [outA, outB] = [new Float32Array(rows * count), new Float32Array(rows * count)];
      JS_POINT_SAMPLING.samplePoints(data, offsets, at, count, perRow, h, w, clamp, outA);
      native.samplePoints(data, offsets, at, count, perRow, h, w, clamp, outB);
      for (let i = 0; i < outA.length; i++) expect(outB[i]).toBeCloseTo(outA[i]!, 5);
      const dy = Float32Array.from({ length: rows * count }, () => random() - 0.5);
      const [dxA, dxB] = [new Float32Array(data.length), new Float32Array(data.length)];
      JS_POINT_SAMPLING.scatterPoints(dxA, offsets, at, count, perRow, h, w, clamp, dy);
      native.scatterPoints(dxB, offsets, at, count, perRow, h, w, clamp, dy);
      for (let i = 0; i < dxA.length; i++) expect(dxB[i]).toBeCloseTo(dxA[i]!, 4);
    }
    const labels = Int32Array.from({ length: h * w }, () => Math.floor(random() * 6) - 1);
    const slot = Int32Array.of(-1, 0, -1, 1, 2);
    const [a, b] = [new Float32Array(3 * count * rows), new Float32Array(3 * count * rows)];
    JS_POINT_SAMPLING.sampleClassMasks(labels, h, w, points, clamp, slot, a);
    native.sampleClassMasks(labels, h, w, points, clamp, slot, b);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 6);
  });

  it('softplus / sigmoid row statistics, selection and the mulberry32 stream', () => {
    const random = rng(3);
    const x = Float32Array.from({ length: 7 * 300 }, () => random() * 20 - 10);
    const run = (k: typeof native) => {
      const prob = new Float32Array(x.length);
      const [sp, ps] = [new Float64Array(7), new Float64Array(7)];
      k.softplusSigmoid(x, 7, 300, prob, sp, ps);
      return { prob, sp, ps };
    };
    const [a, b] = [run(JS_POINT_SAMPLING), run(native)];
    expect(b.prob).toEqual(a.prob);
    for (let r = 0; r < 7; r++) {
      expect(b.sp[r]).toBeCloseTo(a.sp[r]!, 9);
      expect(b.ps[r]).toBeCloseTo(a.ps[r]!, 9);
    }
    for (const k of [0, 17, 299, 2099]) expect(native.kthSmallestAbs(x, k)).toBe(JS_POINT_SAMPLING.kthSmallestAbs(x, k));
    expect(() => native.kthSmallestAbs(x, x.length)).toThrow('kthSmallestAbs: k is past the end');
    expect(() => native.samplePoints(x, Float64Array.of(x.length - 1), Float32Array.of(0.5, 0.5), 1, false, 2, 2, false, new Float32Array(1))).toThrow("points: an offset's map reads past the end");
    const [stateA, stateB] = [Uint32Array.of(123), Uint32Array.of(123)];
    const [ua, ub] = [new Float32Array(1000), new Float32Array(1000)];
    JS_POINT_SAMPLING.mulberry32Fill(stateA, ua);
    native.mulberry32Fill(stateB, ub);
    expect(ub).toEqual(ua);
    expect(stateB[0]).toBe(stateA[0]);
  });
});
