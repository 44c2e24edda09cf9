import { describe, expect, it } from 'vitest';
import { applyGeometry, type GeometryOp } from '../../../src/nodes/augment/geometry.ts';
import { resizeLongestSidePlan } from '../../../src/nodes/augment/resize-longest-side.ts';
import { scaleCropPlan } from '../../../src/nodes/augment/random-scale-crop.ts';
import type { FloatImage, RawImage } from '../../../src/nodes/ports.ts';

const W = 48;
const H = 32;
const BLOCK = { x: 10, y: 6, w: 10, h: 8 };

/** A marker block, red in the image, 1 in the mask, class 2, depth 2 (else 5), normal (0.6, 0, 0.8) (else (0, 0, 1)). */
function marked() {
  const image = new Uint8Array(W * H * 3);
  const mask = new Uint8Array(W * H);
  const label = new Uint8Array(W * H);
  const depth = new Float32Array(W * H).fill(5);
  const normal = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const inside = x >= BLOCK.x && x < BLOCK.x + BLOCK.w && y >= BLOCK.y && y < BLOCK.y + BLOCK.h;
      image.set(inside ? [230, 20, 20] : [60, 60, 60], i * 3);
      mask[i] = inside ? 1 : 0;
      label[i] = inside ? 2 : 0;
      depth[i] = inside ? 2 : 5;
      normal.set(inside ? [0.6, 0, 0.8] : [0, 0, 1], i * 3);
    }
  }
  return {
    image: { width: W, height: H, channels: 3, data: image } as RawImage,
    mask: { width: W, height: H, channels: 1, data: mask } as RawImage,
    label: { width: W, height: H, channels: 1, data: label } as RawImage,
    depth: { width: W, height: H, channels: 1, data: depth } as FloatImage,
    normal: { width: W, height: H, channels: 3, data: normal } as FloatImage,
  };
}

type Sample = ReturnType<typeof marked>;

/** The marker's pixel set in each plane. */
function regions(s: Sample) {
  const n = s.image.width * s.image.height;
  const set = (f: (i: number) => boolean) => new Set([...Array(n).keys()].filter(f));
  // Depth may have been divided by a zoom: the marker is the nearer of the two depths.
  const far = s.depth.data.reduce((m, v) => Math.max(m, v), 0);
  return {
    image: set((i) => s.image.data[i * 3]! > 145 && s.image.data[i * 3 + 1]! < 100),
    mask: set((i) => s.mask.data[i] === 1),
    label: set((i) => s.label.data[i] === 2),
    depth: set((i) => s.depth.data[i]! > 0 && s.depth.data[i]! < 0.7 * far),
  };
}

const iou = (a: Set<number>, b: Set<number>) => {
  let inter = 0;
  for (const v of a) if (b.has(v)) inter++;
  return inter / (a.size + b.size - inter);
};

/** Every target's marker coincides with the image's: exactly, or at IoU >= min where resampling blurs edges. */
function expectAligned(s: Sample, min = 1) {
  const r = regions(s);
  expect(r.image.size).toBeGreaterThan(0);
  for (const key of ['mask', 'label', 'depth'] as const) expect(iou(r.image, r[key]), key).toBeGreaterThanOrEqual(min);
  // Centres of mass: the image's (weighted by redness, so blurred edges count in part) and the mask's.
  const width = s.image.width;
  let [ix, iy, iw, mx, my, mw] = [0, 0, 0, 0, 0, 0];
  for (let i = 0; i < width * s.image.height; i++) {
    const red = Math.max(0, s.image.data[i * 3]! - s.image.data[i * 3 + 1]!);
    [ix, iy, iw] = [ix + red * (i % width), iy + red * Math.floor(i / width), iw + red];
    const m = s.mask.data[i]!;
    [mx, my, mw] = [mx + m * (i % width), my + m * Math.floor(i / width), mw + m];
  }
  expect(Math.abs(ix / iw - mx / mw), 'x centre').toBeLessThanOrEqual(0.5);
  expect(Math.abs(iy / iw - my / mw), 'y centre').toBeLessThanOrEqual(0.5);
  if (process.env.DEBUG_IOU) console.log('centre offset', (ix / iw - mx / mw).toFixed(3), (iy / iw - my / mw).toFixed(3));
  expect(new Set(s.mask.data).size).toBeLessThanOrEqual(2);
  for (const v of s.mask.data) expect(v === 0 || v === 1).toBe(true);
  for (const v of s.label.data) expect([0, 2, 255]).toContain(v);
}

const run = (ops: GeometryOp[]) => applyGeometry(marked(), ops);

