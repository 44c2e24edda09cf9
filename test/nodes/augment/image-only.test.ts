import { describe, expect, it } from 'vitest';
import { ResizeLongestSide, ResizeLongestSideImage } from '../../../src/nodes/augment/resize-longest-side.ts';
import { ResizeSquare, ResizeSquareImage } from '../../../src/nodes/augment/resize-square.ts';
import type { ItemMeta } from '../../../src/graph/events.ts';
import type { RawImage } from '../../../src/nodes/ports.ts';
import { rectSample } from '../../fixtures/datasets.ts';

const ctx = { node: 'aug', kind: 'augment', seed: 3, emit: () => undefined };
const meta: ItemMeta = { index: 0, split: 'predict', epoch: 0, groupEnd: false };

type Process<I> = { process(inputs: I, meta: ItemMeta): { image: RawImage } | Promise<{ image: RawImage }> };

/** The image one kind makes of a sample, and the image the image-only kind makes of it alone. */
async function both(paired: Process<{ image: RawImage; mask: RawImage }>, alone: Process<{ image: RawImage }>) {
  const s = rectSample(30, 20, 1);
  return { paired: (await paired.process({ image: s.image, mask: s.mask }, meta)).image, alone: (await alone.process({ image: s.image }, meta)).image };
}

describe('augment/NAME/image: the same geometry on an image alone (prediction)', () => {
  it('resize-square', async () => {
    expect([ResizeSquareImage.kind, Object.keys(ResizeSquareImage.inputs)]).toEqual(['augment/resize-square/image', ['image']]);
    const params = ResizeSquare.params.parse({ size: 24 });
    const { paired, alone } = await both(ResizeSquare.main.create(params, ctx), ResizeSquareImage.main.create(params, ctx));
    expect([alone.width, alone.height]).toEqual([24, 24]);
    expect(alone.data).toEqual(paired.data);
  });

  it('resize-longest-side', async () => {
    expect(ResizeLongestSideImage.kind).toBe('augment/resize-longest-side/image');
    const params = ResizeLongestSide.params.parse({ size: 24 });
    const { paired, alone } = await both(ResizeLongestSide.main.create(params, ctx), ResizeLongestSideImage.main.create(params, ctx));
    expect([alone.width, alone.height]).toEqual([24, 24]);
    expect(alone.data).toEqual(paired.data);
  });
});
