import { describe, expect, it } from 'vitest';
import { ColourJitter, jitterColour } from '../../../src/nodes/augment/colour-jitter.ts';
import { RandomFlipMultiTask } from '../../../src/nodes/augment/random-flip.ts';
import { RandomRotate, RandomRotateMultiTask } from '../../../src/nodes/augment/random-rotate.ts';
import { RandomScaleCropMultiTask } from '../../../src/nodes/augment/random-scale-crop.ts';
import { longestSideSize, ResizeLongestSide, ResizeLongestSideLabels } from '../../../src/nodes/augment/resize-longest-side.ts';
import { ResizeSquare } from '../../../src/nodes/augment/resize-square.ts';
import { syntheticScene } from '../../../src/nodes/data/synthetic-scenes.ts';
import type { ItemMeta } from '../../../src/graph/events.ts';
import type { RawImage } from '../../../src/nodes/ports.ts';
import { labelSample, rectSample } from '../../fixtures/datasets.ts';

const ctx = { node: 'aug', kind: 'augment', seed: 11, emit: () => undefined };
const meta = (split: string, index = 0, epoch = 0): ItemMeta => ({ index, split, epoch, groupEnd: false });
const binary = (w = 30, h = 20) => {
  const s = rectSample(w, h, 1);
  return { image: s.image, mask: { ...s.mask, data: s.mask.data.map((v) => (v ? 1 : 0)) } as RawImage };
};

describe('augmentation nodes', () => {
  it("resize-longest-side gives SAM's square on every split; labels are padded with the ignore label", async () => {
    expect(longestSideSize(1920, 1072, 1024)).toEqual({ width: 1024, height: 572 });
    expect(longestSideSize(332, 352, 1024)).toEqual({ width: 966, height: 1024 });
    const node = ResizeLongestSide.main.create(ResizeLongestSide.params.parse({ size: 48 }), ctx);
    const out = await node.process(binary(), meta('val'));
    expect([out.image.width, out.image.height, out.mask.width, out.mask.height]).toEqual([48, 48, 48, 48]);
    expect(out.mask.data.subarray(32 * 48).every((v) => v === 0)).toBe(true);
    const labels = ResizeLongestSideLabels.main.create(ResizeLongestSideLabels.params.parse({ size: 48 }), ctx);
    const l = await labels.process(labelSample(30, 20, 1, 4), meta('test'));
    expect(l.label.data.subarray(33 * 48).every((v) => v === 255)).toBe(true);
    expect(new Set(l.label.data)).toEqual(new Set([0, 4, 255]));
  });

  it('resize-square ignores the aspect ratio', async () => {
    const node = ResizeSquare.main.create(ResizeSquare.params.parse({ size: 16 }), ctx);
    const out = await node.process(binary(), meta('val'));
    expect([out.image.width, out.image.height, out.mask.width]).toEqual([16, 16, 16]);
    expect(new Set(out.mask.data)).toEqual(new Set([0, 1]));
  });

  it('random augmentations touch only training items, the same way for the same seed and item', async () => {
    const node = RandomRotate.main.create(RandomRotate.params.parse({ degrees: 40 }), ctx);
    const sample = binary();
    const val = await node.process(sample, meta('val'));
    expect(val.image).toBe(sample.image);
    const a = await node.process(sample, meta('train', 3));
    const b = await RandomRotate.main.create(RandomRotate.params.parse({ degrees: 40 }), ctx).process(sample, meta('train', 3));
    const c = await node.process(sample, meta('train', 4));
    expect(Buffer.from(a.mask.data).equals(Buffer.from(b.mask.data))).toBe(true);
    expect(Buffer.from(a.mask.data).equals(Buffer.from(c.mask.data))).toBe(false);
    expect(Buffer.from(a.mask.data).equals(Buffer.from(sample.mask.data))).toBe(false);
  });

  it('colour jitter changes the image only', async () => {
    const node = ColourJitter.main.create(ColourJitter.params.parse({ brightness: 0.5, contrast: 0.5, saturation: 0.5, hue: 30 }), ctx);
    const sample = binary();
    const out = await node.process(sample, meta('train'));
    expect(out.mask).toBe(sample.mask);
    expect(Buffer.from(out.image.data).equals(Buffer.from(sample.image.data))).toBe(false);
    expect([out.image.width, out.image.height, out.image.channels]).toEqual([30, 20, 3]);
    const same = await jitterColour(sample.image, { brightness: 1, contrast: 1, saturation: 1, hue: 0 });
    const diff = same.data.reduce((m, v, i) => Math.max(m, Math.abs(v - sample.image.data[i]!)), 0);
    expect(diff).toBeLessThanOrEqual(2);
  });

  it('multi-task: scale-crop divides depth by the zoom, flip negates normals x, rotation is refused', async () => {
    const scene = syntheticScene(32, 5);
    const crop = RandomScaleCropMultiTask.main.create(RandomScaleCropMultiTask.params.parse({ scales: [1.5] }), ctx);
    const zoomed = await crop.process(scene, meta('train'));
    const maxDepth = (d: Float32Array) => d.reduce((m, v) => Math.max(m, v), 0);
    expect(maxDepth(zoomed.depth.data)).toBeLessThanOrEqual(maxDepth(scene.depth.data) / 1.5 + 1e-3);
    expect(new Set([...zoomed.label.data].filter((v) => v !== 255 && v > 3))).toEqual(new Set());
    const flip = RandomFlipMultiTask.main.create({ p: 1 }, ctx);
    const flipped = await flip.process(scene, meta('train'));
    const i = 10 * 32 + 3;
    const j = 10 * 32 + (31 - 3);
    expect(flipped.normal.data[i * 3]).toBeCloseTo(-scene.normal.data[j * 3]!, 4);
    expect(flipped.normal.data[i * 3 + 1]).toBeCloseTo(scene.normal.data[j * 3 + 1]!, 4);
    expect(flipped.depth.data[i]).toBeCloseTo(scene.depth.data[j]!, 3);
    const rotate = RandomRotateMultiTask.main.create(RandomRotateMultiTask.params.parse({}), ctx);
    await expect(rotate.process(scene, meta('train'))).rejects.toThrow('rotation of surface normals is not supported');
  });
});
