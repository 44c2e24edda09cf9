/**
 * Multi-class data sets whose masks are single-channel PNGs of class ids, with an ignore value:
 * - Trans10K: `{train,validation,test}/images/N.jpg` + `{split}/masks_12/N_mask.png` (any folder
 *   whose name starts with `masks`, as in Trans10K-v2 and AutoGluon's tiny copy);
 * - CamVid (SegNet layout): `{train,val,test}/N.png` + `{split}annot/N.png`, class 11 = void
 *   (pass ignoreLabel 11).
 * Class ids are read exactly (no colour conversion); the data set's ignore value becomes 255.
 */
import { join } from 'node:path';
import { defineNode } from '../../graph/node.ts';
import { Image, LabelMap } from '../ports.ts';
import { LabelReaderParams, readerSource } from './dataset-source.ts';
import { decodeLabelSample } from './decode.ts';
import {
  describeFolder,
  filesOf,
  findChild,
  LayoutError,
  pairByStem,
  requireFolder,
  splitNameFor,
  subdirectories,
  type Listing,
  type SplitListing,
  type Unpaired,
} from './listing.ts';

function gather(root: string, places: { name: string; where: string; images: string; masks: string; maskStem?: (s: string) => string }[]) {
  const splits: SplitListing[] = [];
  const unpaired: Unpaired[] = [];
  const ignored: Unpaired[] = [];
  for (const place of places) {
    const result = pairByStem(place.images, place.masks, { key: 'label', ...(place.maskStem ? { maskStem: place.maskStem } : {}) });
    splits.push({ name: place.name, where: place.where, entries: result.entries });
    unpaired.push(...result.unpaired);
    ignored.push(...result.ignored);
  }
  return { splits, unpaired, ignored, root };
}

/** `images/` + `masks*` (N.jpg + N_mask.png) in the root or in each split folder. */
function findTrans10k(root: string) {
  const at = (dir: string, rel: string) => {
    const images = findChild(dir, 'images');
    // Kvasir-SEG also has images/ + masks/: Trans10K is told apart by its N_mask.png names.
    const masksName = subdirectories(dir).find((d) => /^masks/i.test(d) && filesOf(join(dir, d)).some((f) => /_mask\.png$/i.test(f)));
    return images && masksName ? [{ name: splitNameFor(rel), where: join(rel, 'images') || 'images', images, masks: join(dir, masksName), maskStem: (s: string) => `${s}_mask` }] : [];
  };
  const top = at(root, '');
  if (top.length) return top;
  return subdirectories(root).flatMap((name) => at(join(root, name), name));
}

/** Sibling folders X and Xannot (SegNet's CamVid). */
function findCamvid(root: string) {
  const dirs = subdirectories(root);
  return dirs
    .filter((d) => dirs.some((other) => other.toLowerCase() === `${d.toLowerCase()}annot`))
    .map((d) => ({ name: splitNameFor(d), where: d, images: join(root, d), masks: join(root, dirs.find((o) => o.toLowerCase() === `${d.toLowerCase()}annot`)!) }));
}

export function listClassIndexMasks(root: string): Listing {
  requireFolder(root);
  const trans10k = findTrans10k(root);
  if (trans10k.length) {
    return {
      layout: 'class-index-masks',
      variant: 'trans10k',
      description: `images/N.jpg + ${trans10k[0]!.masks.split(/[\\/]/).pop()}/N_mask.png (class ids)`,
      targets: 'classes',
      ...gather(root, trans10k),
    };
  }
  const camvid = findCamvid(root);
  if (camvid.length) {
    return {
      layout: 'class-index-masks',
      variant: 'camvid',
      description: 'X/ + Xannot/ matched by file stem (class ids)',
      targets: 'classes',
      ...gather(root, camvid),
    };
  }
  throw new LayoutError(
    `${root}: no class-index mask layout found (expected images/ + masks*/ with N_mask.png as in Trans10K, in the root or in split folders, or train/ + trainannot/ as in CamVid); it holds: ${describeFolder(root)}`,
  );
}

export const ClassIndexMasks = defineNode({
  kind: 'data/class-index-masks',
  description: 'reads multi-class data sets with class-id PNG masks and an ignore label (Trans10K, CamVid)',
  placement: 'main',
  inputs: {},
  outputs: { image: Image, label: LabelMap },
  params: LabelReaderParams,
  main: readerSource(LabelReaderParams, {
    list: (p) => listClassIndexMasks(p.root),
    decode: (entry, p) => decodeLabelSample(entry.files, { ignoreLabel: p.ignoreLabel, resizeMasks: p.resizeMasks, ...(p.classes !== undefined ? { classes: p.classes } : {}) }),
  }),
});
