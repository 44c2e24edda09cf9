/**
 * `samflow metrics --pred DIR --gt DIR`: scores saved predictions the way the SOD evaluation
 * toolboxes are used. Predictions are grayscale images whose 0..255 values are probabilities
 * (v / 255); ground truths are masks (0/255). Files pair by stem (`a.png` with `a.jpg`). A
 * prediction whose size differs from its ground truth is an error listing every such pair (a
 * silent resize would hide predictions made at the wrong size or aspect ratio); with `--resize`
 * it is resized to the ground truth's size (bilinear, sharp's `linear` kernel), because the
 * metrics are defined at the mask's size, and the report says how many were.
 * A file without a partner is an error that lists every such file.
 *
 * The scoring runs in the metric pool's threads (see src/nodes/metrics/pool.ts).
 */
import { readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { Command } from 'commander';
import sharp from 'sharp';
import {
  BINARY_METRICS,
  BinaryMeans,
  parseBinaryMetricNames,
  type BinaryMetricName,
  type BinaryScores,
} from '../nodes/metrics/binary-metrics.ts';
import { MetricPool } from '../nodes/metrics/pool.ts';

/** File endings read as images (lower case). */
const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp']);

export interface MetricsOptions {
  readonly pred: string;
  readonly gt: string;
  readonly metrics?: string;
  readonly perImage?: boolean;
  readonly json?: boolean;
  /** Resize a prediction of another size to its ground truth's instead of failing. */
  readonly resize?: boolean;
}

/** A prediction whose size is not its ground truth's. */
interface SizeMismatch {
  readonly stem: string;
  readonly pred: { width: number; height: number };
  readonly gt: { width: number; height: number };
}

export interface MetricsReport {
  readonly images: number;
  /** With --resize: predictions resized to their ground truth's size, and how many of those to another aspect ratio. */
  readonly resized?: { readonly count: number; readonly otherAspect: number };
  readonly metrics: BinaryScores;
  readonly perImage?: ({ readonly image: string } & BinaryScores)[];
}

/** Adds the `metrics` command to the samflow program. */
export function addMetricsCommand(program: Command): void {
  program
    .command('metrics')
    .description('score saved predictions (grayscale 0..255 probabilities) against ground-truth masks, matched by file stem')
    .requiredOption('--pred <dir>', 'folder of predictions (PNG/JPG; 0..255 = probability)')
    .requiredOption('--gt <dir>', 'folder of ground-truth masks (0/255)')
    .option('--metrics <list>', `comma list of ${BINARY_METRICS.join(', ')}`, BINARY_METRICS.join(','))
    .option('--per-image', 'also print every image’s scores')
    .option('--resize', 'resize a prediction whose size differs from its ground truth (bilinear) instead of failing')
    .option('--json', 'print the report as JSON')
    .action(async (opts: MetricsOptions) => {
      const report = await scoreFolders(opts);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, opts));
    });
}

/** Pairs the two folders' images by stem, scores every pair and averages per metric. */
export async function scoreFolders(opts: MetricsOptions): Promise<MetricsReport> {
  const names = parseBinaryMetricNames(opts.metrics ?? BINARY_METRICS.join(','));
  const [preds, gts] = await Promise.all([listImages(opts.pred, '--pred'), listImages(opts.gt, '--gt')]);
  const pairs = pairByStem(preds, gts, opts.pred, opts.gt);
  const pool = MetricPool.shared();
  const rows: ({ image: string } & BinaryScores)[] = new Array(pairs.length);
  const mismatches: SizeMismatch[] = [];
  try {
    // Decode a few pairs ahead of the pool, never the whole folder at once.
    const window = pool.size + 2;
    let next = 0;
    const workers = Array.from({ length: Math.min(window, pairs.length) }, async () => {
      while (next < pairs.length) {
        const i = next++;
        const pair = pairs[i]!;
        const image = await loadPair(pair, opts.resize === true, mismatches);
        if (image) rows[i] = { image: pair.stem, ...(await pool.score(image, names, { transfer: true })) };
      }
    });
    await Promise.all(workers);
  } finally {
    await pool.close();
  }
  if (mismatches.length && !opts.resize) throw new Error(describeMismatches(mismatches, opts));
  const means = new BinaryMeans();
  for (const row of rows) means.add(row);
  const otherAspect = mismatches.filter((m) => m.pred.width * m.gt.height !== m.pred.height * m.gt.width).length;
  return {
    images: rows.length,
    ...(mismatches.length ? { resized: { count: mismatches.length, otherAspect } } : {}),
    metrics: means.means(),
    ...(opts.perImage ? { perImage: rows } : {}),
  };
}

const size = (s: { width: number; height: number }) => `${s.width}x${s.height}`;

