import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resizeBilinear } from '../../../src/nodes/metrics/resize-bilinear.ts';

interface Case {
  in: [number, number];
  out: [number, number];
  input: number[];
  output: number[];
}
interface Large {
  in: [number, number];
  out: [number, number];
  stride: number;
  samples: number[];
}
const reference = JSON.parse(readFileSync(new URL('../../fixtures/reference/resize-bilinear.json', import.meta.url), 'utf8')) as { cases: Case[]; large: Large[] };

/** The fixture script's smooth plane: float32(0.5 + 0.5 sin(0.05 j) cos(0.03 i)). */
function smooth(w: number, h: number): Float32Array {
  const out = new Float32Array(w * h);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out[i * w + j] = 0.5 + 0.5 * Math.sin(0.05 * j) * Math.cos(0.03 * i);
  return out;
}

/**
 * An independent formulation, in float64: sample the plane as a function of continuous
 * coordinates, each axis clamped to [0, n - 1] and interpolated linearly between its two
 * neighbours.
 */
function direct(src: ArrayLike<number>, w: number, h: number, ow: number, oh: number): Float64Array {
  const at = (x: number, n: number) => Math.min(Math.max(x, 0), n - 1);
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    const sy = at(((y + 0.5) * h) / oh - 0.5, h);
    const [y0, y1, fy] = [Math.floor(sy), Math.ceil(sy), sy - Math.floor(sy)];
    for (let x = 0; x < ow; x++) {
      const sx = at(((x + 0.5) * w) / ow - 0.5, w);
      const [x0, x1, fx] = [Math.floor(sx), Math.ceil(sx), sx - Math.floor(sx)];
      const top = src[y0 * w + x0]! * (1 - fx) + src[y0 * w + x1]! * fx;
      const bottom = src[y1 * w + x0]! * (1 - fx) + src[y1 * w + x1]! * fx;
      out[y * ow + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('resizeBilinear (F.interpolate bilinear, align_corners=False)', () => {
  it('matches a hand-derived case: half-pixel centres, edge clamp', () => {
    // 2 -> 4: source x = (x' + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (past the last pixel).
    expect([...resizeBilinear(Float32Array.from([0, 1]), 2, 1, 4, 1)]).toEqual([0, 0.25, 0.75, 1]);
    // 4 -> 2, no antialias: source x = 0.5 and 2.5, the mean of pixels (0, 1) and of (2, 3) only.
    expect([...resizeBilinear(Float32Array.from([0, 1, 10, 20]), 4, 1, 2, 1)]).toEqual([0.5, 15]);
    // 2x2 -> 3x3: the centre is the mean of all four; corners are the pixels themselves.
    const up = resizeBilinear(Float32Array.from([0, 1, 2, 3]), 2, 2, 3, 3);
    expect(up[4]).toBeCloseTo(1.5, 6);
    expect([up[0], up[2], up[6], up[8]]).toEqual([0, 1, 2, 3]);
    expect([...resizeBilinear(Float32Array.from([0.7]), 1, 1, 3, 2)].map((v) => v.toFixed(6))).toEqual(Array(6).fill('0.700000'));
  });

  it.each(reference.cases.map((c) => [`${c.in.join('x')} -> ${c.out.join('x')}`, c] as const))('matches PyTorch on %s', (_, c) => {
    const [h, w] = c.in;
    const [oh, ow] = c.out;
    const got = resizeBilinear(Float32Array.from(c.input), w, h, ow, oh);
    expect(got).toHaveLength(ow * oh);
    // PyTorch's float32 kernel itself is ~4e-7 off the exact (float64) values: agreement is to float32 rounding.
    expect(maxAbsDiff(got, c.output)).toBeLessThan(1e-6);
    // The exact formulation places samples in float64, the kernel in float32 (as PyTorch's does):
    // on random planes (neighbours differ by up to 1) that moves values by ~1e-6.
    expect(maxAbsDiff(got, direct(c.input, w, h, ow, oh))).toBeLessThan(4e-6);
  });

  it.each(reference.large.map((c) => [`${c.in.join('x')} -> ${c.out.join('x')}`, c] as const))('matches PyTorch and the independent formulation at benchmark size %s', (_, c) => {
    const [h, w] = c.in;
    const [oh, ow] = c.out;
    const src = smooth(w, h);
    const got = resizeBilinear(src, w, h, ow, oh);
    const sampled = c.samples.map((_, k) => got[k * c.stride]!);
    expect(maxAbsDiff(sampled, c.samples)).toBeLessThan(1e-6);
    expect(maxAbsDiff(got, direct(src, w, h, ow, oh))).toBeLessThan(2e-6);
  });

  it('names what is wrong with its arguments', () => {
    expect(() => resizeBilinear(new Float32Array(5), 2, 2, 3, 3)).toThrow('resizeBilinear: a 2x2 plane needs 4 values, got 5');
    expect(() => resizeBilinear(new Float32Array(4), 2, 2, 0, 3)).toThrow('resizeBilinear: outWidth must be a positive integer, got 0');
  });
});
