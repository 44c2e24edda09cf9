import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { z } from 'zod';
import type { RunEvent } from '../../../src/graph/events.ts';
import { GraphBuilder } from '../../../src/graph/graph.ts';
import { defineNode } from '../../../src/graph/node.ts';
import { tensorData } from '../../../src/graph/port.ts';
import { run } from '../../../src/graph/run.ts';
import { ResizeSquare } from '../../../src/nodes/augment/resize-square.ts';
import { Batch } from '../../../src/nodes/data/batch.ts';
import { decodeMask, resizeNearest } from '../../../src/nodes/data/decode.ts';
import { PairedFolders } from '../../../src/nodes/data/paired-folders.ts';
import { scoreBinaryImage, type BinaryScores } from '../../../src/nodes/metrics/binary-metrics.ts';
import { BinaryMetrics } from '../../../src/nodes/metrics/binary-set.ts';
import { MetricPool } from '../../../src/nodes/metrics/pool.ts';
import { resizeBilinear } from '../../../src/nodes/metrics/resize-bilinear.ts';
import { MaskBatch, MaskProbs, type RawImage } from '../../../src/nodes/ports.ts';
import { names, tempDir, writePairs } from '../../fixtures/datasets.ts';

afterAll(() => MetricPool.shared().close());

/** A smooth probability map: high inside a disc, soft at its edge. */
function probMap(size: number, cx: number, cy: number, r: number): Float32Array {
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) out[y * size + x] = 1 / (1 + Math.exp(Math.hypot(x - cx, y - cy) - r));
  return out;
}

/** A 0/1 mask with a rectangle at the same relative place. */
function original(width: number, height: number): RawImage {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = x > width * 0.3 && x < width * 0.7 && y > height * 0.25 && y < height * 0.75 ? 1 : 0;
  return { width, height, channels: 1, data };
}

const NAMES = ['iou', 'dice', 'sm', 'em', 'wfm', 'mae', 'ber'] as const;

/** What scoring at the original resolution means, computed on this thread. */
function expectedAtOriginal(prob: Float32Array, size: number, gt: RawImage): BinaryScores {
  const pred = resizeBilinear(prob, size, size, gt.width, gt.height);
  return scoreBinaryImage({ width: gt.width, height: gt.height, pred, gt: Float32Array.from(gt.data) }, NAMES);
}

describe('metrics/binary at the ground truth’s resolution', () => {
  it('resizes each probability map to its original mask (bilinear) before scoring, and names per-image rows by sample id', async () => {
    const events: { type: string; name?: string; value?: number; data?: unknown }[] = [];
    const impl = BinaryMetrics.main.create({ metrics: [...NAMES], perImage: true }, { node: 'm', kind: BinaryMetrics.kind, seed: 0, emit: (e) => events.push(e) });
    const size = 16;
    const maps = [probMap(size, 8, 8, 3), probMap(size, 6, 9, 4), probMap(size, 8, 8, 5)];
    const gts = [original(37, 23), original(16, 16), original(9, 30)];
    const infos = gts.map((g, i) => ({ id: `img${i}`, file: `/x/img${i}.jpg`, width: g.width, height: g.height }));
    const expected = maps.map((m, i) => expectedAtOriginal(m, size, gts[i]!));
    const probs = tensorData(Float32Array.from(maps.flatMap((m) => [...m])), [3, size, size, 1]);
    const masks = tensorData(new Float32Array(3 * size * size), [3, size, size, 1]); // not read: originals rule
    await impl.process({ probs, masks, originals: gts, infos }, { index: 0, split: 'test/Kvasir', epoch: 0, groupEnd: true });
    const log = events.find((e) => e.type === 'log') as { data: { images: (BinaryScores & { item: number; image: number; id: string })[] } };
    expect(log.data.images.map((r) => [r.id, r.item, r.image])).toEqual([
      ['img0', 0, 0],
      ['img1', 0, 1],
      ['img2', 0, 2],
    ]);
    log.data.images.forEach((row, i) => {
      for (const name of NAMES) expect(row[name], `${name} of image ${i}`).toBeCloseTo(expected[i]![name]!, 9);
    });
    const iou = events.find((e) => e.type === 'metric' && e.name === 'iou')!;
    expect(iou.value).toBeCloseTo((expected[0]!.iou! + expected[1]!.iou! + expected[2]!.iou!) / 3, 9);
    // Scored at 16x16 against the nearest-resized mask instead, the numbers differ: the resize matters.
    expect(expected[0]!.iou).not.toBeCloseTo(scoreBinaryImage({ width: 16, height: 16, pred: maps[0]!, gt: Float32Array.from(original(16, 16).data) }, ['iou']).iou!, 3);
  });

  it('names a batch whose originals or infos do not match its images', async () => {
    const impl = BinaryMetrics.main.create({ metrics: ['iou'], perImage: false }, { node: 'm', kind: BinaryMetrics.kind, seed: 0, emit: () => undefined });
    const probs = tensorData(new Float32Array(2 * 4 * 4), [2, 4, 4, 1]);
    const masks = tensorData(new Float32Array(2 * 4 * 4), [2, 4, 4, 1]);
    const meta = { index: 0, split: 'val', epoch: 0, groupEnd: false };
    await expect(impl.process({ probs, masks, originals: [original(5, 5)] }, meta)).rejects.toThrow(
      "probs holds 2 images but masks 2 and originals 1; expected one original mask per image (connect Batch's originals)",
    );
    const info = { id: 'a', file: 'a.png', width: 4, height: 4 };
    await expect(impl.process({ probs, masks, infos: [info] }, meta)).rejects.toThrow("probs holds 2 images but infos 1; expected one SampleInfo per image (connect Batch's infos)");
    await expect(impl.process({ probs, masks, originals: [original(5, 5), { width: 5, height: 5, channels: 3, data: new Uint8Array(75) }] }, meta)).rejects.toThrow(
      'originals[1] is 5x5x3 with 75 values; expected a one-channel binary mask',
    );
  });

  it('the pool resizes a prediction sent at its own size, and checks both sizes', async () => {
    const pool = new MetricPool(1);
    try {
      const prob = probMap(16, 8, 8, 4);
      const gt = original(30, 20);
      const scores = await pool.score({ width: 30, height: 20, pred: prob.slice(), gt: Uint8Array.from(gt.data, (v) => v * 255) }, NAMES, { predSize: { width: 16, height: 16 } });
      const expected = expectedAtOriginal(prob, 16, gt);
      for (const name of NAMES) expect(scores[name], name).toBeCloseTo(expected[name]!, 12);
      await expect(pool.score({ width: 30, height: 20, pred: new Float32Array(255), gt: new Uint8Array(600) }, ['iou'], { predSize: { width: 16, height: 16 } })).rejects.toThrow(
        'image: prediction holds 255 values; its predSize 16x16 needs 256',
      );
      await expect(pool.score({ width: 30, height: 20, pred: new Float32Array(256), gt: new Uint8Array(599) }, ['iou'], { predSize: { width: 16, height: 16 } })).rejects.toThrow(
        'image: ground truth holds 599 values; a 30x20 image needs 600',
      );
    } finally {
      await pool.close();
    }
  });
});

