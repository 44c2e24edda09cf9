import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type { ItemMeta, NodeEvent } from '../../../src/graph/events.ts';
import { tensorData } from '../../../src/graph/port.ts';
import { ClassGallery, ClassGalleryParams } from '../../../src/nodes/report/class-gallery.ts';
import { Gallery, BinaryGalleryParams } from '../../../src/nodes/report/gallery.ts';
import { galleriesOf, thumbnailSize, type GalleryRecord } from '../../../src/nodes/report/gallery-data.ts';
import { ERROR_COLOURS, galleryHtml } from '../../../src/nodes/report/gallery-html.ts';

const meta = (split: string, epoch: number, index: number, groupEnd = false): ItemMeta => ({ split, epoch, index, groupEnd });

/** Grey values of a base64 PNG. */
async function grey(b64: string): Promise<number[]> {
  return [...(await sharp(Buffer.from(b64, 'base64')).extractChannel(0).raw().toBuffer())];
}

function binaryGallery(params: Record<string, unknown>) {
  const events: NodeEvent[] = [];
  const impl = Gallery.main.create(BinaryGalleryParams.parse(params), { node: 'gallery', kind: Gallery.kind, seed: 0, emit: (e) => events.push(e) });
  // Batch of n 2x2 images: image value k/10 + b/100, truth one pixel per image, probs 0.25 steps.
  const batch = (n: number, k: number) => ({
    images: tensorData(Float32Array.from({ length: n * 12 }, (_, i) => k / 10 + Math.floor(i / 12) / 100), [n, 2, 2, 3]),
    masks: tensorData(Float32Array.from({ length: n * 4 }, (_, i) => (i % 4 === 0 ? 1 : 0)), [n, 2, 2, 1]),
    probs: tensorData(Float32Array.from({ length: n * 4 }, (_, i) => (i % 4) * 0.25), [n, 2, 2, 1]),
  });
  return { impl, events, batch };
}

describe('report/gallery', () => {
  it('keeps the first count images of the split per epoch and emits them at the group end', async () => {
    const { impl, events, batch } = binaryGallery({ count: 3 });
    await impl.process(batch(2, 1), meta('train', 0, 0, true)); // another split: nothing kept
    await impl.process(batch(2, 2), meta('val', 0, 1));
    await impl.process(batch(2, 3), meta('val', 0, 2));
    expect(events).toEqual([]);
    await impl.process(batch(2, 4), meta('val', 0, 3, true));
    const [record] = galleriesOf(events.map((e) => ({ ...e, node: 'gallery' })));
    expect(events[0]).toMatchObject({ type: 'log', message: "kept 3 val images of epoch 1 for the report's gallery" });
    expect(record).toMatchObject({ kind: 'binary', split: 'val', epoch: 0, threshold: 0.5 });
    expect(record!.items.map((i) => [i.id, i.width, i.height])).toEqual([['val 1', 2, 2], ['val 2', 2, 2], ['val 3', 2, 2]]);
    // The third is the first image of the second batch: value 0.3 → 77 in every channel.
    expect(await grey(record!.items[2]!.image)).toEqual([77, 77, 77, 77]);
    expect(await grey(record!.items[2]!.truth)).toEqual([255, 0, 0, 0]);
    expect(await grey(record!.items[2]!.pred)).toEqual([0, 64, 128, 191]);
    // A new epoch starts afresh.
    await impl.process(batch(1, 5), meta('val', 1, 4, true));
    expect(galleriesOf(events.map((e) => ({ ...e, node: 'gallery' }))).map((g) => [g.epoch, g.items.length])).toEqual([[0, 3], [1, 1]]);
  });

  it('a resumed run continues a group with the pictures kept before the checkpoint', async () => {
    const first = binaryGallery({ count: 4 });
    await first.impl.process(first.batch(2, 1), meta('val', 0, 0));
    const saved = JSON.parse(JSON.stringify(await first.impl.state!.save()));
    const second = binaryGallery({ count: 4 });
    second.impl.state!.restore(saved);
    await second.impl.process(second.batch(2, 2), meta('val', 0, 1, true));
    const [record] = galleriesOf(second.events.map((e) => ({ ...e, node: 'gallery' })));
    expect(record!.items.map((i) => i.id)).toEqual(['val 1', 'val 2', 'val 3', 'val 4']);
  });

  it('names a batch whose ports do not fit', async () => {
    const { impl, batch } = binaryGallery({});
    const b = batch(2, 1);
    await expect(impl.process({ ...b, probs: tensorData(new Float32Array(4), [1, 2, 2, 1]) }, meta('val', 0, 0))).rejects.toThrow(
      'probs is [1, 2, 2, 1] but images [2, 2, 2, 3]; expected the same batch at the same size',
    );
    await expect(impl.process({ ...b, masks: tensorData(new Int32Array(8), [2, 2, 2, 1]) }, meta('val', 0, 0))).rejects.toThrow('masks must be float32 NHW1, got int32 [2, 2, 2, 1]');
  });

  it('shrinks large images to maxSize on the longest side, keeping the aspect ratio', () => {
    expect(thumbnailSize(1024, 512, 96)).toEqual({ width: 96, height: 48 });
    expect(thumbnailSize(32, 32, 96)).toEqual({ width: 32, height: 32 });
  });
});

