import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import sharp from 'sharp';
import { z } from 'zod';
import type { NodeEvent, RunEvent } from '../../../src/graph/events.ts';
import { GraphBuilder } from '../../../src/graph/graph.ts';
import { defineNode } from '../../../src/graph/node.ts';
import { tensorData } from '../../../src/graph/port.ts';
import { run } from '../../../src/graph/run.ts';
import { ResizeSquareImage } from '../../../src/nodes/augment/resize-square.ts';
import { BatchImages } from '../../../src/nodes/data/batch.ts';
import { ImageFolder } from '../../../src/nodes/data/image-folder.ts';
import { resizeBilinear } from '../../../src/nodes/metrics/resize-bilinear.ts';
import { ImageBatch, MaskProbs, type SampleInfo } from '../../../src/nodes/ports.ts';
import { maskPixels, WriteMasks, WriteMasksParams } from '../../../src/nodes/report/write-masks.ts';
import { rectSample, tempDir, writeRaster } from '../../fixtures/datasets.ts';

const info = (id: string, width: number, height: number): SampleInfo => ({ id, file: `/images/${id}.jpg`, width, height });

/** A writer instance with the events it emits. */
function writer(params: Record<string, unknown>) {
  const events: NodeEvent[] = [];
  const impl = WriteMasks.main.create(WriteMasksParams.parse(params), { node: 'write', kind: WriteMasks.kind, seed: 0, emit: (e) => events.push(e) });
  const write = (planes: number[][], size: [number, number], infos: SampleInfo[], index = 0) =>
    impl.process({ probs: tensorData(Float32Array.from(planes.flat()), [planes.length, size[1], size[0], 1]), infos }, { index, split: 'predict', epoch: 0, groupEnd: false });
  return { impl, events, write };
}

/** A PNG as stored: size, channel count and bit depth from its header, then its grey values. */
async function readPng(file: string) {
  const meta = await sharp(file).metadata();
  const data = await sharp(file).extractChannel(0).raw().toBuffer();
  return { width: meta.width, height: meta.height, channels: meta.channels, depth: meta.depth, format: meta.format, values: [...data] };
}

describe('report/write-masks', () => {
  it('writes <dir>/<id>.png as 0/255 at the original size, the map resized bilinearly first', async () => {
    const dir = join(tempDir('samflow-masks-'), 'out'); // made if missing
    const { impl, events, write } = writer({ dir });
    const plane = Array.from({ length: 16 }, (_, i) => (i % 4) / 3); // columns 0, 1/3, 2/3, 1
    await write([plane, plane.map((v) => 1 - v)], [4, 4], [info('wide', 9, 3), info('same', 4, 4)]);
    await impl.finish!();
    expect(readdirSync(dir).sort()).toEqual(['same.png', 'wide.png']); // nothing temporary left
    const wide = await readPng(join(dir, 'wide.png'));
    expect([wide.format, wide.width, wide.height, wide.channels, wide.depth]).toEqual(['png', 9, 3, 1, 'uchar']);
    const expected = [...resizeBilinear(Float32Array.from(plane), 4, 4, 9, 3)].map((v) => (v > 0.5 ? 255 : 0));
    expect(wide.values).toEqual(expected);
    expect(new Set(wide.values)).toEqual(new Set([0, 255]));
    const same = await readPng(join(dir, 'same.png'));
    expect(same.values).toEqual(plane.map((v) => (1 - v > 0.5 ? 255 : 0)));
    expect(events).toEqual([{ type: 'log', message: `wrote 2 mask PNGs to ${dir}`, data: { dir, count: 2, probs: false, threshold: 0.5 } }]);
  });

  it('with probs, writes round(p * 255); the threshold moves the binary cut', async () => {
    expect([...maskPixels(Float32Array.from([0, 0.25, 0.5, 1]), 4, 1, 4, 1, { probs: true, threshold: 0.5 })]).toEqual([0, 64, 128, 255]);
    expect([...maskPixels(Float32Array.from([0.2, 0.3, 0.5, 0.9]), 4, 1, 4, 1, { probs: false, threshold: 0.25 })]).toEqual([0, 255, 255, 255]);
    const dir = tempDir('samflow-masks-');
    const { write } = writer({ dir, probs: true });
    await write([[0, 0.25, 0.5, 1]], [2, 2], [info('p', 2, 2)]);
    expect((await readPng(join(dir, 'p.png'))).values).toEqual([0, 64, 128, 255]);
  });

  it('never overwrites: a PNG from another run is an error naming it, and stays as it was', async () => {
    const dir = tempDir('samflow-masks-');
    writeFileSync(join(dir, 'a.png'), 'earlier run');
    const { write } = writer({ dir });
    await expect(write([[1, 1, 1, 1]], [2, 2], [info('a', 2, 2)])).rejects.toThrow(
      `${join(dir, 'a.png')} already exists (from an earlier run?); write-masks never overwrites a file: choose another --out folder, or remove it`,
    );
    expect(readFileSync(join(dir, 'a.png'), 'utf8')).toBe('earlier run');
    expect(readdirSync(dir)).toEqual(['a.png']);
  });

  it('two images with one id are an error naming both files, within a batch or across batches', async () => {
    const dir = tempDir('samflow-masks-');
    const { write } = writer({ dir });
    await write([[0, 0, 0, 0]], [2, 2], [{ ...info('x', 2, 2), file: '/a/x.jpg' }]);
    await expect(write([[0, 0, 0, 0]], [2, 2], [{ ...info('x', 2, 2), file: '/b/x.png' }], 1)).rejects.toThrow(
      `two images share the id 'x': /a/x.jpg and /b/x.png; both masks would be ${join(dir, 'x.png')}`,
    );
    const again = writer({ dir: tempDir('samflow-masks-') });
    await expect(again.write([[0, 0, 0, 0], [0, 0, 0, 0]], [2, 2], [info('y', 2, 2), info('y', 2, 2)])).rejects.toThrow("two images share the id 'y'");
  });

  it('names a batch whose infos do not fit, and an id that is not a file name', async () => {
    const { write } = writer({ dir: tempDir('samflow-masks-') });
    await expect(write([[0, 0, 0, 0], [0, 0, 0, 0]], [2, 2], [info('a', 2, 2)])).rejects.toThrow(
      "probs holds 2 images but infos 1; expected one SampleInfo per image (connect the batch node's infos)",
    );
    await expect(write([[0, 0, 0, 0]], [2, 2], [info('../up', 2, 2)])).rejects.toThrow("sample id '../up' (image /images/../up.jpg) cannot name a PNG file");
    expect(() => WriteMasksParams.parse({ dir: 'x', threshold: 2 })).toThrow();
  });
});

