/**
 * Paired folders: an image folder and a mask folder whose files match by stem (any of jpg, png,
 * tif, bmp on either side). Known pairs: Kvasir-SEG `images/` + `masks/`, CVC-ClinicDB
 * `Original/` + `Ground Truth/` (tif), COD10K / CAMO `Imgs/` + `GT/`, SBU `ShadowImages/` +
 * `ShadowMasks/`; or any pair you name. The pair may sit in the root (one split, 'train') or in
 * split folders below it, up to two levels. The PraNet polyp benchmark layout,
 * `TrainDataset/{image,mask}` + `TestDataset/<Name>/{images,masks}`, lists as 'train' plus one
 * split per test set, `test/<Name>` (`test/CVC-ClinicDB`, `test/Kvasir`, ...); a plain
 * `TestDataset/{images,masks}` is 'test'. A split folder holding only one half of the pair is
 * an error, not a split left out.
 */
import { basename, join, relative } from 'node:path';
import { defineNode } from '../../graph/node.ts';
import { BinaryMask, Image, SampleInfo } from '../ports.ts';
import { BinaryReaderParams, readerSource } from './dataset-source.ts';
import { decodeBinaryEntry } from './sample-info.ts';
import {
  describeFolder,
  findChild,
  foldersUnder,
  LayoutError,
  pairByStem,
  requireFolder,
  splitNameFor,
  uniqueSplitNames,
  type Listing,
  type SplitListing,
  type Unpaired,
} from './listing.ts';
import { z } from 'zod';

/** Known (images, masks) folder pairs, tried in this order when no pair is given. */
export const FOLDER_PAIRS = {
  kvasir: ['images', 'masks'],
  'cvc-clinicdb': ['Original', 'Ground Truth'],
  cod: ['Imgs', 'GT'],
  sbu: ['ShadowImages', 'ShadowMasks'],
} as const satisfies Record<string, readonly [string, string]>;
export type FolderPairPreset = keyof typeof FOLDER_PAIRS;

/**
 * Other names a preset's pair goes by in one place: the PraNet polyp benchmark ships
 * `TrainDataset/{image,mask}` beside `TestDataset/<Name>/{images,masks}`.
 */
export const FOLDER_PAIR_ALIASES: Partial<Record<FolderPairPreset, readonly (readonly [string, string])[]>> = {
  kvasir: [['image', 'mask']],
};

export interface PairedFoldersOptions {
  /** A preset name, or undefined to try each preset. */
  readonly preset?: FolderPairPreset;
  /** Folder names (images, masks); overrides the preset. */
  readonly pair?: readonly [string, string];
}

type Pair = readonly [string, string];

interface Place {
  readonly name: string;
  readonly relative: string;
  readonly pair: Pair;
  readonly images: string;
  readonly masks: string;
}

/** A folder holding one folder of a pair and not its partner: a split that would be lost. */
interface HalfPair {
  readonly dir: string;
  readonly has: string;
  readonly missing: string;
}

/**
 * Where a pair (under any of its names) is found below root: each folder holding both, as a
 * split; and each folder holding only one half.
 */
function findPairs(root: string, names: readonly Pair[]): { places: Place[]; halves: HalfPair[] } {
  const places: Place[] = [];
  const halves: HalfPair[] = [];
  const matchIn = (dir: string) => names.find(([a, b]) => findChild(dir, a) !== undefined && findChild(dir, b) !== undefined);
  const folderNames = new Set(names.flat().map((n) => n.toLowerCase()));
  // Do not walk into image folders (thousands of files) or below a folder that holds the pair.
  const stop = (dir: string) => matchIn(dir) !== undefined || folderNames.has(basename(dir).toLowerCase());
  for (const dir of foldersUnder(root, 2, stop)) {
    const pair = matchIn(dir);
    if (pair) {
      const rel = relative(root, dir);
      places.push({ name: splitNameFor(rel), relative: rel, pair, images: findChild(dir, pair[0])!, masks: findChild(dir, pair[1])! });
      continue;
    }
    for (const [a, b] of names) {
      const [hasA, hasB] = [findChild(dir, a), findChild(dir, b)];
      if (hasA && !hasB) halves.push({ dir, has: basename(hasA), missing: b });
      if (hasB && !hasA) halves.push({ dir, has: basename(hasB), missing: a });
    }
  }
  // A pair in the root and pairs in split folders: the split folders are the data set.
  return { places: places.length > 1 ? places.filter((f) => f.relative !== '') : places, halves };
}

