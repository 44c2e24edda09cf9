import { describe, expect, it } from 'vitest';
import { from, lastValueFrom, toArray } from 'rxjs';
import { Batch, collate } from '../../../src/nodes/data/batch.ts';
import type { RawImage } from '../../../src/nodes/ports.ts';

const img = (w: number, h: number, fill: number): RawImage => ({ width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3).fill(fill) });
const msk = (w: number, h: number, fill: number): RawImage => ({ width: w, height: h, channels: 1, data: new Uint8Array(w * h).fill(fill) });

describe('batch', () => {
  it('collates to NHWC float32 in [0, 1] and NHW1 binary masks', () => {
    const { images, masks } = collate([
      { image: img(2, 1, 255), mask: msk(2, 1, 1) },
      { image: img(2, 1, 51), mask: msk(2, 1, 0) },
    ]);
    expect(images.shape).toEqual([2, 1, 2, 3]);
    expect([...images.data]).toEqual([1, 1, 1, 1, 1, 1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2].map((v) => Math.fround(v)));
    expect(masks.shape).toEqual([2, 1, 2, 1]);
    expect([...masks.data]).toEqual([1, 1, 0, 0]);
  });

  it('names the sample whose size differs', () => {
    expect(() => collate([{ image: img(2, 2, 0), mask: msk(2, 2, 0) }, { image: img(3, 2, 0), mask: msk(3, 2, 0) }])).toThrow(
      'sample 1 of the batch is 3x2x3; expected 2x2x3 like the first (resize before batching)',
    );
  });

  it('never mixes groups, keeps weights, and marks group ends', async () => {
    const metas = [
      ...[0, 1, 2, 3, 4].map((i) => ({ index: i, split: 'train', epoch: 0, groupEnd: i === 4 })),
      ...[5, 6, 7].map((i) => ({ index: i, split: 'val', epoch: 0, groupEnd: i === 7 })),
    ];
    const operator = Batch.main.create({ size: 2 }, { node: 'batch', kind: Batch.kind, seed: 0, emit: () => undefined, release: () => undefined });
    const out = await lastValueFrom(from(metas.map((meta) => ({ meta, weight: 1, values: { image: img(1, 1, 0), mask: msk(1, 1, 0) } }))).pipe(operator, toArray()));
    expect(out.map((b) => [b.meta.split, b.values.images.shape[0], b.weight, b.meta.groupEnd])).toEqual([
      ['train', 2, 2, false],
      ['train', 2, 2, false],
      ['train', 1, 1, true],
      ['val', 2, 2, false],
      ['val', 1, 1, true],
    ]);
    expect(out.map((b) => b.meta.index)).toEqual([0, 1, 2, 3, 4]);
  });
});
