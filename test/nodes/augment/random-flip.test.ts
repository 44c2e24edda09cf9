import { describe, expect, it } from 'vitest';
import { RandomFlip, flipHorizontal } from '../../../src/nodes/augment/random-flip.ts';
import type { RawImage } from '../../../src/nodes/ports.ts';

const W = 7;
const H = 5;

/** An image and mask with one marker pixel at (x, y); the image marker is (200, 10, 20). */
function marked(x: number, y: number): { image: RawImage; mask: RawImage } {
  const image = new Uint8Array(W * H * 3).fill(50);
  image.set([200, 10, 20], (y * W + x) * 3);
  const mask = new Uint8Array(W * H);
  mask[y * W + x] = 1;
  return { image: { width: W, height: H, channels: 3, data: image }, mask: { width: W, height: H, channels: 1, data: mask } };
}

function markerOf(img: RawImage): [number, number] {
  for (let i = 0; i < img.width * img.height; i++) {
    if (img.channels === 1 ? img.data[i] === 1 : img.data[i * 3] === 200) return [i % img.width, Math.floor(i / img.width)];
  }
  throw new Error('no marker');
}

const ctx = { node: 'flip', kind: RandomFlip.kind, seed: 3, emit: () => undefined };

describe('random flip', () => {
  it('moves the marker to x = W - 1 - x in image and mask alike, keeping colour and channels', async () => {
    const { image, mask } = marked(1, 2);
    const [fi, fm] = await Promise.all([flipHorizontal(image), flipHorizontal(mask)]);
    expect(markerOf(fi)).toEqual([5, 2]);
    expect(markerOf(fm)).toEqual([5, 2]);
    expect([...fi.data.subarray((2 * W + 5) * 3, (2 * W + 5) * 3 + 3)]).toEqual([200, 10, 20]);
    expect(fm.data.length).toBe(W * H);
    expect(fm.data.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('flips every training item at p = 1 and never a validation item', async () => {
    const impl = RandomFlip.main.create({ p: 1 }, ctx);
    const train = await impl.process(marked(0, 0), { index: 0, split: 'train', epoch: 0, groupEnd: false });
    const val = await impl.process(marked(0, 0), { index: 0, split: 'val', epoch: 0, groupEnd: false });
    expect(markerOf(train.image)).toEqual([6, 0]);
    expect(markerOf(train.mask)).toEqual([6, 0]);
    expect(markerOf(val.image)).toEqual([0, 0]);
  });

  it('flips about half the items at p = 0.5, the same ones for the same seed', async () => {
    const flips = async (seed: number) => {
      const impl = RandomFlip.main.create({ p: 0.5 }, { ...ctx, seed });
      const out: boolean[] = [];
      for (let index = 0; index < 200; index++) {
        const r = await impl.process(marked(0, 0), { index, split: 'train', epoch: 0, groupEnd: false });
        out.push(markerOf(r.image)[0] === 6);
      }
      return out;
    };
    const a = await flips(3);
    expect(a.filter(Boolean).length).toBeGreaterThan(80);
    expect(a.filter(Boolean).length).toBeLessThan(120);
    expect(await flips(3)).toEqual(a);
  });

  it('rejects a mask whose size differs from its image', async () => {
    const impl = RandomFlip.main.create({ p: 1 }, ctx);
    const { image } = marked(0, 0);
    const mask = { width: 3, height: 3, channels: 1, data: new Uint8Array(9) };
    await expect(impl.process({ image, mask }, { index: 0, split: 'train', epoch: 0, groupEnd: false })).rejects.toThrow('image is 7x5 but its mask is 3x3');
  });
});
