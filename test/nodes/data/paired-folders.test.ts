import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { inspectDataset } from '../../../src/nodes/data/inspect.ts';
import { detectLayout } from '../../../src/nodes/data/detect-layout.ts';
import { listPairedFolders, PairedFolders } from '../../../src/nodes/data/paired-folders.ts';
import { drain, names, rectSample, tempDir, writeKvasir, writePairs, writeRaster } from '../../fixtures/datasets.ts';

const params = (root: string, extra: Record<string, unknown> = {}) => PairedFolders.params.parse({ root, ...extra });

describe('paired folders', () => {
  it('reads Kvasir-SEG (images/ + masks/, JPEG masks) as one train split of binary samples', async () => {
    const root = await writeKvasir(tempDir(), 4);
    const listing = listPairedFolders(root);
    expect(listing).toMatchObject({ layout: 'paired-folders', variant: 'kvasir', targets: 'binary', unpaired: [] });
    expect(listing.splits.map((s) => [s.name, s.entries.length])).toEqual([['train', 4]]);
    const { items } = await drain(PairedFolders.main, params(root));
    expect(items).toHaveLength(4);
    for (const { values } of items) {
      expect([values.image.width, values.image.height, values.image.channels]).toEqual([24, 16, 3]);
      expect([values.mask.width, values.mask.height, values.mask.channels]).toEqual([24, 16, 1]);
      expect(new Set(values.mask.data)).toEqual(new Set([0, 1]));
    }
  });

  it('reads CVC-ClinicDB (Original/ + Ground Truth/, TIFF), COD10K/CAMO (Imgs/ + GT/) and SBU (ShadowImages/ + ShadowMasks/)', async () => {
    const cases = [
      ['cvc-clinicdb', 'Original', 'Ground Truth', { image: '.tif', mask: '.tif' }],
      ['cod', 'Imgs', 'GT', { image: '.jpg', mask: '.png' }],
      ['sbu', 'ShadowImages', 'ShadowMasks', { image: '.jpg', mask: '.png' }],
    ] as const;
    for (const [variant, images, masks, ext] of cases) {
      const root = tempDir();
      await writePairs(root, images, masks, names(3), ext);
      const listing = listPairedFolders(root);
      expect(listing.variant).toBe(variant);
      expect(listing.splits[0]!.entries).toHaveLength(3);
      const { items } = await drain(PairedFolders.main, params(root));
      // Lossless masks: exactly the 8x5 rectangle of each fixture is foreground.
      expect(items.map((i) => i.values.mask.data.reduce((a, b) => a + b, 0))).toEqual([40, 40, 40]);
    }
  });

  it('finds split folders below the root (SBU train/test, PraNet TestDataset/<set>) and pairs of your own', async () => {
    const root = tempDir();
    await writePairs(root, 'SBUTrain4KRecoveredSmall/ShadowImages', 'SBUTrain4KRecoveredSmall/ShadowMasks', names(3), { image: '.jpg', mask: '.png' });
    await writePairs(root, 'SBU-Test/ShadowImages', 'SBU-Test/ShadowMasks', names(2), { image: '.jpg', mask: '.png' });
    expect(listPairedFolders(root).splits.map((s) => [s.name, s.entries.length])).toEqual([['test', 2], ['train', 3]]);

    const pranet = tempDir();
    await writePairs(pranet, 'TrainDataset/images', 'TrainDataset/masks', names(3), { image: '.png', mask: '.png' });
    await writePairs(pranet, 'TestDataset/Kvasir/images', 'TestDataset/Kvasir/masks', names(2), { image: '.png', mask: '.png' });
    await writePairs(pranet, 'TestDataset/CVC-ClinicDB/images', 'TestDataset/CVC-ClinicDB/masks', names(1), { image: '.png', mask: '.png' });
    expect(listPairedFolders(pranet).splits.map((s) => s.name).sort()).toEqual(['test/CVC-ClinicDB', 'test/Kvasir', 'train']);

    const own = tempDir();
    await writePairs(own, 'rgb', 'annotations', names(2), { image: '.bmp', mask: '.bmp' });
    expect(() => listPairedFolders(own)).toThrow(/no paired image\/mask folders found \(looked for images\/ \+ masks\/ or image\/ \+ mask\/ \(kvasir\)/);
    const { items } = await drain(PairedFolders.main, params(own, { images: 'rgb', masks: 'annotations' }));
    expect(items).toHaveLength(2);
    expect(() => PairedFolders.params.parse({ root: own, images: 'rgb' })).toThrow(/both images and masks/);
  });

  it('names files without a partner and fails, unless skipUnpaired; non-images are set aside, not paired', async () => {
    const root = await writeKvasir(tempDir(), 3);
    await writePairs(root, 'images', 'elsewhere', ['lonely'], { image: '.jpg', mask: '.png' });
    writeFileSync(join(root, 'masks', 'README.txt'), 'notes');
    const listing = listPairedFolders(root);
    expect(listing.unpaired).toEqual([{ file: join(root, 'images', 'lonely.jpg'), reason: `no mask named lonely.* in ${join(root, 'masks')}` }]);
    expect(listing.ignored.map((i) => i.file)).toEqual([join(root, 'masks', 'README.txt')]);
    await expect(drain(PairedFolders.main, params(root))).rejects.toThrow(
      `1 file(s) have no partner:\n  ${join(root, 'images', 'lonely.jpg')}: no mask named lonely.* in ${join(root, 'masks')}\n` +
        "Fix the data set, or leave them out with --set skipUnpaired=true on samflow train/run/eval (the reader param 'skipUnpaired' in a graph of your own).",
    );
    const { items, warnings } = await drain(PairedFolders.main, params(root, { skipUnpaired: true }));
    expect(items).toHaveLength(3);
    expect(warnings).toEqual([`left out 1 file(s) without a partner (skipUnpaired): ${join(root, 'images', 'lonely.jpg')}`]);
  });

  it('refuses two files with one stem', async () => {
    const root = await writeKvasir(tempDir(), 2);
    await writePairs(root, 'images', 'other', ['cju0'], { image: '.png', mask: '.png' });
    expect(() => listPairedFolders(root)).toThrow(/two image files share the stem 'cju0' \(cju0.jpg, cju0.png\)/);
  });
});

describe('paired folders: the PraNet polyp benchmark and CVC-ClinicDB', () => {
  /** PraNet's release: TrainDataset/{image,mask} and one TestDataset/<Name>/{images,masks} per test set. */
  async function writePranet(root: string) {
    await writePairs(root, 'TrainDataset/image', 'TrainDataset/mask', names(4), { image: '.png', mask: '.png' });
    await writePairs(root, 'TestDataset/CVC-ClinicDB/images', 'TestDataset/CVC-ClinicDB/masks', names(2, 'c'), { image: '.png', mask: '.png' });
    await writePairs(root, 'TestDataset/Kvasir/images', 'TestDataset/Kvasir/masks', names(3, 'k'), { image: '.png', mask: '.png' }, { width: 30, height: 20 });
    await writePairs(root, 'TestDataset/ETIS-LaribPolypDB/images', 'TestDataset/ETIS-LaribPolypDB/masks', names(1, 'e'), { image: '.png', mask: '.png' });
    return root;
  }

  it('lists TrainDataset/{image,mask} as train and every TestDataset/<Name> as test/<Name>', async () => {
    const root = await writePranet(tempDir());
    const listing = detectLayout(root);
    expect(listing).toMatchObject({ layout: 'paired-folders', variant: 'kvasir', unpaired: [] });
    expect(listing.splits.map((s) => [s.name, s.entries.length, s.where])).toEqual([
      ['train', 4, join('TrainDataset', 'image/')],
      ['test/CVC-ClinicDB', 2, join('TestDataset', 'CVC-ClinicDB', 'images/')],
      ['test/ETIS-LaribPolypDB', 1, join('TestDataset', 'ETIS-LaribPolypDB', 'images/')],
      ['test/Kvasir', 3, join('TestDataset', 'Kvasir', 'images/')],
    ]);
    expect(listing.description).toContain('image/ + mask/ or images/ + masks/ matched by file stem');
    // A caller reads one test set by name; items carry the split and each sample's identity.
    const { items } = await drain(PairedFolders.main, params(root, { splits: ['test/Kvasir'] }));
    expect(items.map((i) => i.meta!.split)).toEqual(['test/Kvasir', 'test/Kvasir', 'test/Kvasir']);
    expect(items.map((i) => i.values.info)).toEqual(
      ['k0', 'k1', 'k2'].map((id) => ({ id, file: join(root, 'TestDataset', 'Kvasir', 'images', `${id}.png`), width: 30, height: 20 })),
    );
    // The default (train, then val when present) still trains on TrainDataset only.
    expect(PairedFolders.main.total!(params(root))).toBe(4);
    await expect(drain(PairedFolders.main, params(root, { splits: ['test/nope'] }))).rejects.toThrow(
      `${root}: no split 'test/nope'; the data set has 'train' (4), 'test/CVC-ClinicDB' (2), 'test/ETIS-LaribPolypDB' (1), 'test/Kvasir' (3)`,
    );
  });

  it('samflow data inspect reports each test set', async () => {
    const root = await writePranet(tempDir());
    const report = await inspectDataset(root);
    expect(report.splits.map((s) => [s.name, s.samples])).toEqual([
      ['train', 4],
      ['test/CVC-ClinicDB', 2],
      ['test/ETIS-LaribPolypDB', 1],
      ['test/Kvasir', 3],
    ]);
    expect(report.corrupt).toEqual([]);
  });

  it('a plain TestDataset/{images,masks} is the test split', async () => {
    const root = tempDir();
    await writePairs(root, 'TrainDataset/images', 'TrainDataset/masks', names(3), { image: '.jpg', mask: '.png' });
    await writePairs(root, 'TestDataset/images', 'TestDataset/masks', names(2), { image: '.jpg', mask: '.png' });
    expect(listPairedFolders(root).splits.map((s) => [s.name, s.entries.length])).toEqual([['test', 2], ['train', 3]]);
  });

  it('a split folder with images but no masks is an error naming it, not a split left out', async () => {
    const root = await writePranet(tempDir());
    mkdirSync(join(root, 'TestDataset', 'CVC-300', 'images'), { recursive: true });
    await writeRaster(join(root, 'TestDataset', 'CVC-300', 'images', 'a.png'), rectSample(8, 8, 0).image);
    expect(() => listPairedFolders(root)).toThrow(
      `${root}: ${join(root, 'TestDataset', 'CVC-300')} holds images/ but no masks/; expected both, as ${join('TrainDataset', 'image')}/ + mask/ (kvasir)`,
    );
    const half = tempDir();
    await writeRaster(join(half, 'images', 'a.png'), rectSample(8, 8, 0).image);
    expect(() => listPairedFolders(half)).toThrow(`found only halves of a pair: ${half} holds images/ but no masks/; it holds: images/`);
    expect(() => detectLayout(half)).toThrow(`Found only halves of a pair: ${half} holds images/ but no masks/. The folder holds: images/`);
  });

  it('reads CVC-ClinicDB as images/ + masks/ of TIFF files (grey, RGB and 1-bit masks) as one train split, binarised', async () => {
    const root = tempDir();
    const encodings = [
      (p: ReturnType<typeof sharp>) => p.toColourspace('b-w').tiff({ compression: 'lzw' }),
      (p: ReturnType<typeof sharp>) => p.toColourspace('srgb').tiff({ compression: 'none' }),
      (p: ReturnType<typeof sharp>) => p.toColourspace('b-w').tiff({ bitdepth: 1, compression: 'ccittfax4' }),
    ];
    for (const [i, encode] of encodings.entries()) {
      const s = rectSample(24, 16, i);
      await writeRaster(join(root, 'images', `${i + 1}.tif`), s.image);
      mkdirSync(join(root, 'masks'), { recursive: true });
      await encode(sharp(s.mask.data, { raw: { width: 24, height: 16, channels: 1 } })).toFile(join(root, 'masks', `${i + 1}.tif`));
    }
    const listing = detectLayout(root);
    expect(listing.splits.map((s) => [s.name, s.entries.length])).toEqual([['train', 3]]);
    const { items } = await drain(PairedFolders.main, params(root, { shuffle: false }));
    for (const [i, { values }] of items.entries()) {
      const expected = rectSample(24, 16, i).mask.data.map((v) => (v ? 1 : 0));
      expect([...values.mask.data], `mask ${i + 1}.tif`).toEqual([...expected]);
      expect(values.info).toEqual({ id: `${i + 1}`, file: join(root, 'images', `${i + 1}.tif`), width: 24, height: 16 });
    }
  });
});