/** A stand-in for a model: the probability is each pixel's red channel. */
const RedProbs = defineNode({
  kind: 'test/red-probs',
  description: 'test stand-in for a segmentation model',
  placement: 'main',
  inputs: { images: ImageBatch },
  outputs: { probs: MaskProbs },
  params: z.object({}),
  main: {
    type: 'map',
    create: () => ({
      process: ({ images }) => {
        const [n, h, w] = images.shape as [number, number, number, number];
        return { probs: tensorData(Float32Array.from({ length: n * h * w }, (_, i) => images.data[i * 3]!), [n, h, w, 1]) };
      },
    }),
  },
});

describe('prediction through a running graph', () => {
  it('image folder -> resize -> batch-images -> model -> write-masks writes one PNG per image at its own size', async () => {
    const root = tempDir();
    const sizes = { a: [30, 20], b: [17, 25], c: [24, 24] } as const;
    for (const [id, [w, h]] of Object.entries(sizes)) await writeRaster(join(root, `${id}.png`), rectSample(w, h, 2).image);
    const out = join(tempDir('samflow-masks-'), 'masks');
    const graph = () => {
      const g = new GraphBuilder({ name: 'predict', seed: 1 });
      const images = g.add('images', ImageFolder, { params: { root } });
      const resize = g.add('resize', ResizeSquareImage, { params: { size: 16, kernel: 'linear' }, inputs: { image: images.out.image } });
      const batch = g.add('batch', BatchImages, { params: { size: 2 }, inputs: { image: resize.out.image, info: images.out.info } });
      const model = g.add('model', RedProbs, { inputs: { images: batch.out.images } });
      g.add('write', WriteMasks, { params: { dir: out }, inputs: { probs: model.out.probs, infos: batch.out.infos } });
      return g.build();
    };
    const events = await lastValueFrom(run(graph()).pipe(toArray()));
    expect(events.filter((e) => e.type === 'failed')).toEqual([]);
    expect(events.find((e): e is Extract<RunEvent, { type: 'log' }> => e.type === 'log')?.message).toBe(`wrote 3 mask PNGs to ${out}`);
    expect(readdirSync(out).sort()).toEqual(['a.png', 'b.png', 'c.png']);
    for (const [id, [w, h]] of Object.entries(sizes)) {
      const png = await readPng(join(out, `${id}.png`));
      expect([png.width, png.height, png.channels], id).toEqual([w, h, 1]);
      // The red rectangle (220/255 red) is foreground; the grey gradient (at most 160/255) is not.
      const { rect } = rectSample(w, h, 2);
      const centre = (rect.y + Math.floor(rect.h / 2)) * w + rect.x + Math.floor(rect.w / 2);
      expect([png.values[centre], png.values[0]], id).toEqual([255, 0]);
    }
    // A second run into the same folder fails naming a file it would overwrite (batches write
    // concurrently, so whichever batch gets there first), and leaves every mask as it was.
    const before = ['a', 'b', 'c'].map((id) => readFileSync(join(out, `${id}.png`)));
    const again = await lastValueFrom(run(graph()).pipe(toArray()));
    expect(again.find((e) => e.type === 'failed')).toMatchObject({ node: 'write', kind: 'report/write-masks' });
    expect((again.find((e) => e.type === 'failed') as { error: string }).error).toMatch(new RegExp(`${out}/[abc]\\.png already exists`));
    expect(['a', 'b', 'c'].map((id) => readFileSync(join(out, `${id}.png`)))).toEqual(before);
    expect(readdirSync(out).sort()).toEqual(['a.png', 'b.png', 'c.png']);
  });
});
