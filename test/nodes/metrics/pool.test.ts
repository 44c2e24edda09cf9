import { afterAll, describe, expect, it } from 'vitest';
import { BINARY_METRICS, scoreBinaryImage } from '../../../src/nodes/metrics/binary-metrics.ts';
import { BinaryMetrics } from '../../../src/nodes/metrics/binary-set.ts';
import { MetricPool } from '../../../src/nodes/metrics/pool.ts';
import { tensorData } from '../../../src/graph/port.ts';

const image = (seed: number, width = 40, height = 30) => {
  const pred = new Float32Array(width * height);
  const gt = new Uint8Array(width * height);
  for (let i = 0; i < pred.length; i++) {
    const r = Math.floor(i / width);
    const c = i % width;
    gt[i] = (r - 12) ** 2 + (c - 18 - seed) ** 2 < 60 ? 255 : 0;
    pred[i] = Math.min(1, Math.max(0, (gt[i]! / 255) * 0.8 + 0.3 * Math.sin(i * 0.37 + seed) ** 2));
  }
  return { width, height, pred, gt };
};

describe('MetricPool', () => {
  const pool = new MetricPool(2);
  afterAll(() => pool.close());

  it('scores images in worker threads exactly as on the main thread, in order', async () => {
    const images = [0, 1, 2, 3, 4].map((s) => image(s));
    const expected = images.map((img) => scoreBinaryImage(img, BINARY_METRICS));
    const got = await Promise.all(images.map((img) => pool.score(img, BINARY_METRICS)));
    expect(got).toEqual(expected);
    expect(pool.started).toBe(2);
    // Without `transfer` the caller keeps its arrays.
    expect(images[0]!.pred.length).toBe(1200);
  });

  it('moves the buffers with `transfer`, and names what was wrong', async () => {
    const img = image(0);
    await pool.score(img, ['mae'], { transfer: true });
    expect(img.pred.length).toBe(0);
    await expect(pool.score({ width: 3, height: 3, pred: new Float32Array(9), gt: new Uint8Array(8) }, ['iou'])).rejects.toThrow(
      'image: prediction holds 9 values and ground truth 8; a 3x3 image needs 9 each',
    );
  });

  it('refuses work once closed', async () => {
    const closing = new MetricPool(1);
    await closing.score(image(1), ['iou']);
    await closing.close();
    await expect(closing.score(image(1), ['iou'])).rejects.toThrow('MetricPool: the pool was closed');
  });
});

describe('metrics/binary node', () => {
  it('emits per-group means of per-image scores and, on request, every image', async () => {
    const events: { type: string; name?: string; value?: number; split?: string; data?: unknown }[] = [];
    const impl = BinaryMetrics.main.create(
      { metrics: ['iou', 'mae'], perImage: true },
      { node: 'm', kind: BinaryMetrics.kind, seed: 0, emit: (e) => events.push(e) },
    );
    const batch = (imgs: ReturnType<typeof image>[]) => ({
      probs: tensorData(Float32Array.from(imgs.flatMap((i) => [...i.pred])), [imgs.length, 30, 40, 1]),
      masks: tensorData(Float32Array.from(imgs.flatMap((i) => [...i.gt].map((v) => v / 255))), [imgs.length, 30, 40, 1]),
    });
    const a = [image(0), image(1)];
    const b = [image(2)];
    const meta = (index: number, groupEnd: boolean) => ({ index, split: 'val', epoch: 0, groupEnd });
    await Promise.all([impl.process(batch(a), meta(0, false)), impl.process(batch(b), meta(1, true))]);
    const scores = [...a, ...b].map((img) => scoreBinaryImage(img, ['iou', 'mae']));
    const metrics = events.filter((e) => e.type === 'metric');
    expect(metrics.map((e) => e.name)).toEqual(['iou', 'mae']);
    expect(metrics[0]!.value).toBeCloseTo((scores[0]!.iou! + scores[1]!.iou! + scores[2]!.iou!) / 3, 12);
    expect(metrics[1]!.value).toBeCloseTo((scores[0]!.mae! + scores[1]!.mae! + scores[2]!.mae!) / 3, 12);
    const log = events.find((e) => e.type === 'log') as { data: { images: { item: number; image: number; iou: number }[] } };
    expect(log.data.images.map((r) => [r.item, r.image])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
    ]);
    await MetricPool.shared().close();
  });
});