describe('geometry: the same transform on image, mask, labels, depth and normals', () => {
  it('flip moves the marker alike everywhere and negates the normals x', async () => {
    const s = await run([{ op: 'flip' }]);
    expectAligned(s);
    const x = W - 1 - BLOCK.x; // the block's first column lands here
    const i = BLOCK.y * W + x;
    expect(s.mask.data[i]).toBe(1);
    expect(s.mask.data[i - BLOCK.w]).toBe(0);
    expect(s.normal.data[i * 3]).toBeCloseTo(-0.6, 4);
    expect(s.normal.data[i * 3 + 2]).toBeCloseTo(0.8, 4);
    expect(s.depth.data[i]).toBeCloseTo(2, 3);
  });

  it('crop cuts every plane at the same place', async () => {
    const s = await run([{ op: 'crop', left: 6, top: 3, width: 20, height: 15 }]);
    expect([s.image.width, s.mask.width, s.label.width, s.depth.width, s.normal.width]).toEqual([20, 20, 20, 20, 20]);
    expectAligned(s);
    expect(s.mask.data[(BLOCK.y - 3) * 20 + (BLOCK.x - 6)]).toBe(1);
    expect(s.mask.data[(BLOCK.y - 3) * 20 + (BLOCK.x - 7)]).toBe(0);
    await expect(run([{ op: 'crop', left: 40, top: 0, width: 20, height: 5 }])).rejects.toThrow('crop 20x5 at (40, 0) does not fit in 48x32');
  });

  it('resize (down and up, odd sizes) keeps masks, labels and depth exact-valued and aligned', async () => {
    for (const [w, h] of [[37, 23], [96, 64], [29, 40]] as const) {
      const s = await run([{ op: 'resize', width: w, height: h, kernel: 'linear' }]);
      expect([s.image.width, s.image.height, s.mask.height, s.depth.width]).toEqual([w, h, h, w]);
      expectAligned(s, 0.7);
      for (const v of s.depth.data) expect([2, 5].some((d) => Math.abs(v - d) < 1e-3)).toBe(true);
    }
  });

  it("SAM's resize-longest-side pads with 0 (mask, depth, normals) and the ignore label (labels)", async () => {
    const s = await run(resizeLongestSidePlan({ width: W, height: H }, 64, 'linear', 0));
    expect([s.image.width, s.image.height]).toEqual([64, 64]);
    expectAligned(s, 0.8);
    const bottom = 63 * 64 + 10; // a padded pixel: 32 * 64 / 48 = 43 rows are image
    expect([s.mask.data[bottom], s.label.data[bottom], s.depth.data[bottom], s.image.data[bottom * 3]]).toEqual([0, 255, 0, 0]);
    expect([...s.normal.data.subarray(bottom * 3, bottom * 3 + 3)].map((v) => Math.abs(v))).toEqual([0, 0, 0]);
    expect(s.label.data[42 * 64 + 10]).toBe(0);
  });

  it('rotation turns every plane alike; corners get the pad values', async () => {
    const s = await applyGeometry({ ...marked(), normal: undefined }, [{ op: 'rotate', degrees: 30 }]);
    expect([s.image.width, s.image.height]).toEqual([W, H]);
    expectAligned(s as unknown as Sample, 0.75);
    expect([s.mask.data[0], s.label.data[0], s.depth.data[0]]).toEqual([0, 255, 0]);
    const rotated = regions(s as unknown as Sample).mask;
    const before = regions(marked()).mask;
    expect(iou(rotated, before)).toBeLessThan(0.8); // it did move
    await expect(run([{ op: 'rotate', degrees: 30 }])).rejects.toThrow('rotation of surface normals is not supported');
  });

  it("MTAN's scale-crop zooms every plane alike and divides depth by the scale", async () => {
    const fixed = [0.5, 0.5];
    const s = await run(scaleCropPlan({ width: W, height: H }, 1.5, () => fixed.shift() ?? 0));
    expect([s.image.width, s.image.height]).toEqual([W, H]);
    expectAligned(s, 0.7);
    const depths = [...new Set([...s.depth.data].map((v) => +v.toFixed(2)))].sort();
    expect(depths).toEqual([+(2 / 1.5).toFixed(2), +(5 / 1.5).toFixed(2)]);
    expect(regions(s).mask.size).toBeGreaterThan(regions(marked()).mask.size * 1.8); // zoomed in ~1.5^2
  });

  it('a chain of flip, crop, resize and pad stays aligned; planes of different sizes are refused', async () => {
    const s = await run([{ op: 'flip' }, { op: 'crop', left: 20, top: 2, width: 28, height: 20 }, { op: 'resize', width: 42, height: 30 }, { op: 'pad', top: 3, left: 2, right: 1, bottom: 0 }]);
    expect([s.image.width, s.image.height]).toEqual([45, 33]);
    expectAligned(s, 0.75);
    const { image } = marked();
    await expect(applyGeometry({ image, mask: { width: 3, height: 3, channels: 1, data: new Uint8Array(9) } }, [])).rejects.toThrow('image is 48x32 but its mask is 3x3');
  });
});
