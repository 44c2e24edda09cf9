import { describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutogluonCsv, AutogluonCsvLabels, listAutogluonCsv } from '../../../src/nodes/data/autogluon-csv.ts';
import { drain, labelSample, schedule, tempDir, writeAutogluonCsv, writeRaster } from '../../fixtures/datasets.ts';

describe('autogluon CSV layout', () => {
  it('lists train/val/test CSVs (index column, paths relative to the CSV folder), from the folder above too', async () => {
    const root = await writeAutogluonCsv(tempDir());
    for (const at of [root, join(root, 'polyp')]) {
      const listing = listAutogluonCsv(at);
      expect(listing.splits.map((s) => [s.name, s.entries.length])).toEqual([['train', 4], ['val', 2], ['test_Kvasir', 2]]);
      expect(listing.splits[0]!.entries[0]!.files).toEqual({ image: join(root, 'polyp/train/images/train_0.jpg'), mask: join(root, 'polyp/train/masks/train_0.png') });
    }
  });

  it('reads train then val each epoch by default, and any split by name', async () => {
    const root = await writeAutogluonCsv(tempDir());
    const { items } = await drain(AutogluonCsv.main, AutogluonCsv.params.parse({ root, epochs: 2 }));
    expect(schedule(items)).toEqual(['train:0', 'train:0', 'train:0', 'train:0!', 'val:0', 'val:0!', 'train:1', 'train:1', 'train:1', 'train:1!', 'val:1', 'val:1!']);
    expect(items.every((i) => new Set(i.values.mask.data).size === 2)).toBe(true);
    const test = await drain(AutogluonCsv.main, AutogluonCsv.params.parse({ root, splits: ['test_Kvasir'] }));
    expect(schedule(test.items)).toEqual(['test_Kvasir:0', 'test_Kvasir:0!']);
    // Each sample says who it is: the CSV row's image file, its stem as id, the image's size.
    expect(test.items.map((i) => i.values.info)).toEqual(
      [0, 1].map((i) => ({ id: `test_Kvasir_${i}`, file: join(root, `polyp/test_Kvasir/images/test_Kvasir_${i}.jpg`), width: 20, height: 14 })),
    );
    await expect(drain(AutogluonCsv.main, AutogluonCsv.params.parse({ root, splits: ['test'] }))).rejects.toThrow(
      "no split 'test'; the data set has 'train' (4), 'val' (2), 'test_Kvasir' (2)",
    );
  });

  it('a row whose file is missing is named, with its CSV and row', async () => {
    const root = await writeAutogluonCsv(tempDir());
    rmSync(join(root, 'polyp/val/masks/val_1.png'));
    const listing = listAutogluonCsv(root);
    expect(listing.unpaired).toEqual([{ file: join(root, 'polyp/val/masks/val_1.png'), reason: 'listed in val.csv row 2 but missing' }]);
    await expect(drain(AutogluonCsv.main, AutogluonCsv.params.parse({ root }))).rejects.toThrow('listed in val.csv row 2 but missing');
  });

  it('reads class-id labels with the /labels kind (Trans10K through CSVs)', async () => {
    const root = tempDir();
    const rows = [',image,label'];
    for (let i = 0; i < 3; i++) {
      const s = labelSample(16, 12, i, i + 1);
      await writeRaster(join(root, `images/${i}.jpg`), s.image);
      await writeRaster(join(root, `masks/${i}_mask.png`), s.label);
      rows.push(`${i},images/${i}.jpg,masks/${i}_mask.png`);
    }
    writeFileSync(join(root, 'train.csv'), rows.join('\n'));
    const { items } = await drain(AutogluonCsvLabels.main, AutogluonCsvLabels.params.parse({ root, shuffle: false }));
    expect(items.map((i) => [...new Set(i.values.label.data)].sort((a, b) => a - b))).toEqual([[0, 1, 255], [0, 2, 255], [0, 3, 255]]);
  });

  it('says what it expected when there is no CSV', () => {
    const root = tempDir();
    writeFileSync(join(root, 'notes.csv'), 'a,b\n1,2\n');
    expect(() => listAutogluonCsv(root)).toThrow(`${root}: no AutoGluon CSV found (expected train.csv / val.csv / test*.csv with 'image' and 'label' columns`);
  });
});
