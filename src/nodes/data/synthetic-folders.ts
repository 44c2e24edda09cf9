/**
 * The synthetic binary set written to disk in the Kvasir-style paired-folders layout
 * (`<split>/images/<n>.png` + `<split>/masks/<n>.png`, masks 0/255), so that a job runs the
 * same readers, evaluation and prediction on it as on a real data set folder, and a user can
 * open the pictures. Deterministic by seed: sample i of a split is always the same image, and
 * no two splits share a seed. The folder is written beside its final place and renamed when
 * complete, with `synthetic.json` saying what made it; an existing folder is reused only when
 * its record says the same settings, never overwritten.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { mixSeed } from '../random.ts';
import { type Domain } from './synthetic-domain.ts';
import { syntheticShape } from './synthetic-shapes.ts';

export interface SyntheticFolderSettings {
  /** Image side in pixels. */
  readonly size: number;
  /** Images per split, in the order written (e.g. train, val, test). */
  readonly splits: Readonly<Record<string, number>>;
  readonly seed: number;
  readonly domain: Domain;
}

const FORMAT = 'samflow-synthetic-binary-folders@1';

/** A split's id in the seed, so that each split draws its own images. */
const splitId = (name: string) => [...name].reduce((h, c) => mixSeed(h, c.codePointAt(0)!), 0x5e7);

/** Sample `index` of `split` (what the file `<split>/images/<index>.png` holds). */
export function syntheticFolderSample(settings: SyntheticFolderSettings, split: string, index: number) {
  return syntheticShape(settings.size, mixSeed(settings.seed, splitId(split), index), settings.domain);
}

/** The settings a folder's synthetic.json records, if it has one. */
function recorded(root: string): unknown {
  try {
    const json = JSON.parse(readFileSync(join(root, 'synthetic.json'), 'utf8')) as { format?: string; settings?: unknown };
    return json.format === FORMAT ? json.settings : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes the set into `root` (which must not exist, or hold this very set: then it is kept and
 * `false` returned). Returns true when it wrote it.
 */
export async function writeSyntheticFolders(root: string, settings: SyntheticFolderSettings): Promise<boolean> {
  if (existsSync(root)) {
    if (JSON.stringify(recorded(root)) === JSON.stringify(settings)) return false;
    throw new Error(`${root} exists and is not this synthetic set (its synthetic.json differs or is missing); choose another folder or remove it`);
  }
  mkdirSync(dirname(root), { recursive: true });
  const temp = `${root}.partial-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  try {
    for (const [split, count] of Object.entries(settings.splits)) {
      mkdirSync(join(temp, split, 'images'), { recursive: true });
      mkdirSync(join(temp, split, 'masks'), { recursive: true });
      const width = String(count - 1).length;
      for (let i = 0; i < count; i++) {
        const { image, mask } = syntheticFolderSample(settings, split, i);
        const name = `${String(i).padStart(width, '0')}.png`;
        const binary = Uint8Array.from(mask.data, (v) => (v ? 255 : 0));
        await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toFile(join(temp, split, 'images', name));
        await sharp(binary, { raw: { width: mask.width, height: mask.height, channels: 1 } }).toColourspace('b-w').png().toFile(join(temp, split, 'masks', name));
      }
    }
    writeFileSync(join(temp, 'synthetic.json'), `${JSON.stringify({ format: FORMAT, settings }, null, 2)}\n`);
    renameSync(temp, root);
    return true;
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
}
