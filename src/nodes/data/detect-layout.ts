/**
 * Finds which known layout a data set folder is in, and lists it. Layouts are tried from the
 * most specific signature to the most generic: MTAN .npy folders, AutoGluon CSVs, ISIC 2017
 * names, class-index masks (Trans10K, CamVid), then paired image/mask folders.
 *
 * ```ts
 * const listing = detectLayout('../shared/data/kvasir-seg-dev'); // paired-folders (kvasir), 100 pairs in 'train'
 * detectLayout('PraNet/');  // paired-folders: 'train' (TrainDataset/image), 'test/CVC-ClinicDB', 'test/Kvasir', ...
 * ```
 */
import { join } from 'node:path';
import { hasAutogluonCsv, listAutogluonCsv } from './autogluon-csv.ts';
import { listClassIndexMasks } from './class-index-masks.ts';
import { listIsic2017 } from './isic2017.ts';
import { describeFolder, filesOf, findChild, foldersUnder, LayoutError, listDir, requireFolder, subdirectories, type LayoutName, type Listing } from './listing.ts';
import { unsupportedImagesNote } from './set-aside.ts';
import { listNyuv2Mtan } from './nyuv2-mtan.ts';
import { FOLDER_PAIR_ALIASES, FOLDER_PAIRS, listPairedFolders, PairsNotFoundError, type FolderPairPreset } from './paired-folders.ts';

export const LAYOUTS: readonly LayoutName[] = ['nyuv2-mtan', 'autogluon-csv', 'isic2017', 'class-index-masks', 'paired-folders'];

export interface DetectOptions {
  /** Use this layout instead of detecting one. */
  readonly layout?: LayoutName;
  /** Folder names (images, masks): a paired-folders data set with your own names. */
  readonly pair?: readonly [string, string];
  /** AutoGluon CSVs only: read label files as class ids instead of binary masks. */
  readonly classes?: boolean;
}

/** Cheap signatures, in trial order. */
const PROBES: Record<LayoutName, (root: string) => boolean> = {
  'nyuv2-mtan': (root) => subdirectories(root).some((d) => ['image', 'depth', 'normal'].every((t) => findChild(join(root, d), t))),
  'autogluon-csv': hasAutogluonCsv,
  isic2017: (root) => foldersUnder(root, 2).some((d) => filesOf(d).some((f) => /^ISIC_\d+_segmentation\.png$/i.test(f))),
  'class-index-masks': (root) => {
    try {
      listClassIndexMasks(root);
      return true;
    } catch (error) {
      if (error instanceof LayoutError) return false;
      throw error;
    }
  },
  'paired-folders': () => true,
};

export function listLayout(root: string, layout: LayoutName, options: DetectOptions = {}): Listing {
  switch (layout) {
    case 'nyuv2-mtan':
      return listNyuv2Mtan(root);
    case 'autogluon-csv':
      return listAutogluonCsv(root, options.classes ? 'classes' : 'binary');
    case 'isic2017':
      return listIsic2017(root);
    case 'class-index-masks':
      return listClassIndexMasks(root);
    case 'paired-folders':
      return listPairedFolders(root, options.pair ? { pair: options.pair } : {});
  }
}

/** Detects the layout of `root` and lists it; a LayoutError says what was looked for and what is there. */
export function detectLayout(root: string, options: DetectOptions = {}): Listing {
  requireFolder(root);
  if (options.layout) return listLayout(root, options.layout, options);
  if (options.pair) return listPairedFolders(root, { pair: options.pair });
  for (const layout of LAYOUTS) {
    if (layout === 'paired-folders') break;
    if (PROBES[layout](root)) return listLayout(root, layout, options);
  }
  try {
    return listPairedFolders(root);
  } catch (error) {
    if (!(error instanceof LayoutError)) throw error;
    const pairs = (Object.entries(FOLDER_PAIRS) as [FolderPairPreset, readonly [string, string]][])
      .map(([name, pair]) => `${[pair, ...(FOLDER_PAIR_ALIASES[name] ?? [])].map(([a, b]) => `${a}/ + ${b}/`).join(' or ')} (${name})`)
      .join(', ');
    throw new LayoutError(
      `${root}: unknown data set layout. Expected one of: MTAN NYUv2 ({train,val}/{image,label,depth,normal}/N.npy); ` +
        "AutoGluon CSVs (train.csv, val.csv, test*.csv with 'image' and 'label' columns); ISIC 2017 (ISIC_<id>.jpg + ISIC_<id>_segmentation.png); " +
        `Trans10K (images/ + masks*/ with N_mask.png) or CamVid (train/ + trainannot/); paired folders ${pairs}, or name your own pair. ` +
        (error instanceof PairsNotFoundError && error.halves.length ? `Found only halves of a pair: ${error.halves.join('; ')}. ` : '') +
        `The folder holds: ${describeFolder(root)}${unsupportedImagesNote(listDir(root))}`,
    );
  }
}