const halfLine = (h: HalfPair) => `${h.dir} holds ${h.has}/ but no ${h.missing}/`;

/** No pair was found; `halves` names folders that hold one half of a pair (what the user likely meant). */
export class PairsNotFoundError extends LayoutError {
  constructor(
    message: string,
    readonly halves: readonly string[],
  ) {
    super(message);
  }
}

/** Lists a paired-folders data set; a LayoutError says which pairs were looked for. */
export function listPairedFolders(root: string, options: PairedFoldersOptions = {}): Listing {
  requireFolder(root);
  const candidates: [string, readonly Pair[]][] = options.pair
    ? [['custom', [options.pair]]]
    : (options.preset ? [options.preset] : (Object.keys(FOLDER_PAIRS) as FolderPairPreset[])).map((preset) => [preset, [FOLDER_PAIRS[preset], ...(FOLDER_PAIR_ALIASES[preset] ?? [])]]);
  const allHalves: HalfPair[] = [];
  for (const [variant, pairs] of candidates) {
    const found = findPairs(root, pairs);
    allHalves.push(...found.halves);
    if (!found.places.length) continue;
    // A split folder with images but no masks (or the reverse) would silently drop a split.
    const lost = found.halves.filter((h) => !found.places.some((p) => h.dir === join(root, p.relative)));
    if (lost.length) {
      const example = found.places[0]!;
      throw new LayoutError(
        `${root}: ${lost.map(halfLine).join('; ')}; expected both, as ${join(example.relative, example.pair[0])}/ + ${example.pair[1]}/ (${variant})`,
      );
    }
    const places = uniqueSplitNames(found.places);
    const splits: SplitListing[] = [];
    const unpaired: Unpaired[] = [];
    const ignored: Unpaired[] = [];
    for (const place of places) {
      const result = pairByStem(place.images, place.masks);
      const imagesName = basename(place.images);
      const where = place.relative === '' ? `${imagesName}/; no split folders, so all are 'train'` : `${join(place.relative, imagesName)}/`;
      splits.push({ name: place.name, where, entries: result.entries });
      unpaired.push(...result.unpaired);
      ignored.push(...result.ignored);
    }
    const where = places.length === 1 && places[0]!.relative === '' ? 'in the root' : `in ${places.map((p) => `${p.relative}/`).join(', ')}`;
    const used = [...new Set(places.map((p) => `${p.pair[0]}/ + ${p.pair[1]}/`))].join(' or ');
    return {
      layout: 'paired-folders',
      variant,
      description: `${used} matched by file stem, ${where}`,
      root,
      targets: 'binary',
      splits,
      unpaired,
      ignored,
    };
  }
  const looked = candidates.map(([name, pairs]) => `${pairs.map(([a, b]) => `${a}/ + ${b}/`).join(' or ')} (${name})`).join(', ');
  const halves = [...new Set(allHalves.map(halfLine))];
  const found = halves.length ? `; found only halves of a pair: ${halves.join('; ')}` : '';
  throw new PairsNotFoundError(`${root}: no paired image/mask folders found (looked for ${looked} in the folder and two levels below)${found}; it holds: ${describeFolder(root)}`, halves);
}

export const PairedFoldersParams = BinaryReaderParams.extend({
  preset: z.enum(Object.keys(FOLDER_PAIRS) as [FolderPairPreset, ...FolderPairPreset[]]).optional().describe('which known folder pair (default: try each)'),
  images: z.string().min(1).optional().describe("the image folder's name (with masks: a pair of your own)"),
  masks: z.string().min(1).optional().describe("the mask folder's name"),
}).refine((p) => (p.images === undefined) === (p.masks === undefined), { message: 'give both images and masks folder names, or neither' });

export const PairedFolders = defineNode({
  kind: 'data/paired-folders',
  description: 'reads image/mask folders matched by file stem (Kvasir-SEG, CVC-ClinicDB, COD10K/CAMO, SBU, or a pair you name)',
  placement: 'main',
  inputs: {},
  outputs: { image: Image, mask: BinaryMask, info: SampleInfo },
  params: PairedFoldersParams,
  main: readerSource(PairedFoldersParams, {
    list: (p) => listPairedFolders(p.root, { ...(p.preset ? { preset: p.preset } : {}), ...(p.images && p.masks ? { pair: [p.images, p.masks] as const } : {}) }),
    decode: (entry, p) => decodeBinaryEntry(entry, p),
  }),
});
