/**
 * What a dataset layout lists before anything is decoded: splits of entries (an id plus the
 * files of one sample), the files that have no partner, and the files that were left aside on
 * purpose. Listing is synchronous and reads only directory entries (and CSVs), so a reader can
 * count its items up front and still decode nothing until the runner pulls.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, sep } from 'node:path';
import { isImageFile } from './decode.ts';
import { readerOptionHint } from './option-hint.ts';

export type LayoutName = 'autogluon-csv' | 'paired-folders' | 'isic2017' | 'class-index-masks' | 'nyuv2-mtan';
export type Targets = 'binary' | 'classes' | 'multi-task';

/** One sample's files, keyed by role: image plus mask | label | depth | normal. */
export interface Entry {
  readonly id: string;
  readonly files: Readonly<Record<string, string>>;
}

export interface SplitListing {
  /** 'train', 'val', 'test', or the data set's own name for it (e.g. 'test_Kvasir'). */
  readonly name: string;
  /** Where it was found (a folder or a CSV), for messages. */
  readonly where: string;
  readonly entries: readonly Entry[];
}

export interface Unpaired {
  readonly file: string;
  readonly reason: string;
}

export interface Listing {
  readonly layout: LayoutName;
  /** The flavour found, e.g. 'kvasir' (images/ + masks/), 'trans10k', 'camvid'. */
  readonly variant: string;
  /** One line saying what was matched. */
  readonly description: string;
  readonly root: string;
  readonly targets: Targets;
  readonly splits: readonly SplitListing[];
  /** Files that should have a partner and have none: an error unless skipUnpaired. */
  readonly unpaired: readonly Unpaired[];
  /** Files left aside on purpose (non-image files, ISIC superpixels), with why. */
  readonly ignored: readonly Unpaired[];
}

/** The folder does not hold the layout asked for (or any known layout). */
export class LayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayoutError';
  }
}

const collator = new Intl.Collator('en', { numeric: true });
/** Natural order: '2' before '10'. */
export const naturalCompare = (a: string, b: string) => collator.compare(a, b);

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Directory entries in natural order, without hidden files and OS litter. */
export function listDir(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.') && name !== 'Thumbs.db' && name !== 'desktop.ini')
    .sort(naturalCompare);
}

/** Names of the sub-folders of `dir` (symbolic links followed), in natural order. */
export function subdirectories(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => !d.name.startsWith('.') && (d.isDirectory() || (d.isSymbolicLink() && isDirectory(join(dir, d.name)))))
    .map((d) => d.name)
    .sort(naturalCompare);
}

/** Names of the files of `dir` (no folders, no hidden files), in natural order. */
export function filesOf(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => !d.name.startsWith('.') && d.name !== 'Thumbs.db' && d.name !== 'desktop.ini')
    .filter((d) => d.isFile() || (d.isSymbolicLink() && !isDirectory(join(dir, d.name))))
    .map((d) => d.name)
    .sort(naturalCompare);
}

/** The sub-folder of `dir` named `name`, compared case-insensitively; undefined if absent. */
export function findChild(dir: string, name: string): string | undefined {
  if (!isDirectory(dir)) return undefined;
  const found = subdirectories(dir).find((entry) => entry.toLowerCase() === name.toLowerCase());
  return found === undefined ? undefined : join(dir, found);
}

/**
 * Folders at depth 0..maxDepth below root (root first), skipping hidden ones; `stop(dir)`
 * returning true keeps the walk out of that folder's children.
 */
export function foldersUnder(root: string, maxDepth: number, stop: (dir: string) => boolean = () => false): string[] {
  const out = [root];
  let level = stop(root) ? [] : [root];
  for (let depth = 1; depth <= maxDepth; depth++) {
    level = level.flatMap((dir) => subdirectories(dir).map((name) => join(dir, name)));
    out.push(...level);
    level = level.filter((dir) => !stop(dir));
  }
  return out;
}

/** 'Training', 'TrainDataset', 'SBUTrain4K' -> 'train'; 'valid', 'Validation' -> 'val'; 'TestDataset' -> 'test'. */
export function splitOf(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (/test/.test(lower)) return 'test';
  if (/val/.test(lower)) return 'val';
  if (/train/.test(lower)) return 'train';
  return undefined;
}

/**
 * The split a folder path (relative to the data set root) stands for: its first segment's
 * split keyword plus the rest, so 'TestDataset/Kvasir' is 'test/Kvasir'; '' (the root) is 'train'.
 */
