/**
 * Paired folders: an image folder and a mask folder whose files match by stem (any of jpg, png,
 * tif, bmp on either side). Known pairs: Kvasir-SEG `images/` + `masks/`, CVC-ClinicDB
 * `Original/` + `Ground Truth/` (tif), COD10K / CAMO `Imgs/` + `GT/`, SBU `ShadowImages/` +
 * `ShadowMasks/`; or any pair you name. The pair may sit in the root (one split, 'train') or in
 * split folders below it, up to two levels (`TrainDataset/images`, `TestDataset/Kvasir/images`).
 */
import { basename, join, relative } from 'node:path';
import { defineNode } from '../../graph/node.ts';
import { BinaryMask, Image } from '../ports.ts';
import { BinaryReaderParams, readerSource } from './dataset-source.ts';
import { decodeBinarySample } from './decode.ts';
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

export interface PairedFoldersOptions {
  /** A preset name, or undefined to try each preset. */
  readonly preset?: FolderPairPreset;
  /** Folder names (images, masks); overrides the preset. */
  readonly pair?: readonly [string, string];
}

/** Where the pair is found below root: each folder holding both, as a split. Empty if none. */
function findPairs(root: string, pair: readonly [string, string]) {
  const found: { name: string; relative: string; images: string; masks: string }[] = [];
  const holds = (dir: string) => findChild(dir, pair[0]) !== undefined && findChild(dir, pair[1]) !== undefined;
  // Do not walk into image folders (thousands of files) or below a folder that holds the pair.
  const stop = (dir: string) => holds(dir) || [pair[0], pair[1]].some((name) => basename(dir).toLowerCase() === name.toLowerCase());
  for (const dir of foldersUnder(root, 2, stop)) {
    const images = findChild(dir, pair[0]);
    const masks = findChild(dir, pair[1]);
    if (images && masks) {
      const rel = relative(root, dir);
      found.push({ name: splitNameFor(rel), relative: rel, images, masks });
    }
  }
  // A pair in the root and pairs in split folders: the split folders are the data set.
  return found.length > 1 ? found.filter((f) => f.relative !== '') : found;
}

/** Lists a paired-folders data set; a LayoutError says which pairs were looked for. */
export function listPairedFolders(root: string, options: PairedFoldersOptions = {}): Listing {
  requireFolder(root);
  const candidates: [string, readonly [string, string]][] = options.pair
    ? [['custom', options.pair]]
    : options.preset
      ? [[options.preset, FOLDER_PAIRS[options.preset]]]
      : Object.entries(FOLDER_PAIRS);
  for (const [variant, pair] of candidates) {
    const places = uniqueSplitNames(findPairs(root, pair));
    if (!places.length) continue;
    const splits: SplitListing[] = [];
    const unpaired: Unpaired[] = [];
    const ignored: Unpaired[] = [];
    for (const place of places) {
      const result = pairByStem(place.images, place.masks);
      const where = place.relative === '' ? `${pair[0]}/; no split folders, so all are 'train'` : `${join(place.relative, pair[0])}/`;
      splits.push({ name: place.name, where, entries: result.entries });
      unpaired.push(...result.unpaired);
      ignored.push(...result.ignored);
    }
    const where = places.length === 1 && places[0]!.relative === '' ? 'in the root' : `in ${places.map((p) => `${p.relative}/`).join(', ')}`;
    return {
      layout: 'paired-folders',
      variant,
      description: `${pair[0]}/ + ${pair[1]}/ matched by file stem, ${where}`,
      root,
      targets: 'binary',
      splits,
      unpaired,
      ignored,
    };
  }
  const looked = candidates.map(([name, [a, b]]) => `${a}/ + ${b}/ (${name})`).join(', ');
  throw new LayoutError(`${root}: no paired image/mask folders found (looked for ${looked} in the folder and two levels below); it holds: ${describeFolder(root)}`);
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
  outputs: { image: Image, mask: BinaryMask },
  params: PairedFoldersParams,
  main: readerSource(PairedFoldersParams, {
    list: (p) => listPairedFolders(p.root, { ...(p.preset ? { preset: p.preset } : {}), ...(p.images && p.masks ? { pair: [p.images, p.masks] as const } : {}) }),
    decode: (entry, p) => decodeBinarySample(entry.files, p),
  }),
});
