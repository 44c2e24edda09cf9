/**
 * What `samflow data inspect DIR` reports: the detected layout, samples per split, image size
 * range, the mask value histogram, class counts, and every file that has no partner, cannot be
 * decoded, or whose mask size differs from its image. Every sample is decoded (with `limit`
 * per split for a quick look), a few at a time.
 *
 * ```ts
 * const report = await inspectDataset('../shared/data/kvasir-seg-dev');
 * process.stdout.write(formatReport(report));
 * ```
 */
import { DecodeError, decodeGrey, decodeImage, decodeLabel } from './decode.ts';
import { detectLayout, type DetectOptions } from './detect-layout.ts';
import type { Entry, Listing, Unpaired } from './listing.ts';
import { decodeNyuSample } from './nyuv2-mtan.ts';
import { IGNORE_LABEL } from '../ports.ts';

export interface InspectOptions extends DetectOptions {
  /** Inspect at most this many samples per split. */
  readonly limit?: number;
  readonly concurrency?: number;
  /** Binary masks: foreground is a grey value above this. */
  readonly maskThreshold?: number;
  /** Class-index masks: the data set's ignore value. */
  readonly ignoreLabel?: number;
}

export interface Range {
  min: number;
  max: number;
}

export interface InspectReport {
  readonly root: string;
  readonly layout: string;
  readonly variant: string;
  readonly description: string;
  readonly targets: Listing['targets'];
  readonly splits: { name: string; where: string; samples: number; inspected: number }[];
  readonly images: { count: number; width: Range; height: Range };
  /** Binary masks: counts of raw grey values 0..255 over all inspected masks. */
  readonly maskHistogram?: number[];
  readonly binary?: { threshold: number; foregroundPixels: number; pixels: number; emptyMasks: number; fullMasks: number };
  /** Class-index targets: pixel and image counts per class id (255 = ignore). */
  readonly classes?: { pixels: Record<number, number>; images: Record<number, number>; totalPixels: number };
  readonly depth?: { range: Range; invalidPixels: number; pixels: number };
  readonly normals?: { invalidPixels: number; pixels: number };
  readonly unpaired: readonly Unpaired[];
  readonly ignored: readonly Unpaired[];
  readonly corrupt: Unpaired[];
  readonly sizeMismatches: Unpaired[];
}

const emptyRange = (): Range => ({ min: Infinity, max: -Infinity });
const widen = (r: Range, v: number) => {
  r.min = Math.min(r.min, v);
  r.max = Math.max(r.max, v);
};