export function splitNameFor(relativePath: string): string {
  if (relativePath === '') return 'train';
  const [first, ...rest] = relativePath.split(sep);
  const head = splitOf(first!) ?? first!;
  return [head, ...rest].join('/');
}

/** Gives each split a unique name, falling back to the folder path where two would clash. */
export function uniqueSplitNames<T extends { name: string; relative: string }>(splits: T[]): T[] {
  const counts = new Map<string, number>();
  for (const s of splits) counts.set(s.name, (counts.get(s.name) ?? 0) + 1);
  return splits.map((s) => (counts.get(s.name)! > 1 ? { ...s, name: s.relative.split(sep).join('/') } : s));
}

export const stemOf = (file: string) => basename(file, extname(file));

export interface PairResult {
  readonly entries: Entry[];
  readonly unpaired: Unpaired[];
  readonly ignored: Unpaired[];
}

/**
 * Pairs the image files of `imagesDir` with the mask files of `masksDir` by file stem (any
 * image extension on either side). `maskStem` maps an image stem to its mask's stem
 * (identity by default; Trans10K appends '_mask'). Two files with one stem are an error.
 */
export function pairByStem(
  imagesDir: string,
  masksDir: string,
  options: { maskStem?: (imageStem: string) => string; key?: 'mask' | 'label'; skipMask?: (name: string) => boolean } = {},
): PairResult {
  const maskStem = options.maskStem ?? ((s: string) => s);
  const key = options.key ?? 'mask';
  const role = key === 'label' ? 'class-index mask' : 'mask';
  const ignored: Unpaired[] = [];
  const index = (dir: string, what: string, skip?: (name: string) => boolean) => {
    const byStem = new Map<string, string>();
    for (const name of filesOf(dir)) {
      const path = join(dir, name);
      if (!isImageFile(name)) {
        ignored.push({ file: path, reason: `not an image file (${what} folder)` });
        continue;
      }
      if (skip?.(name)) {
        ignored.push({ file: path, reason: `not a ${what}` });
        continue;
      }
      const stem = stemOf(name);
      const seen = byStem.get(stem);
      if (seen) throw new LayoutError(`${dir}: two ${what} files share the stem '${stem}' (${basename(seen)}, ${name}); expected one file per sample`);
      byStem.set(stem, path);
    }
    return byStem;
  };
  const images = index(imagesDir, 'image');
  const masks = index(masksDir, role, options.skipMask);
  const entries: Entry[] = [];
  const unpaired: Unpaired[] = [];
  const used = new Set<string>();
  for (const [stem, image] of images) {
    const want = maskStem(stem);
    const mask = masks.get(want);
    if (mask) {
      used.add(want);
      entries.push({ id: stem, files: { image, [key]: mask } });
    } else {
      unpaired.push({ file: image, reason: `no ${role} named ${want}.* in ${masksDir}` });
    }
  }
  for (const [stem, mask] of masks) {
    if (!used.has(stem)) unpaired.push({ file: mask, reason: `no image for this ${role} in ${imagesDir}` });
  }
  return { entries, unpaired, ignored };
}

/** Throws naming every file without a partner, unless told to skip them. */
export function requirePaired(listing: Listing, skipUnpaired: boolean): void {
  if (skipUnpaired || listing.unpaired.length === 0) return;
  const shown = listing.unpaired.slice(0, 20).map((u) => `  ${u.file}: ${u.reason}`);
  const more = listing.unpaired.length > 20 ? [`  ... and ${listing.unpaired.length - 20} more`] : [];
  throw new LayoutError(
    `${listing.root} (${listing.layout}): ${listing.unpaired.length} file(s) have no partner:\n${[...shown, ...more].join('\n')}\n` +
      `Fix the data set, or leave them out with ${readerOptionHint('skipUnpaired')}.`,
  );
}

export function requireFolder(root: string): void {
  if (!existsSync(root)) throw new LayoutError(`${root}: no such folder (expected a data set folder)`);
  if (!isDirectory(root)) throw new LayoutError(`${root}: not a folder (expected a data set folder)`);
  if (listDir(root).length === 0) throw new LayoutError(`${root}: the folder is empty (expected a data set)`);
}

/** A short view of what a folder holds, for "layout not found" messages. */
export function describeFolder(root: string): string {
  const names = listDir(root);
  const shown = names.slice(0, 12).map((n) => (isDirectory(join(root, n)) ? `${n}/` : n));
  return `${shown.join(', ')}${names.length > 12 ? `, ... (${names.length} entries)` : ''}`;
}

