import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureCli, samflow } from './capture.ts';
import { rectSample, tempDir, writeKvasir, writeNyu, writePairs, writeRaster, writeTrans10k } from '../fixtures/datasets.ts';

const output = captureCli();


describe('samflow data inspect', () => {
  it('reports layout, counts, sizes, mask histogram and foreground of a Kvasir-style folder', async () => {
    const root = await writeKvasir(tempDir(), 4);
    await writeRaster(join(root, 'images', 'big.jpg'), rectSample(40, 30, 1).image);
    await writeRaster(join(root, 'masks', 'big.jpg'), rectSample(40, 30, 1).mask);
    expect(await samflow('data', 'inspect', root)).toBe(0);
    expect(output.out).toContain('layout            paired-folders (kvasir): images/ + masks/ matched by file stem, in the root; binary masks');
    expect(output.out).toContain('samples           5 pairs');
    expect(output.out).toContain('image sizes       width 24..40, height 16..30 over 5 images');
    expect(output.out).toMatch(/mask values       0: \d+\.\d\d% \| 1\.\.127: \d+\.\d\d% \| 128\.\.254: \d+\.\d\d% \| 255: \d+\.\d\d%/);
    expect(output.out).toMatch(/foreground        \d+\.\d\d% of pixels; 0 empty and 0 full masks/);
    expect(output.out).toContain('without partner   none');
  });

  it('lists unpaired files and fails, unless --skip-unpaired', async () => {
    const root = await writeKvasir(tempDir(), 2);
    await writePairs(root, 'images', 'other', ['orphan'], { image: '.png', mask: '.png' });
    expect(await samflow('data', 'inspect', root)).toBe(1);
    expect(output.out).toContain(`without partner   1\n  ${join(root, 'images', 'orphan.png')}: no mask named orphan.*`);
    expect(output.err).toBe(`samflow: ${root}: 1 file(s) without a partner (--skip-unpaired to go on); the files are listed above\n`);
    expect(await samflow('data', 'inspect', root, '--skip-unpaired')).toBe(0);
  });

  it('lists corrupt files and size mismatches', async () => {
    const root = await writeKvasir(tempDir(), 3);
    writeFileSync(join(root, 'images', 'cju0.jpg'), 'not a jpeg');
    await writeRaster(join(root, 'masks', 'cju1.jpg'), rectSample(10, 10, 0).mask);
    expect(await samflow('data', 'inspect', root)).toBe(1);
    expect(output.out).toContain(`undecodable       1\n  ${join(root, 'images', 'cju0.jpg')}: cannot decode the image`);
    expect(output.out).toContain(`size mismatches   1\n  ${join(root, 'masks', 'cju1.jpg')}: mask is 10x10 but its image ${join(root, 'images', 'cju1.jpg')} is 24x16`);
    expect(output.err).toMatch(/1 file\(s\) that cannot be decoded.*; 1 mask\(s\) whose size differs/);
  });

  it('reports class counts for class-index masks and depth/normal validity for NYUv2; --json gives the same as data', async () => {
    expect(await samflow('data', 'inspect', await writeTrans10k(tempDir()))).toBe(0);
    expect(output.out).toContain('classes           4 class ids seen (0, 1, 2, 3)');
    expect(output.out).toContain('  class 3         1.88% of pixels, in 1 image\n');
    expect(output.out).toMatch(/ {2}ignore +\d+\.\d\d% of pixels, in 5 images/);
    output.out = '';
    expect(await samflow('data', 'inspect', writeNyu(tempDir()), '--json')).toBe(0);
    const report = JSON.parse(output.out) as { layout: string; splits: { name: string; samples: number }[]; depth: { invalidPixels: number } };
    expect(report.layout).toBe('nyuv2-mtan');
    expect(report.splits.map((s) => [s.name, s.samples])).toEqual([['train', 3], ['val', 2]]);
    expect(report.depth.invalidPixels).toBe(5 * 10);
  });

  it('fails when nothing usable was found, saying what is there', async () => {
    const empty = tempDir();
    expect(await samflow('data', 'inspect', empty)).toBe(1);
    expect(output.err).toBe(`samflow: ${empty}: the folder is empty (expected a data set)\n`);
    output.err = '';
    const root = tempDir();
    mkdirSync(join(root, 'images'));
    mkdirSync(join(root, 'masks'));
    expect(await samflow('data', 'inspect', root)).toBe(1);
    expect(output.err).toBe(`samflow: ${root}: no usable samples: 0 in split 'train' (images/; no split folders, so all are 'train'); nothing was set aside: the folders hold no files\n`);
    output.err = '';
    writeFileSync(join(root, 'images', 'a.webp'), 'x');
    writeFileSync(join(root, 'masks', 'a.gif'), 'x');
    expect(await samflow('data', 'inspect', root)).toBe(1);
    expect(output.out).toContain('samples           0 pairs');
    expect(output.err).toBe(
      `samflow: ${root}: no usable samples: 0 in split 'train' (images/; no split folders, so all are 'train'); set aside: ` +
        `1 file(s) not an image file (image folder): ${join(root, 'images', 'a.webp')} (1 .webp); ` +
        `1 file(s) not an image file (mask folder): ${join(root, 'masks', 'a.gif')} (1 .gif); images and masks must be .jpg, .jpeg, .png, .tif, .tiff, .bmp\n`,
    );
  });

  it('fails on a folder whose files all lack a partner, even with --skip-unpaired', async () => {
    const root = tempDir();
    await writePairs(root, 'images', 'elsewhere', ['a'], { image: '.png', mask: '.png' });
    mkdirSync(join(root, 'masks'));
    expect(await samflow('data', 'inspect', root, '--skip-unpaired')).toBe(1);
    expect(output.err).toBe(
      `samflow: ${root}: no usable samples: 0 in split 'train' (images/; no split folders, so all are 'train'); set aside: 1 file(s) without a partner: ${join(root, 'images', 'a.png')} (no mask named a.* in ${join(root, 'masks')})\n`,
    );
  });

  it('names an empty split among full ones', async () => {
    const root = tempDir();
    await writePairs(root, 'train/images', 'train/masks', ['a', 'b'], { image: '.png', mask: '.png' });
    mkdirSync(join(root, 'val', 'images'), { recursive: true });
    mkdirSync(join(root, 'val', 'masks'), { recursive: true });
    expect(await samflow('data', 'inspect', root)).toBe(1);
    expect(output.err).toBe(`samflow: ${root}: split 'val' has no samples (${join('val', 'images')}/); the files are listed above\n`);
  });

  it('names a folder of only .webp/.gif files', async () => {
    const root = tempDir();
    writeFileSync(join(root, 'a.webp'), 'x');
    writeFileSync(join(root, 'b.gif'), 'x');
    expect(await samflow('data', 'inspect', root)).toBe(1);
    expect(output.err).toMatch(/ The folder holds: a\.webp, b\.gif; its \.webp, \.gif files are not read \(images and masks must be \.jpg, \.jpeg, \.png, \.tif, \.tiff, \.bmp\)\n$/);
  });

  it('names an unknown layout', async () => {
    const root = tempDir();
    writeFileSync(join(root, 'a.txt'), '');
    expect(await samflow('data', 'inspect', root)).toBe(1);
    expect(output.err).toMatch(new RegExp(`^samflow: ${root}: unknown data set layout\\. Expected one of`));
  });
});
