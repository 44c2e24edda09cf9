/**
 * ISIC 2017 (skin lesions): images `ISIC_<id>.jpg` and masks `ISIC_<id>_segmentation.png`, in
 * folders whose names say the split, as the challenge ships them
 * (`ISIC-2017_Training_Data/` + `ISIC-2017_Training_Part1_GroundTruth/`, Validation, Test) or
 * as AutoGluon's copy has them (`train/ISIC-2017_Train/` + `train/ISIC-2017_Training_Part1_GroundTruth/`).
 * Images and masks may also share one folder. `ISIC_<id>_superpixels.png` files are left aside.
 */
import { join, relative } from 'node:path';
import { defineNode } from '../../graph/node.ts';
import { BinaryMask, Image, SampleInfo } from '../ports.ts';
import { BinaryReaderParams, readerSource } from './dataset-source.ts';
import { decodeBinaryEntry } from './sample-info.ts';
import {
  describeFolder,
  filesOf,
  foldersUnder,
  LayoutError,
  naturalCompare,
  requireFolder,
  splitOf,
  type Entry,
  type Listing,
  type SplitListing,
  type Unpaired,
} from './listing.ts';

const IMAGE = /^(ISIC_\d+)\.(jpe?g|png)$/i;
const MASK = /^(ISIC_\d+)_segmentation\.png$/i;
const SUPERPIXELS = /^ISIC_\d+_superpixels\.png$/i;

/** The split a folder stands for: the split keyword in its path below root, else 'train'. */
function splitFor(root: string, dir: string): string {
  const rel = relative(root, dir);
  for (const segment of rel.split(/[\\/]/).reverse()) {
    const split = splitOf(segment);
    if (split) return split;
  }
  return 'train';
}

export function listIsic2017(root: string): Listing {
  requireFolder(root);
  const images = new Map<string, Map<string, string>>(); // split -> id -> file
  const masks = new Map<string, Map<string, string>>();
  const folders = new Map<string, Set<string>>(); // split -> folders, for messages
  const ignored: Unpaired[] = [];
  for (const dir of foldersUnder(root, 2)) {
    const split = splitFor(root, dir);
    for (const name of filesOf(dir)) {
      const image = IMAGE.exec(name);
      const mask = MASK.exec(name);
      const target = image ? images : mask ? masks : undefined;
      if (!target) {
        if (SUPERPIXELS.test(name)) ignored.push({ file: join(dir, name), reason: 'ISIC superpixels file (not a mask)' });
        continue;
      }
      const id = (image ?? mask)![1]!;
      const byId = target.get(split) ?? new Map<string, string>();
      const seen = byId.get(id);
      if (seen) throw new LayoutError(`${root}: ${id} appears twice in split '${split}' (${seen} and ${join(dir, name)}); expected one file per sample`);
      byId.set(id, join(dir, name));
      target.set(split, byId);
      folders.set(split, (folders.get(split) ?? new Set()).add(relative(root, dir) || '.'));
    }
  }
  if (!images.size && !masks.size) {
    throw new LayoutError(`${root}: no ISIC 2017 files found (expected ISIC_<id>.jpg with ISIC_<id>_segmentation.png, up to two folders deep); it holds: ${describeFolder(root)}`);
  }
  const splits: SplitListing[] = [];
  const unpaired: Unpaired[] = [];
  const order = ['train', 'val', 'test'];
  const names = [...new Set([...images.keys(), ...masks.keys()])].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  for (const split of names) {
    const ims = images.get(split) ?? new Map<string, string>();
    const mks = masks.get(split) ?? new Map<string, string>();
    const entries: Entry[] = [];
    for (const id of [...ims.keys()].sort(naturalCompare)) {
      const mask = mks.get(id);
      if (mask) entries.push({ id, files: { image: ims.get(id)!, mask } });
      else unpaired.push({ file: ims.get(id)!, reason: `no ${id}_segmentation.png in split '${split}'` });
    }
    for (const [id, file] of mks) if (!ims.has(id)) unpaired.push({ file, reason: `no image ${id}.jpg in split '${split}'` });
    splits.push({ name: split, where: [...folders.get(split)!].join(', '), entries });
  }
  return {
    layout: 'isic2017',
    variant: 'isic2017',
    description: 'ISIC_<id>.jpg + ISIC_<id>_segmentation.png, split by folder name',
    root,
    targets: 'binary',
    splits,
    unpaired,
    ignored,
  };
}

export const Isic2017 = defineNode({
  kind: 'data/isic2017',
  description: 'reads ISIC 2017 lesion images and their _segmentation masks',
  placement: 'main',
  inputs: {},
  outputs: { image: Image, mask: BinaryMask, info: SampleInfo },
  params: BinaryReaderParams,
  main: readerSource(BinaryReaderParams, {
    list: (p) => listIsic2017(p.root),
    decode: (entry, p) => decodeBinaryEntry(entry, p),
  }),
});
