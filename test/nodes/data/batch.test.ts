import { describe, expect, it } from 'vitest';
import { from, lastValueFrom, toArray } from 'rxjs';
import { Batch, BatchMultiTask, collate, collateLabelSamples, collateMultiTask } from '../../../src/nodes/data/batch.ts';
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
