import { describe, expect, it } from 'vitest';
import { from, lastValueFrom, toArray } from 'rxjs';
import { Batch, BatchImages, BatchMultiTask, collate, collateLabelSamples, collateMultiTask } from '../../../src/nodes/data/batch.ts';
import type { RawImage, SampleInfo } from '../../../src/nodes/ports.ts';

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
    // A batch's index is its first item's: seeds derived from it do not depend on where a run started.
    expect(out.map((b) => b.meta.index)).toEqual([0, 2, 4, 5, 7]);
  });

  it('a run resumed partway numbers its batches as an uninterrupted run does', async () => {
    const indices = async (start: number) => {
      const operator = Batch.main.create({ size: 3 }, { node: 'batch', kind: Batch.kind, seed: 0, emit: () => undefined, release: () => undefined });
      const items = Array.from({ length: 12 - start }, (_, k) => start + k).map((index) => ({
        meta: { index, split: 'train', epoch: 0, groupEnd: index === 11 },
        weight: 1,
        values: { image: img(1, 1, 0), mask: msk(1, 1, 0) },
      }));
      return (await lastValueFrom(from(items).pipe(operator, toArray()))).map((b) => b.meta.index);
    };
    expect(await indices(0)).toEqual([0, 3, 6, 9]);
    expect(await indices(6)).toEqual([6, 9]);
  });

  const info = (id: string, width: number, height: number): SampleInfo => ({ id, file: `/data/${id}.jpg`, width, height });

  it('carries sample infos and original masks through, in batch order; empty lists when not connected', async () => {
    const originals = [msk(5, 3, 1), msk(2, 7, 0)];
    const out = collate([
      { image: img(2, 2, 0), mask: msk(2, 2, 1), info: info('a', 5, 3), original: originals[0] },
      { image: img(2, 2, 0), mask: msk(2, 2, 0), info: info('b', 2, 7), original: originals[1] },
    ]);
    expect(out.infos).toEqual([info('a', 5, 3), info('b', 2, 7)]);
    expect(out.originals).toEqual(originals);
    expect(out.originals[0]).toBe(originals[0]); // no copy: the mask is read-only from here on
    const bare = collate([{ image: img(2, 2, 0), mask: msk(2, 2, 1) }]);
    expect([bare.infos, bare.originals]).toEqual([[], []]);
    expect(() => collate([{ image: img(1, 1, 0), mask: msk(1, 1, 0), info: info('a', 1, 1) }, { image: img(1, 1, 0), mask: msk(1, 1, 0) }])).toThrow(
      "sample 1 of the batch has no 'info' while others have one",
    );
    expect(() => collate([{ image: img(1, 1, 0), mask: msk(1, 1, 0), original: img(1, 1, 0) }])).toThrow(
      'original mask 0 of the batch is 1x1x3 with 3 values; expected a one-channel binary mask (HW1)',
    );
  });

  it('data/batch-images batches images with their infos, cut at group ends', async () => {
    const operator = BatchImages.main.create({ size: 2 }, { node: 'b', kind: BatchImages.kind, seed: 0, emit: () => undefined, release: () => undefined });
    const items = [0, 1, 2].map((index) => ({ meta: { index, split: 'predict', epoch: 0, groupEnd: index === 2 }, weight: 1, values: { image: img(3, 2, 255), info: info(`p${index}`, 30, 20) } }));
    const out = await lastValueFrom(from(items).pipe(operator, toArray()));
    expect(out.map((b) => [b.meta.index, b.values.images.shape, b.values.infos.map((i) => i.id), b.meta.groupEnd])).toEqual([
      [0, [2, 2, 3, 3], ['p0', 'p1'], false],
      [2, [1, 2, 3, 3], ['p2'], true],
    ]);
    expect(out[0]!.values.images.data.every((v) => v === 1)).toBe(true);
  });
});

describe('batch: class ids and multi-task', () => {
  const label = (w: number, h: number, values: number[]): RawImage => ({ width: w, height: h, channels: 1, data: Uint8Array.from(values) });
  const float = (w: number, h: number, c: number, fill: number) => ({ width: w, height: h, channels: c, data: new Float32Array(w * h * c).fill(fill) });

  it('collates class ids to int32 NHW1 with the ignore label as -1', () => {
    const { images, labels } = collateLabelSamples([
      { image: img(2, 1, 255), label: label(2, 1, [0, 3]) },
      { image: img(2, 1, 0), label: label(2, 1, [255, 1]) },
    ]);
    expect(images.shape).toEqual([2, 1, 2, 3]);
    expect(labels.dtype).toBe('int32');
    expect(labels.shape).toEqual([2, 1, 2, 1]);
    expect([...labels.data]).toEqual([0, 3, -1, 1]);
  });

  it('collates image, labels, depth and normals of a multi-task batch, and names a plane of the wrong size', () => {
    const sample = (d: number) => ({ image: img(2, 2, 51), label: label(2, 2, [0, 1, 2, 255]), depth: float(2, 2, 1, d), normal: float(2, 2, 3, 0.5) });
    const out = collateMultiTask([sample(1), sample(2)]);
    expect(out.depths.shape).toEqual([2, 2, 2, 1]);
    expect([...out.depths.data]).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
    expect(out.normals.shape).toEqual([2, 2, 2, 3]);
    expect(out.normals.data.every((v) => v === 0.5)).toBe(true);
    expect([...out.labels.data]).toEqual([0, 1, 2, -1, 0, 1, 2, -1]);
    expect(() => collateMultiTask([sample(1), { ...sample(1), depth: float(3, 2, 1, 0) }])).toThrow('depth map 1 of the batch is 3x2x1; expected 2x2x1 (resize before batching)');
  });

  it('BatchMultiTask never mixes groups either', async () => {
    const operator = BatchMultiTask.main.create({ size: 4 }, { node: 'b', kind: BatchMultiTask.kind, seed: 0, emit: () => undefined, release: () => undefined });
    const item = (split: string, groupEnd: boolean, index: number) => ({
      meta: { index, split, epoch: 0, groupEnd },
      weight: 1,
      values: { image: img(1, 1, 0), label: label(1, 1, [0]), depth: float(1, 1, 1, 1), normal: float(1, 1, 3, 0) },
    });
    const out = await lastValueFrom(from([item('train', false, 0), item('train', true, 1), item('val', false, 2), item('val', true, 3)]).pipe(operator, toArray()));
    expect(out.map((b) => [b.meta.split, b.values.images.shape[0], b.weight])).toEqual([['train', 2, 2], ['val', 2, 2]]);
  });
});
