/**
 * The AutoGluon CSV layout of the Conv-LoRA benchmarks: `train.csv`, `val.csv`, `test.csv`
 * (or `test_Kvasir.csv`, `test_CVC-ClinicDB.csv`, `test_CAMO.csv`), each with columns `image`
 * and `label` holding paths relative to the CSV's folder, usually after an unnamed index column
 * (pandas' `to_csv`). Each CSV is a split named by its stem. The root may also be the folder
 * above (`datasets/polyp/` holding `polyp/*.csv`). Binary masks are 0/255 PNGs; multi-class
 * labels are class-id PNGs (use the `/labels` kind).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, relative } from 'node:path';
import { parse } from 'csv-parse/sync';
import { defineNode } from '../../graph/node.ts';
import { BinaryMask, Image, LabelMap, SampleInfo } from '../ports.ts';
import { BinaryReaderParams, LabelReaderParams, readerSource } from './dataset-source.ts';
import { decodeLabelSample } from './decode.ts';
import { decodeBinaryEntry } from './sample-info.ts';
import {
  describeFolder,
  filesOf,
  LayoutError,
  requireFolder,
  stemOf,
  subdirectories,
  type Entry,
  type Listing,
  type SplitListing,
  type Unpaired,
} from './listing.ts';

const SPLIT_ORDER = (name: string) => (name === 'train' ? 0 : name === 'val' ? 1 : name === 'test' ? 2 : 3);

/** The header of a CSV file, or undefined when it cannot be read as one. */
function headerOf(file: string): string[] | undefined {
  try {
    const firstLine = readFileSync(file, 'utf8').split(/\r?\n/, 1)[0] ?? '';
    return (parse(firstLine, { relax_quotes: true }) as string[][])[0]?.map((h) => h.trim());
  } catch {
    return undefined;
  }
}

const isDatasetCsv = (file: string) => {
  const header = headerOf(file);
  return header !== undefined && header.includes('image') && header.includes('label');
};

/** The folder holding the data set's CSVs: root, or its one sub-folder that has them. */
function csvFolder(root: string): string | undefined {
  const has = (dir: string) => filesOf(dir).some((f) => f.toLowerCase().endsWith('.csv') && isDatasetCsv(join(dir, f)));
  if (has(root)) return root;
  const nested = subdirectories(root).filter((d) => has(join(root, d)));
  return nested.length === 1 ? join(root, nested[0]!) : undefined;
}

export function hasAutogluonCsv(root: string): boolean {
  return csvFolder(root) !== undefined;
}

export function listAutogluonCsv(root: string, targets: 'binary' | 'classes' = 'binary'): Listing {
  requireFolder(root);
  const folder = csvFolder(root);
  if (!folder) {
    throw new LayoutError(`${root}: no AutoGluon CSV found (expected train.csv / val.csv / test*.csv with 'image' and 'label' columns, in the folder or one sub-folder); it holds: ${describeFolder(root)}`);
  }
  const role = targets === 'binary' ? 'mask' : 'label';
  const csvs = filesOf(folder).filter((f) => f.toLowerCase().endsWith('.csv') && isDatasetCsv(join(folder, f)));
  const splits: SplitListing[] = [];
  const unpaired: Unpaired[] = [];
  for (const csv of csvs) {
    const file = join(folder, csv);
    let rows: Record<string, string>[];
    try {
      rows = parse(readFileSync(file, 'utf8'), { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
    } catch (error) {
      throw new LayoutError(`${file}: not a readable CSV: ${(error as Error).message}`);
    }
    const entries: Entry[] = [];
    rows.forEach((row, i) => {
      const line = `${csv} row ${i + 1}`;
      const image = row.image;
      const label = row.label;
      if (!image || !label) {
        throw new LayoutError(`${file}: row ${i + 1} has an empty ${!image ? 'image' : 'label'} cell; expected image and label paths`);
      }
      const paths = [image, label].map((p) => (isAbsolute(p) ? p : join(folder, p)));
      const missing = paths.filter((p) => !existsSync(p));
      for (const p of missing) unpaired.push({ file: p, reason: `listed in ${line} but missing` });
      if (!missing.length) entries.push({ id: stemOf(paths[0]!), files: { image: paths[0]!, [role]: paths[1]! } });
    });
    splits.push({ name: stemOf(csv), where: csv, entries });
  }
  splits.sort((a, b) => SPLIT_ORDER(a.name) - SPLIT_ORDER(b.name));
  const nested = folder === root ? '' : ` (in ${relative(root, folder)}/)`;
  return {
    layout: 'autogluon-csv',
    variant: basename(folder),
    description: `${csvs.join(', ')}${nested}: image and label paths relative to the CSV folder`,
    root,
    targets,
    splits,
    unpaired,
    ignored: [],
  };
}

export const AutogluonCsv = defineNode({
  kind: 'data/autogluon-csv',
  description: "reads AutoGluon's train/val/test CSVs (image, label columns) with binary 0/255 masks",
  placement: 'main',
  inputs: {},
  outputs: { image: Image, mask: BinaryMask, info: SampleInfo },
  params: BinaryReaderParams,
  main: readerSource(BinaryReaderParams, {
    list: (p) => listAutogluonCsv(p.root, 'binary'),
    decode: (entry, p) => decodeBinaryEntry(entry, p),
  }),
});

export const AutogluonCsvLabels = defineNode({
  kind: 'data/autogluon-csv/labels',
  description: "reads AutoGluon's train/val/test CSVs (image, label columns) with class-id masks",
  placement: 'main',
  inputs: {},
  outputs: { image: Image, label: LabelMap },
  params: LabelReaderParams,
  main: readerSource(LabelReaderParams, {
    list: (p) => listAutogluonCsv(p.root, 'classes'),
    decode: (entry, p) => decodeLabelSample(entry.files, { ignoreLabel: p.ignoreLabel, resizeMasks: p.resizeMasks, ...(p.classes !== undefined ? { classes: p.classes } : {}) }),
  }),
});