/** A stand-in for a model: probabilities from the batch's own masks (0.1 / 0.9). */
const ProbsFromMasks = defineNode({
  kind: 'test/probs-from-masks',
  description: 'test stand-in for a segmentation model',
  placement: 'main',
  inputs: { masks: MaskBatch },
  outputs: { probs: MaskProbs },
  params: z.object({}),
  main: {
    type: 'map',
    create: () => ({ process: ({ masks }) => ({ probs: tensorData(Float32Array.from(masks.data, (v) => 0.1 + 0.8 * v), masks.shape) }) }),
  },
});

describe('originals and infos through a running graph', () => {
  it('reader -> resize -> batch (info, original) -> model -> metrics scores every image at its file’s size', async () => {
    const root = tempDir();
    await writePairs(root, 'TestDataset/Kvasir/images', 'TestDataset/Kvasir/masks', names(3, 'k'), { image: '.png', mask: '.png' }, { width: 30, height: 21 });
    await writePairs(root, 'TrainDataset/images', 'TrainDataset/masks', names(2), { image: '.png', mask: '.png' });
    const g = new GraphBuilder({ name: 'eval', seed: 1 });
    const data = g.add('data', PairedFolders, { params: { root, splits: ['test/Kvasir'] } });
    const resize = g.add('resize', ResizeSquare, { params: { size: 16 }, inputs: { image: data.out.image, mask: data.out.mask } });
    const batch = g.add('batch', Batch, { params: { size: 2 }, inputs: { image: resize.out.image, mask: resize.out.mask, info: data.out.info, original: data.out.mask } });
    const model = g.add('model', ProbsFromMasks, { inputs: { masks: batch.out.masks } });
    g.add('metrics', BinaryMetrics, {
      params: { metrics: ['iou', 'mae'], perImage: true },
      inputs: { probs: model.out.probs, masks: batch.out.masks, originals: batch.out.originals, infos: batch.out.infos },
    });
    const events = await lastValueFrom(run(g.build()).pipe(toArray()));
    expect(events.filter((e) => e.type === 'failed')).toEqual([]);
    const log = events.find((e): e is Extract<RunEvent, { type: 'log' }> => e.type === 'log' && e.message.startsWith('per-image metrics'))!;
    const rows = (log.data as { images: { id: string; item: number; iou: number; mae: number }[] }).images;
    expect(rows.map((r) => [r.id, r.item])).toEqual([['k0', 0], ['k1', 0], ['k2', 2]]);
    // Each row is the 16x16 prediction resized back to 30x21, against the mask file as stored.
    for (const row of rows) {
      const gt = await decodeMask(join(root, 'TestDataset/Kvasir/masks', `${row.id}.png`));
      const small = resizeNearest(gt, 16, 16);
      const expected = expectedAtOriginal(Float32Array.from(small.data, (v) => 0.1 + 0.8 * v), 16, gt);
      expect([gt.width, gt.height]).toEqual([30, 21]);
      expect(row.iou, row.id).toBeCloseTo(expected.iou!, 12);
      expect(row.mae, row.id).toBeCloseTo(expected.mae!, 12);
      expect(row.iou).toBeLessThan(1); // the round trip through 16x16 loses detail that scoring at 16x16 would hide
    }
  });
});