export async function inspectDataset(root: string, options: InspectOptions = {}): Promise<InspectReport> {
  const listing = detectLayout(root, options);
  const threshold = options.maskThreshold ?? 127;
  const report: InspectReport = {
    root,
    layout: listing.layout,
    variant: listing.variant,
    description: listing.description,
    targets: listing.targets,
    splits: listing.splits.map((s) => ({ name: s.name, where: s.where, samples: s.entries.length, inspected: Math.min(s.entries.length, options.limit ?? Infinity) })),
    images: { count: 0, width: emptyRange(), height: emptyRange() },
    ...(listing.targets === 'binary'
      ? { maskHistogram: new Array<number>(256).fill(0), binary: { threshold, foregroundPixels: 0, pixels: 0, emptyMasks: 0, fullMasks: 0 } }
      : { classes: { pixels: {}, images: {}, totalPixels: 0 } }),
    ...(listing.targets === 'multi-task' ? { depth: { range: emptyRange(), invalidPixels: 0, pixels: 0 }, normals: { invalidPixels: 0, pixels: 0 } } : {}),
    unpaired: listing.unpaired,
    ignored: listing.ignored,
    corrupt: [],
    sizeMismatches: [],
  };
  const work = listing.splits.flatMap((s) => s.entries.slice(0, options.limit ?? s.entries.length));
  let next = 0;
  const worker = async () => {
    while (next < work.length) {
      const entry = work[next++]!;
      try {
        await inspectEntry(entry, listing.targets, report, options);
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        report.corrupt.push({ file: error.file, reason: error.message.slice(error.file.length + 2) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  return report;
}

async function inspectEntry(entry: Entry, targets: Listing['targets'], report: InspectReport, options: InspectOptions): Promise<void> {
  const f = entry.files;
  if (targets === 'multi-task') {
    const s = await decodeNyuSample(f);
    addImage(report, s.image);
    addClasses(report, s.label.data);
    const depth = report.depth!;
    for (const v of s.depth.data) {
      depth.pixels++;
      if (v === 0) depth.invalidPixels++;
      else widen(depth.range, v);
    }
    const normals = report.normals!;
    for (let i = 0; i < s.normal.data.length; i += 3) {
      normals.pixels++;
      if (s.normal.data[i] === 0 && s.normal.data[i + 1] === 0 && s.normal.data[i + 2] === 0) normals.invalidPixels++;
    }
    return;
  }
  const maskFile = targets === 'binary' ? f.mask! : f.label!;
  const [image, mask] = await Promise.all([
    decodeImage(f.image!),
    targets === 'binary' ? decodeGrey(maskFile) : decodeLabel(maskFile, options.ignoreLabel !== undefined ? { ignoreLabel: options.ignoreLabel } : {}),
  ]);
  addImage(report, image);
  if (mask.width !== image.width || mask.height !== image.height) {
    report.sizeMismatches.push({ file: maskFile, reason: `mask is ${mask.width}x${mask.height} but its image ${f.image} is ${image.width}x${image.height}` });
  }
  if (targets === 'binary') {
    const histogram = report.maskHistogram!;
    const binary = report.binary!;
    let foreground = 0;
    for (const v of mask.data) {
      histogram[v]!++;
      if (v > binary.threshold) foreground++;
    }
    binary.foregroundPixels += foreground;
    binary.pixels += mask.data.length;
    if (foreground === 0) binary.emptyMasks++;
    if (foreground === mask.data.length) binary.fullMasks++;
  } else {
    addClasses(report, mask.data);
  }
}

function addImage(report: InspectReport, image: { width: number; height: number }): void {
  report.images.count++;
  widen(report.images.width, image.width);
  widen(report.images.height, image.height);
}

function addClasses(report: InspectReport, label: Uint8Array): void {
  const classes = report.classes!;
  const counts = new Map<number, number>();
  for (const v of label) counts.set(v, (counts.get(v) ?? 0) + 1);
  for (const [id, n] of counts) {
    classes.pixels[id] = (classes.pixels[id] ?? 0) + n;
    classes.images[id] = (classes.images[id] ?? 0) + 1;
  }
  classes.totalPixels += label.length;
}

const pct = (part: number, whole: number) => `${whole ? ((100 * part) / whole).toFixed(2) : '0.00'}%`;
const span = (r: Range) => (r.min === r.max ? `${r.min}` : `${r.min}..${r.max}`);

/** The report as text, one fact per line. */
export function formatReport(report: InspectReport): string {
  const lines: string[] = [];
  const add = (label: string, text: string) => lines.push(`${label.padEnd(18)}${text}`);
  const targetWords = { binary: 'binary masks', classes: 'class-index masks', 'multi-task': 'class ids + depth + normals' }[report.targets];
  add('data set', report.root);
  add('layout', `${report.layout} (${report.variant}): ${report.description}; ${targetWords}`);
  const total = report.splits.reduce((n, s) => n + s.samples, 0);
  const partial = report.splits.some((s) => s.inspected < s.samples);
  add('samples', `${total} ${report.targets === 'multi-task' ? 'samples' : 'pairs'}${partial ? ` (inspected ${report.splits.reduce((n, s) => n + s.inspected, 0)})` : ''}`);
  for (const s of report.splits) add(`  ${s.name}`, `${s.samples} (${s.where})`);
  const { images } = report;
  if (images.count) {
    add('image sizes', `${images.width.min === images.width.max && images.height.min === images.height.max ? `${images.width.min}x${images.height.min}` : `width ${span(images.width)}, height ${span(images.height)}`} over ${images.count} images`);
  }
  if (report.maskHistogram && report.binary) {
    const h = report.maskHistogram;
    const sum = (a: number, b: number) => h.slice(a, b + 1).reduce((x, y) => x + y, 0);
    const all = sum(0, 255);
    const t = report.binary.threshold;
    add('mask values', `0: ${pct(h[0]!, all)} | 1..${t}: ${pct(sum(1, t), all)} | ${t + 1}..254: ${pct(sum(t + 1, 254), all)} | 255: ${pct(h[255]!, all)}`);
    if (sum(1, 254) > 0) lines.push(`${''.padEnd(18)}(values between 0 and 255: JPEG noise is normal; masks are binarised with > ${t})`);
    if (h[1]! > 0 && sum(2, 255) === 0) lines.push(`${''.padEnd(18)}(masks hold only 0 and 1: pass --mask-threshold 0 here and --set maskThreshold=0 to train, or they read as empty)`);
    add('foreground', `${pct(report.binary.foregroundPixels, report.binary.pixels)} of pixels; ${report.binary.emptyMasks} empty and ${report.binary.fullMasks} full masks`);
  }
  if (report.classes) {
    const { pixels, images: imgs, totalPixels } = report.classes;
    const ids = Object.keys(pixels).map(Number).sort((a, b) => a - b);
    add('classes', `${ids.filter((id) => id !== IGNORE_LABEL).length} class ids seen (${ids.filter((id) => id !== IGNORE_LABEL).join(', ')})`);
    for (const id of ids) add(`  ${id === IGNORE_LABEL ? 'ignore' : `class ${id}`}`, `${pct(pixels[id]!, totalPixels)} of pixels, in ${imgs[id]} image${imgs[id] === 1 ? '' : 's'}`);
  }
  if (report.depth) add('depth', `${span({ min: +report.depth.range.min.toFixed(3), max: +report.depth.range.max.toFixed(3) })}; ${pct(report.depth.invalidPixels, report.depth.pixels)} invalid (0)`);
  if (report.normals) add('normals', `${pct(report.normals.invalidPixels, report.normals.pixels)} invalid (0, 0, 0)`);
  const list = (label: string, items: readonly Unpaired[]) => {
    add(label, items.length ? `${items.length}` : 'none');
    for (const u of items.slice(0, 50)) lines.push(`  ${u.file}: ${u.reason}`);
    if (items.length > 50) lines.push(`  ... and ${items.length - 50} more`);
  };
  list('without partner', report.unpaired);
  list('undecodable', report.corrupt);
  list('size mismatches', report.sizeMismatches);
  if (report.ignored.length) add('set aside', `${report.ignored.length} files (${[...new Set(report.ignored.map((i) => i.reason))].join('; ')})`);
  return `${lines.join('\n')}\n`;
}
