import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { listPairedFolders, PairedFolders } from '../../../src/nodes/data/paired-folders.ts';
import { drain, names, tempDir, writeKvasir, writePairs } from '../../fixtures/datasets.ts';

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
    expect(() => listPairedFolders(own)).toThrow(/no paired image\/mask folders found \(looked for images\/ \+ masks\/ \(kvasir\)/);
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
    await expect(drain(PairedFolders.main, params(root))).rejects.toThrow(`1 file(s) have no partner:\n  ${join(root, 'images', 'lonely.jpg')}: no mask named lonely.*`);
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
