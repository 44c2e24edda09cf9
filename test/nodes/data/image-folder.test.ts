import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageFolder, listImageFolder } from '../../../src/nodes/data/image-folder.ts';
import { drain, rectSample, schedule, tempDir, writeRaster } from '../../fixtures/datasets.ts';

const params = (root: string, extra: Record<string, unknown> = {}) => ImageFolder.params.parse({ root, ...extra });
const SUPPORTED = 'supported: .jpg, .jpeg, .png, .tif, .tiff, .bmp';

describe('data/image-folder', () => {
  it('reads every image of the folder once, in natural name order, as split predict, with its SampleInfo', async () => {
    const root = tempDir();
    const files = { 'b.png': [10, 6], 'a.jpg': [12, 8], '10.tif': [7, 9], '2.bmp': [8, 8], 'c.jpeg': [9, 5], 'd.tiff': [6, 6] } as const;
    for (const [name, [w, h]] of Object.entries(files)) await writeRaster(join(root, name), rectSample(w, h, 1).image);
    expect(ImageFolder.main.total!(params(root))).toBe(6);
    const { items, warnings } = await drain(ImageFolder.main, params(root));
    expect(warnings).toEqual([]);
    expect(schedule(items)).toEqual(['predict:0', 'predict:0', 'predict:0', 'predict:0', 'predict:0', 'predict:0!']);
    expect(items.map((i) => i.values.info)).toEqual(
      ['2.bmp', '10.tif', 'a.jpg', 'b.png', 'c.jpeg', 'd.tiff'].map((name) => {
        const [width, height] = files[name as keyof typeof files];
        return { id: name.replace(/\.\w+$/, ''), file: join(root, name), width, height };
      }),
    );
    for (const { values } of items) expect([values.image.width, values.image.height, values.image.channels]).toEqual([values.info.width, values.info.height, 3]);
  });

  it('a resumed run starts at file ctx.skip, decoding none before it', async () => {
    const root = tempDir();
    for (const name of ['a', 'b', 'c']) await writeRaster(join(root, `${name}.png`), rectSample(8, 8, 0).image);
    writeFileSync(join(root, 'a.png'), 'no longer an image: a resumed run must not decode it');
    expect(ImageFolder.main.resumable).toBe(true);
    const made = ImageFolder.main.create(params(root), { node: 'images', kind: ImageFolder.kind, seed: 0, emit: () => undefined, skip: 1 });
    const items = [];
    for await (const item of made) items.push(item);
    expect(items.map((i) => [i.values.info.id, i.meta!.groupEnd])).toEqual([['b', false], ['c', true]]);
  });

  it('does not read sub-folders, and leaves unsupported files out with a warning', async () => {
    const root = tempDir();
    await writeRaster(join(root, 'x.png'), rectSample(8, 8, 0).image);
    await writeRaster(join(root, 'nested', 'y.png'), rectSample(8, 8, 0).image);
    writeFileSync(join(root, 'notes.txt'), 'hello');
    writeFileSync(join(root, 'z.webp'), 'RIFF');
    const { items, warnings } = await drain(ImageFolder.main, params(root));
    expect(items.map((i) => i.values.info.id)).toEqual(['x']);
    expect(warnings).toEqual([`${root}: left out 1 .txt file, 1 .webp file (${SUPPORTED})`]);
  });

  it('says what a folder holds when it holds no image: missing, empty, unsupported files, only sub-folders', async () => {
    const missing = join(tempDir(), 'nope');
    expect(() => listImageFolder(missing)).toThrow(`${missing}: no such folder (expected a folder of images)`);
    const empty = tempDir();
    expect(() => listImageFolder(empty)).toThrow(`${empty}: the folder is empty (expected image files; ${SUPPORTED})`);
    const webp = tempDir();
    for (const n of ['a', 'b', 'c']) writeFileSync(join(webp, `${n}.webp`), 'RIFF');
    writeFileSync(join(webp, 'README'), '');
    expect(() => listImageFolder(webp)).toThrow(`${webp}: no image files: the folder holds 3 .webp files, 1 file without an extension; ${SUPPORTED}`);
    const nested = tempDir();
    mkdirSync(join(nested, 'images'));
    expect(() => listImageFolder(nested)).toThrow(`${nested}: no image files: the folder holds 1 sub-folder (images; sub-folders are not read); ${SUPPORTED}`);
    const file = join(webp, 'a.webp');
    expect(() => listImageFolder(file)).toThrow(`${file}: not a folder`);
    // The node's run fails with the same message; total() stays unknown.
    expect(ImageFolder.main.total!(params(webp))).toBeUndefined();
    await expect(drain(ImageFolder.main, params(webp))).rejects.toThrow('holds 3 .webp files');
  });

  it('an undecodable file is an error naming it, or with skipCorrupt a warning', async () => {
    const root = tempDir();
    await writeRaster(join(root, 'a.png'), rectSample(8, 8, 0).image);
    writeFileSync(join(root, 'b.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    await writeRaster(join(root, 'c.png'), rectSample(8, 8, 0).image);
    await expect(drain(ImageFolder.main, params(root))).rejects.toThrow(`${join(root, 'b.jpg')}: cannot decode the image`);
    const { items, warnings } = await drain(ImageFolder.main, params(root, { skipCorrupt: true }));
    expect(items.map((i) => i.values.info.id)).toEqual(['a', 'c']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`skipped ${join(root, 'b.jpg')}: cannot decode the image`);
  });

  it('refuses two images with one name, since outputs are named after it', async () => {
    const root = tempDir();
    await writeRaster(join(root, 'a.png'), rectSample(8, 8, 0).image);
    await writeRaster(join(root, 'a.jpg'), rectSample(8, 8, 0).image);
    expect(() => listImageFolder(root)).toThrow(`${root}: two images share the name 'a' (a.jpg, a.png)`);
  });
});
