import { describe, expect, it } from 'vitest';
import { ClassIndexMasks, listClassIndexMasks } from '../../../src/nodes/data/class-index-masks.ts';
import { drain, tempDir, writeCamvid, writeTrans10k } from '../../fixtures/datasets.ts';

describe('class-index masks', () => {
  it('reads Trans10K (images/N.jpg + masks_12/N_mask.png), validation as val', async () => {
    const root = await writeTrans10k(tempDir());
    const listing = listClassIndexMasks(root);
    expect(listing).toMatchObject({ variant: 'trans10k', targets: 'classes' });
    expect(listing.splits.map((s) => [s.name, s.entries.length])).toEqual([['train', 3], ['val', 2]]);
    const { items } = await drain(ClassIndexMasks.main, ClassIndexMasks.params.parse({ root, shuffle: false }));
    expect(items.map((i) => [...new Set(i.values.label.data)].sort((a, b) => a - b))).toEqual([[0, 1, 255], [0, 2, 255], [0, 3, 255], [0, 1, 255], [0, 2, 255]]);
  });

  it('reads CamVid (train/ + trainannot/) with its void class 11 as the ignore label', async () => {
    const root = await writeCamvid(tempDir());
    expect(listClassIndexMasks(root).variant).toBe('camvid');
    const { items } = await drain(ClassIndexMasks.main, ClassIndexMasks.params.parse({ root, ignoreLabel: 11, classes: 11, shuffle: false }));
    expect(items).toHaveLength(5);
    const first = items[0]!.values.label;
    expect(first.data.subarray(first.width * (first.height - 1)).every((v) => v === 255)).toBe(true);
    expect(new Set(first.data)).toEqual(new Set([0, 2, 255]));
    // Without the ignore label, 11 is a class id beyond `classes`: an error naming the file.
    await expect(drain(ClassIndexMasks.main, ClassIndexMasks.params.parse({ root, classes: 11 }))).rejects.toThrow(/annot\/f\d\.png: pixel 0,15 has class 11; expected 11 classes/);
  });

  it('says what it looked for', () => {
    const root = tempDir();
    expect(() => listClassIndexMasks(root)).toThrow('the folder is empty');
  });
});