function describeMismatches(mismatches: SizeMismatch[], opts: Pick<MetricsOptions, 'pred' | 'gt'>): string {
  const sorted = [...mismatches].sort((a, b) => (a.stem < b.stem ? -1 : 1));
  const shown = sorted.slice(0, 20).map((m) => `${m.stem} (prediction ${size(m.pred)}, ground truth ${size(m.gt)})`);
  const more = sorted.length > 20 ? ` and ${sorted.length - 20} more` : '';
  return `${mismatches.length} prediction(s) in ${opts.pred} differ in size from their ground truth in ${opts.gt}: ${shown.join(', ')}${more}; pass --resize to resize each prediction to its ground truth's size (bilinear)`;
}

async function listImages(dir: string, flag: string): Promise<Map<string, string>> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`${flag} ${dir}: ${code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : (error as Error).message}`);
  }
  const byStem = new Map<string, string>();
  for (const name of entries.sort()) {
    const ext = extname(name).toLowerCase();
    if (!EXTENSIONS.has(ext)) continue;
    const stem = basename(name, extname(name));
    const other = byStem.get(stem);
    if (other) throw new Error(`${flag} ${dir}: two images share the stem '${stem}' (${basename(other)}, ${name}); keep one`);
    byStem.set(stem, join(dir, name));
  }
  if (byStem.size === 0) throw new Error(`${flag} ${dir}: no images (${[...EXTENSIONS].join(', ')})`);
  return byStem;
}

function pairByStem(preds: Map<string, string>, gts: Map<string, string>, predDir: string, gtDir: string) {
  const noGt = [...preds.keys()].filter((s) => !gts.has(s));
  const noPred = [...gts.keys()].filter((s) => !preds.has(s));
  if (noGt.length || noPred.length) {
    const list = (stems: string[], files: Map<string, string>) => {
      const shown = stems.slice(0, 20).map((s) => basename(files.get(s)!));
      return shown.join(', ') + (stems.length > 20 ? ` and ${stems.length - 20} more` : '');
    };
    const parts: string[] = [];
    if (noGt.length) parts.push(`${noGt.length} prediction(s) in ${predDir} have no ground truth in ${gtDir}: ${list(noGt, preds)}`);
    if (noPred.length) parts.push(`${noPred.length} ground truth(s) in ${gtDir} have no prediction in ${predDir}: ${list(noPred, gts)}`);
    throw new Error(`unmatched files (pairs match by file stem): ${parts.join('; ')}`);
  }
  return [...gts.keys()].sort().map((stem) => ({ stem, pred: preds.get(stem)!, gt: gts.get(stem)! }));
}

/** One channel of 8-bit grey values, with sharp's errors turned into ones naming the file. */
async function readGrey(file: string, what: string, size?: { width: number; height: number }) {
  try {
    let pipeline = sharp(file, { failOn: 'truncated', autoOrient: true }).removeAlpha().greyscale();
    if (size) pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: 'linear' });
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const grey = new Uint8Array(info.width * info.height);
    for (let i = 0, j = 0; i < grey.length; i++, j += info.channels) grey[i] = data[j]!;
    return { width: info.width, height: info.height, data: grey };
  } catch (error) {
    throw new Error(`${file}: cannot read the ${what}: ${(error as Error).message}`);
  }
}

/** The pair's pixels; a size mismatch is recorded, and resized only with `resize` (else undefined: nothing to score). */
async function loadPair(pair: { stem: string; pred: string; gt: string }, resize: boolean, mismatches: SizeMismatch[]) {
  const gt = await readGrey(pair.gt, 'ground-truth mask');
  let pred = await readGrey(pair.pred, 'prediction');
  if (pred.width !== gt.width || pred.height !== gt.height) {
    mismatches.push({ stem: pair.stem, pred: { width: pred.width, height: pred.height }, gt: { width: gt.width, height: gt.height } });
    if (!resize) return undefined;
    pred = await readGrey(pair.pred, 'prediction', { width: gt.width, height: gt.height });
  }
  return { width: gt.width, height: gt.height, pred: pred.data, gt: gt.data };
}

export function formatReport(report: MetricsReport, opts: Pick<MetricsOptions, 'pred' | 'gt'>): string {
  const names = Object.keys(report.metrics) as BinaryMetricName[];
  const lines: string[] = [];
  if (report.perImage) {
    const width = Math.max(5, ...report.perImage.map((r) => r.image.length));
    lines.push(['image'.padEnd(width), ...names.map((n) => n.padStart(8))].join(' '));
    for (const row of report.perImage) lines.push([row.image.padEnd(width), ...names.map((n) => row[n]!.toFixed(4).padStart(8))].join(' '));
    lines.push('');
  }
  if (report.resized) {
    const { count, otherAspect } = report.resized;
    lines.push(`resized ${count} prediction(s) to their ground truth's size (bilinear)${otherAspect ? `, ${otherAspect} of them to another aspect ratio` : ''}`);
  }
  lines.push(`${report.images} images, ${opts.pred} against ${opts.gt} (mean over images):`);
  for (const name of names) lines.push(`  ${name.padEnd(4)} ${report.metrics[name]!.toFixed(4)}`);
  return `${lines.join('\n')}\n`;
}
