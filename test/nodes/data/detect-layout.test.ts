import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectLayout } from '../../../src/nodes/data/detect-layout.ts';
import { tempDir, writeAutogluonCsv, writeCamvid, writeIsic, writeKvasir, writeNyu, writePairs, writeTrans10k, names } from '../../fixtures/datasets.ts';

describe('layout detection', () => {
  it('recognises every supported layout', async () => {
    const cases: [string, Promise<string> | string, string][] = [
      ['paired-folders', writeKvasir(tempDir(), 2), 'kvasir'],
      ['autogluon-csv', writeAutogluonCsv(tempDir(), { train: 1, val: 1, test_Kvasir: 1 }), 'polyp'],
      ['isic2017', writeIsic(tempDir(), { Training: 1, Validation: 1 }), 'isic2017'],
      ['class-index-masks', writeTrans10k(tempDir(), { train: 1, validation: 1 }), 'trans10k'],
      ['class-index-masks', writeCamvid(tempDir(), { train: 1, val: 1 }), 'camvid'],
      ['nyuv2-mtan', writeNyu(tempDir(), { train: 1, val: 1 }), 'nyuv2'],
    ];
    for (const [layout, root, variant] of cases) {
      expect(detectLayout(await root), layout).toMatchObject({ layout, variant });
    }
    const sbu = tempDir();
    await writePairs(sbu, 'ShadowImages', 'ShadowMasks', names(1), { image: '.jpg', mask: '.png' });
    expect(detectLayout(sbu)).toMatchObject({ layout: 'paired-folders', variant: 'sbu' });
  });

  it('takes a folder pair of your own', async () => {
    const root = tempDir();
    await writePairs(root, 'x', 'y', names(2), { image: '.png', mask: '.png' });
    expect(detectLayout(root, { pair: ['x', 'y'] }).splits[0]!.entries).toHaveLength(2);
  });

  it('says what it expected and what it found, for an unknown layout, an empty folder and a missing one', () => {
    const root = tempDir();
    mkdirSync(join(root, 'photos'));
    writeFileSync(join(root, 'notes.txt'), '');
    expect(() => detectLayout(root)).toThrow(`${root}: unknown data set layout. Expected one of: MTAN NYUv2 ({train,val}/{image,label,depth,normal}/N.npy); AutoGluon CSVs`);
    expect(() => detectLayout(root)).toThrow('The folder holds: notes.txt, photos/');
    expect(() => detectLayout(tempDir())).toThrow('the folder is empty (expected a data set)');
    expect(() => detectLayout(join(root, 'nope'))).toThrow(`${join(root, 'nope')}: no such folder`);
  });
});
