import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { planSplits, ReaderParams } from '../../../src/nodes/data/dataset-source.ts';
import type { Entry, Listing } from '../../../src/nodes/data/listing.ts';
import { PairedFolders } from '../../../src/nodes/data/paired-folders.ts';
import { setAsideLines, unsupportedImagesNote } from '../../../src/nodes/data/set-aside.ts';
import { drain, tempDir, writePairs } from '../../fixtures/datasets.ts';

const entries = (n: number): Entry[] => Array.from({ length: n }, (_, i) => ({ id: `t${i}`, files: { image: `t${i}.png` } }));
const listing = (train: number, extra: Partial<Listing> = {}): Listing => ({
  layout: 'paired-folders',
  variant: 'fake',
  description: 'fake',
  root: '/fake',
  targets: 'binary',
  splits: [{ name: 'train', where: 'images/', entries: entries(train) }],
  unpaired: [],
  ignored: [],
  ...extra,
});
const parse = (extra: Partial<ReaderParams> = {}) => ReaderParams.parse({ root: '/fake', ...extra });

describe("why a split has no samples", () => {
  it('names files of unsupported extensions, with their counts and what is read', () => {
    const ignored = ['a.webp', 'b.webp', 'c.gif'].map((f) => ({ file: `/fake/images/${f}`, reason: 'not an image file (image folder)' }));
    expect(() => planSplits(listing(0, { ignored }), parse())).toThrow(
      [
        "/fake: split 'train' has no samples:",
        '  0 sample(s) found in images/',
        '  3 file(s) not an image file (image folder): /fake/images/a.webp, /fake/images/b.webp, /fake/images/c.gif (2 .webp, 1 .gif)',
        '  images and masks must be .jpg, .jpeg, .png, .tif, .tiff, .bmp',
      ].join('\n'),
    );
  });

  it('says a holdout emptied val, or (after a limit) train', () => {
    expect(() => planSplits(listing(1), parse({ holdout: 0.1 }))).toThrow(
      "/fake: split 'val' has no samples:\n  holdout 0.1 of 1 'train' sample(s) moves 0 to 'val' and leaves 1 in 'train'",
    );
    expect(() => planSplits(listing(10), parse({ holdout: 0.9, limit: 1 }))).toThrow(
      "/fake: split 'train' has no samples:\n  holdout 0.9 of 1 'train' sample(s) (limit 1 of 10) moves 1 to 'val' and leaves 0 in 'train'",
    );
  });

  it('says empty folders are empty', () => {
    expect(() => planSplits(listing(0), parse())).toThrow("/fake: split 'train' has no samples:\n  0 sample(s) found in images/\n  nothing was set aside: the folders hold no files");
  });

  it('on real files: a folder of .webp/.gif images, and one whose files all lack a partner (skipUnpaired)', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'images'));
    mkdirSync(join(root, 'masks'));
    writeFileSync(join(root, 'images', 'a.webp'), 'x');
    writeFileSync(join(root, 'masks', 'a.gif'), 'x');
    await expect(drain(PairedFolders.main, PairedFolders.params.parse({ root }))).rejects.toThrow(
      [
        `${root}: split 'train' has no samples:`,
        `  0 sample(s) found in images/; no split folders, so all are 'train'`,
        `  1 file(s) not an image file (image folder): ${join(root, 'images', 'a.webp')} (1 .webp)`,
        `  1 file(s) not an image file (mask folder): ${join(root, 'masks', 'a.gif')} (1 .gif)`,
        '  images and masks must be .jpg, .jpeg, .png, .tif, .tiff, .bmp',
      ].join('\n'),
    );
    const lonely = tempDir();
    await writePairs(lonely, 'images', 'elsewhere', ['a'], { image: '.png', mask: '.png' });
    mkdirSync(join(lonely, 'masks'));
    await expect(drain(PairedFolders.main, PairedFolders.params.parse({ root: lonely, skipUnpaired: true }))).rejects.toThrow(
      `${lonely}: split 'train' has no samples:\n  0 sample(s) found in images/; no split folders, so all are 'train'\n  1 file(s) without a partner: ${join(lonely, 'images', 'a.png')} (no mask named a.* in ${join(lonely, 'masks')})`,
    );
  });

  it('shows five files of a kind and counts the rest; names unsupported image formats in a folder', () => {
    const ignored = Array.from({ length: 7 }, (_, i) => ({ file: `n${i}.txt`, reason: 'not an .npy file' }));
    expect(setAsideLines({ unpaired: [], ignored })).toEqual(['7 file(s) not an .npy file: n0.txt, n1.txt, n2.txt, n3.txt, n4.txt, ... (2 more)']);
    expect(unsupportedImagesNote(['a.WEBP', 'b.gif', 'c.jpg', 'notes.txt'])).toBe('; its .webp, .gif files are not read (images and masks must be .jpg, .jpeg, .png, .tif, .tiff, .bmp)');
    expect(unsupportedImagesNote(['c.jpg'])).toBe('');
  });
});