describe('report/class-gallery', () => {
  it('keeps class ids (ignore as 255) and names ids out of range', async () => {
    const events: NodeEvent[] = [];
    const impl = ClassGallery.main.create(ClassGalleryParams.parse({ classes: 3 }), { node: 'gallery', kind: ClassGallery.kind, seed: 0, emit: (e) => events.push(e) });
    const images = tensorData(new Float32Array(12).fill(0.5), [1, 2, 2, 3]);
    await impl.process({ images, labels: tensorData(Int32Array.from([0, 1, 2, -1]), [1, 2, 2, 1]), pred: tensorData(Int32Array.from([0, 2, 2, 1]), [1, 2, 2, 1]) }, meta('val', 0, 0, true));
    const [record] = galleriesOf(events.map((e) => ({ ...e, node: 'gallery' })));
    expect(record).toMatchObject({ kind: 'classes', classes: 3 });
    expect(await grey(record!.items[0]!.truth)).toEqual([0, 1, 2, 255]);
    expect(await grey(record!.items[0]!.pred)).toEqual([0, 2, 2, 1]);
    await expect(
      impl.process({ images, labels: tensorData(Int32Array.from([0, 1, 2, 3]), [1, 2, 2, 1]), pred: tensorData(new Int32Array(4), [1, 2, 2, 1]) }, meta('val', 1, 1)),
    ).rejects.toThrow('labels holds class 3 at image 0; expected 0..2 or -1 (ignore)');
  });
});

describe('gallery section', () => {
  const png = async (pixels: number[], channels: 1 | 3) => (await sharp(Uint8Array.from(pixels), { raw: { width: 3, height: 1, channels } }).png().toBuffer()).toString('base64');
  /** RGB of each pixel of a data-URI PNG. */
  const rgb = async (uri: string) => {
    const data = await sharp(Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64')).raw().toBuffer();
    return Array.from({ length: data.length / 3 }, (_, i) => [data[i * 3]!, data[i * 3 + 1]!, data[i * 3 + 2]!]);
  };

  it('colours false positives and false negatives apart over the dimmed image, and scores the item', async () => {
    // Pixels: true positive, false negative, false positive; image mid-grey 100.
    const record: GalleryRecord = {
      kind: 'binary', split: 'val', epoch: 2, threshold: 0.5,
      items: [{ id: 'a', width: 3, height: 1, image: await png(Array(9).fill(100), 3), truth: await png([255, 255, 0], 1), pred: await png([200, 50, 255], 1) }],
    };
    const html = await galleryHtml(record, 'note');
    const uris = [...html.matchAll(/src="(data:image\/png;base64,[^"]+)"/g)].map((m) => m[1]!);
    expect(uris).toHaveLength(4);
    expect(html).toContain('IoU 0.333 · FP 33.3 % · FN 33.3 %');
    const dim = 60; // 0.6 · 100
    const mix = (c: readonly number[], a: number) => c.map((v) => Math.round(dim * (1 - a) + v * a));
    expect(await rgb(uris[3]!)).toEqual([mix(ERROR_COLOURS.tp, 0.55), mix(ERROR_COLOURS.fn, 0.9), mix(ERROR_COLOURS.fp, 0.9)]);
    expect((await rgb(uris[0]!))[0]).toEqual([100, 100, 100]); // the image as it was
  });
});
