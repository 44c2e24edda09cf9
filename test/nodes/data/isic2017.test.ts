import { describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Isic2017, listIsic2017 } from '../../../src/nodes/data/isic2017.ts';
import { drain, rectSample, tempDir, writeIsic, writeRaster } from '../../fixtures/datasets.ts';

describe('ISIC 2017', () => {
  it('pairs ISIC_x.jpg with ISIC_x_segmentation.png per split, leaving superpixels aside', async () => {
    const root = await writeIsic(tempDir());
    const listing = listIsic2017(root);
    expect(listing.splits.map((s) => [s.name, s.entries.map((e) => e.id)])).toEqual([
      ['train', ['ISIC_0000000', 'ISIC_0000001', 'ISIC_0000002']],
      ['val', ['ISIC_0000003', 'ISIC_0000004']],
    ]);
    expect(listing.ignored).toHaveLength(5);
    expect(listing.unpaired).toEqual([]);
    const { items } = await drain(Isic2017.main, Isic2017.params.parse({ root }));
    expect(items).toHaveLength(5);
    expect(items.every((i) => i.values.mask.data.some((v) => v === 1))).toBe(true);
    const val = await drain(Isic2017.main, Isic2017.params.parse({ root, splits: ['val'] }));
    expect(val.items.map((i) => i.values.info)).toEqual(
      ['ISIC_0000003', 'ISIC_0000004'].map((id) => ({ id, file: join(root, 'ISIC-2017_Validation_Data', `${id}.jpg`), width: 22, height: 18 })),
    );
  });

  it("reads AutoGluon's copy (train/ISIC-2017_Train + train/ISIC-2017_Training_Part1_GroundTruth)", async () => {
    const root = tempDir();
    for (let i = 0; i < 2; i++) {
      const s = rectSample(16, 16, i);
      await writeRaster(join(root, 'train/ISIC-2017_Train', `ISIC_00${i}.jpg`), s.image);
      await writeRaster(join(root, 'train/ISIC-2017_Training_Part1_GroundTruth', `ISIC_00${i}_segmentation.png`), s.mask);
      await writeRaster(join(root, 'test/ISIC-2017_Test', `ISIC_10${i}.jpg`), s.image);
      await writeRaster(join(root, 'test/ISIC-2017_Test_v2_Part1_GroundTruth', `ISIC_10${i}_segmentation.png`), s.mask);
    }
    expect(listIsic2017(root).splits.map((s) => [s.name, s.entries.length])).toEqual([['train', 2], ['test', 2]]);
  });

  it('names an image without its mask', async () => {
    const root = await writeIsic(tempDir());
    rmSync(join(root, 'ISIC-2017_Validation_Part1_GroundTruth', 'ISIC_0000004_segmentation.png'));
    expect(listIsic2017(root).unpaired).toEqual([{ file: join(root, 'ISIC-2017_Validation_Data', 'ISIC_0000004.jpg'), reason: "no ISIC_0000004_segmentation.png in split 'val'" }]);
  });
});
