import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type { ItemMeta, NodeEvent, RunEvent } from '../../../src/graph/events.ts';
import { tensorData } from '../../../src/graph/port.ts';
import { classColour } from '../../../src/nodes/data/synthetic-classes.ts';
import { galleriesOf } from '../../../src/nodes/report/gallery-data.ts';
import { multitaskGalleryHtml } from '../../../src/nodes/report/gallery-html.ts';
import { CLASS_ZERO, INVALID_GREY, MultitaskGallery, MultitaskGalleryParams, multitaskGalleriesOf } from '../../../src/nodes/report/multitask-gallery.ts';

const meta = (split: string, epoch: number, index: number, groupEnd = false): ItemMeta => ({ split, epoch, index, groupEnd });

/** RGB triples of a base64 PNG. */
async function pixels(b64: string): Promise<number[][]> {
  const raw = await sharp(Buffer.from(b64, 'base64')).removeAlpha().raw().toBuffer();
  return Array.from({ length: raw.length / 3 }, (_, i) => [...raw.subarray(3 * i, 3 * i + 3)]);
}

const TASKS = [
  { name: 'seg', kind: 'segmentation', classes: 3 },
  { name: 'depth', kind: 'depth' },
  { name: 'normal', kind: 'normals' },
] as const;

function gallery(params: Record<string, unknown> = {}) {
  // As the runner records them: with the emitting node's name.
  const events: RunEvent[] = [];
  const impl = MultitaskGallery.main.create(MultitaskGalleryParams.parse({ tasks: TASKS, ...params }), { node: 'gallery', kind: MultitaskGallery.kind, seed: 0, emit: (e: NodeEvent) => events.push({ ...e, node: 'gallery' } as RunEvent) });
  // One 2x2 image (pixels in row order 0..3) per batch item.
  const batch = (n = 1) => ({
    images: tensorData(new Float32Array(n * 12).fill(0.5), [n, 2, 2, 3]),
    segLabels: tensorData(Int32Array.from({ length: n * 4 }, (_, i) => [0, 1, 2, -1][i % 4]!), [n, 2, 2, 1]),
    segPred: tensorData(Int32Array.from({ length: n * 4 }, (_, i) => [2, 1, 0, 0][i % 4]!), [n, 2, 2, 1]),
    depthGt: tensorData(Float32Array.from({ length: n * 4 }, (_, i) => [1, 2, 3, 0][i % 4]!), [n, 2, 2, 1]),
    depthPred: tensorData(Float32Array.from({ length: n * 4 }, (_, i) => [1, 3, 5, 0.5][i % 4]!), [n, 2, 2, 1]),
    normalGt: tensorData(Float32Array.from({ length: n * 12 }, (_, i) => [0, 0, 1, 1, 0, 0, 0, -1, 0, 0, 0, 0][i % 12]!), [n, 2, 2, 3]),
    normalPred: tensorData(Float32Array.from({ length: n * 12 }, (_, i) => [0, 0, 1, 0, 1, 0, -1, 0, 0, 0, 0, 1][i % 12]!), [n, 2, 2, 3]),
  });
  return { impl, events, batch };
}

describe('report/multitask-gallery', () => {
  it('colours each task: class colours, viridis on the ground truth range (invalid grey), normals as (n + 1) / 2', async () => {
    const { impl, events, batch } = gallery({ count: 2 });
    await impl.process(batch(), meta('train', 0, 0, true)); // another split: nothing kept
    await impl.process(batch(3), meta('val', 0, 1, true));
    // Not a binary / class gallery: the other reader skips it.
    expect(galleriesOf(events)).toEqual([]);
    const [record] = multitaskGalleriesOf(events);
    expect(events[0]).toMatchObject({ type: 'log', message: "kept 2 val images of epoch 1 for the report's gallery" });
    expect(record).toMatchObject({ kind: 'multitask', split: 'val', epoch: 0, tasks: TASKS });
    expect(record!.items.map((i) => [i.id, i.width, i.height])).toEqual([['val 1', 2, 2], ['val 2', 2, 2]]);
    const item = record!.items[0]!;
    expect(await pixels(item.image)).toEqual(Array(4).fill([128, 128, 128]));
    // class-gallery's colours (classColour), class 0 dark, ignore (-1) grey.
    const c = (k: number) => classColour(k, 3).map(Math.round);
    expect(await pixels(item.tasks.seg!.truth)).toEqual([[...CLASS_ZERO], c(1), c(2), [...INVALID_GREY]]);
    expect(await pixels(item.tasks.seg!.pred)).toEqual([c(2), c(1), [...CLASS_ZERO], [...CLASS_ZERO]]);
    // Depth: one range for both, from the valid truth (1..3): its ends are viridis' ends, the prediction clamps to them.
    const [low, mid, high] = [[68, 1, 84], [33, 145, 140], [253, 231, 37]];
    expect(item.tasks.depth!.range).toEqual([1, 3]);
    expect(await pixels(item.tasks.depth!.truth)).toEqual([low, mid, high, [...INVALID_GREY]]);
    expect(await pixels(item.tasks.depth!.pred)).toEqual([low, high, high, low]);
    // (0, 0, 1) → (128, 128, 255); (1, 0, 0) → red-ish; (0, −1, 0) → no green; (0, 0, 0) = invalid → grey.
    expect(await pixels(item.tasks.normal!.truth)).toEqual([[128, 128, 255], [255, 128, 128], [128, 0, 128], [...INVALID_GREY]]);
    expect(await pixels(item.tasks.normal!.pred)).toEqual([[128, 128, 255], [128, 255, 128], [0, 128, 128], [128, 128, 255]]);

    const html = multitaskGalleryHtml(record!, 'two images');
    expect(html.match(/<img /g)).toHaveLength(2 * 7);
    expect(html).toContain('depth 1.00–3.00');
    expect(html).toContain('Each row: image · seg truth · seg prediction · depth truth · depth prediction · normal truth · normal prediction.');
  });

  it('shows only the tasks asked for, resumes a group from its saved state, and names an input that is not connected', async () => {
    const first = gallery({ count: 3, tasks: [TASKS[1]] });
    const { depthGt, depthPred, images } = first.batch(2);
    await first.impl.process({ images, depthGt, depthPred }, meta('val', 0, 0));
    const second = gallery({ count: 3, tasks: [TASKS[1]] });
    second.impl.state!.restore(JSON.parse(JSON.stringify(await first.impl.state!.save())));
    await second.impl.process({ images, depthGt, depthPred }, meta('val', 0, 1, true));
    const [record] = multitaskGalleriesOf(second.events);
    expect(record!.items.map((i) => [i.id, Object.keys(i.tasks)])).toEqual([['val 1', ['depth']], ['val 2', ['depth']], ['val 3', ['depth']]]);
    const missing = gallery();
    await expect(missing.impl.process({ images, depthGt, depthPred }, meta('val', 0, 0))).rejects.toThrow("node 'gallery': task 'seg' is segmentation but input 'segLabels' is not connected");
    expect(() => gallery({ tasks: [{ name: 'seg', kind: 'segmentation' }] })).toThrow("node 'gallery' param 'tasks': segmentation task 'seg' needs 'classes'");
  });
});
