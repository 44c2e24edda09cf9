/**
 * The synthetic binary set on disk: the paired-folders layout the readers detect, each file the
 * generator's sample for its split and index (masks 0/255), splits drawn from different seeds;
 * a folder of the same set is kept, anything else is refused, and a failed write leaves nothing.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { detectLayout } from '../../../src/nodes/data/detect-layout.ts';
import { syntheticFolderSample, writeSyntheticFolders } from '../../../src/nodes/data/synthetic-folders.ts';
import { tempDir } from '../../fixtures/datasets.ts';

const SETTINGS = { size: 24, splits: { train: 5, val: 2, test: 3 }, seed: 3, domain: { texture: 0.5, colour: 0.3, shape: 0.4 } };

const raw = async (path: string) => new Uint8Array((await sharp(path).raw().toBuffer({ resolveWithObject: true })).data);
/** A one-channel PNG's pixels (sharp would hand them out as sRGB). */
async function grey(path: string): Promise<Uint8Array> {
  expect((await sharp(path).metadata()).channels, path).toBe(1);
  return new Uint8Array(await sharp(path).toColourspace('b-w').raw().toBuffer());
}

describe('synthetic folders', () => {
  it('writes the paired-folders layout with one image and one 0/255 mask per sample', async () => {
    const root = join(tempDir(), 'set');
    expect(await writeSyntheticFolders(root, SETTINGS)).toBe(true);
    const listing = detectLayout(root);
    expect(listing.layout).toBe('paired-folders');
    expect(Object.fromEntries(listing.splits.map((s) => [s.name, s.entries.length]))).toEqual(SETTINGS.splits);
    // Each file is the generator's sample for its split and index; masks as 0/255.
    const images = new Set<string>();
    for (const [split, count] of Object.entries(SETTINGS.splits)) {
      for (let i = 0; i < count; i++) {
        const sample = syntheticFolderSample(SETTINGS, split, i);
        const image = await raw(join(root, split, 'images', `${i}.png`));
        const mask = await grey(join(root, split, 'masks', `${i}.png`));
        expect(Buffer.from(image).equals(Buffer.from(sample.image.data)), `${split} ${i}`).toBe(true);
        expect([...mask]).toEqual([...sample.mask.data].map((v) => (v ? 255 : 0)));
        images.add(Buffer.from(image).toString('base64'));
      }
    }
    // No two samples (within or across splits) are the same image; the shift is applied.
    expect(images.size).toBe(10);
    const plain = syntheticFolderSample({ ...SETTINGS, domain: { texture: 0, colour: 0, shape: 0 } }, 'train', 0);
    expect(Buffer.from(plain.image.data).equals(Buffer.from(syntheticFolderSample(SETTINGS, 'train', 0).image.data))).toBe(false);
  });

  it('is deterministic: the same settings give the same files, another seed others', async () => {
    const [a, b, c] = [join(tempDir(), 'a'), join(tempDir(), 'b'), join(tempDir(), 'c')];
    await writeSyntheticFolders(a, SETTINGS);
    await writeSyntheticFolders(b, SETTINGS);
    await writeSyntheticFolders(c, { ...SETTINGS, seed: 4 });
    const file = (root: string) => raw(join(root, 'test', 'images', '2.png'));
    expect(Buffer.from(await file(a)).equals(Buffer.from(await file(b)))).toBe(true);
    expect(Buffer.from(await file(a)).equals(Buffer.from(await file(c)))).toBe(false);
  });

  it('keeps a folder holding the same set, refuses any other folder, and leaves nothing half-written', async () => {
    const root = join(tempDir(), 'set');
    await writeSyntheticFolders(root, SETTINGS);
    expect(await writeSyntheticFolders(root, SETTINGS)).toBe(false);
    await expect(writeSyntheticFolders(root, { ...SETTINGS, seed: 9 })).rejects.toThrow(/exists and is not this synthetic set/);
    const other = join(tempDir(), 'mine');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'keep me');
    await expect(writeSyntheticFolders(other, SETTINGS)).rejects.toThrow(/exists and is not this synthetic set/);
    expect(readdirSync(other)).toEqual(['notes.txt']);
    // A size sharp cannot encode fails the write: no folder, no partial one.
    const parent = tempDir();
    await expect(writeSyntheticFolders(join(parent, 'bad'), { ...SETTINGS, size: 0 })).rejects.toThrow();
    expect(readdirSync(parent)).toEqual([]);
    expect(existsSync(join(parent, 'bad'))).toBe(false);
  });
});
