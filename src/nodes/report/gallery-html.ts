/**
 * The report's gallery section: for each kept image four pictures side by side, composed here
 * from the gallery event's PNGs (gallery-data.ts) and inlined as data URIs: the image, the ground
 * truth over it, the prediction over it, and the errors (false positives and false negatives in
 * two colours, correct foreground pale green, over a dimmed grey image). A multi-task gallery's
 * pictures come coloured from its node (multitask-gallery.ts) and are inlined as they are.
 */
import sharp from 'sharp';
import { escapeHtml } from '../../graph/export/index.ts';
import { classColour } from '../data/synthetic-classes.ts';
import { IGNORE_LABEL } from '../ports.ts';
import type { GalleryItem, GalleryRecord } from './gallery-data.ts';
import { CLASS_ZERO, INVALID_GREY, segmentationColour, VIRIDIS, type MultitaskGalleryRecord } from './multitask-gallery.ts';

type Rgb = readonly [number, number, number];
export const ERROR_COLOURS = { tp: [102, 187, 106], fp: [229, 57, 53], fn: [30, 136, 229] } as const satisfies Record<string, Rgb>;
const TRUTH: Rgb = [0, 200, 83];
const PRED: Rgb = [255, 171, 0];

async function decode(b64: string, channels: 1 | 3, what: string, item: GalleryItem): Promise<Uint8Array> {
  const { data, info } = await sharp(Buffer.from(b64, 'base64'))
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== item.width || info.height !== item.height || info.channels !== channels) {
    throw new Error(`gallery item '${item.id}': its ${what} is ${info.width}x${info.height}x${info.channels}, expected ${item.width}x${item.height}x${channels}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** `base` with `colour` mixed in at `alpha` (0..1) per pixel. */
function tint(base: Uint8Array, pixels: number, at: (i: number) => { colour: Rgb; alpha: number } | undefined): Uint8Array {
  const out = Uint8Array.from(base);
  for (let i = 0; i < pixels; i++) {
    const t = at(i);
    if (!t || t.alpha <= 0) continue;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(base[i * 3 + c]! * (1 - t.alpha) + t.colour[c]! * t.alpha);
  }
  return out;
}

/** The image in grey at 60 % brightness: the errors' background. */
function dimmed(image: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const y = 0.6 * (0.299 * image[i * 3]! + 0.587 * image[i * 3 + 1]! + 0.114 * image[i * 3 + 2]!);
    out.fill(Math.round(y), i * 3, i * 3 + 3);
  }
  return out;
}

async function dataUri(rgb: Uint8Array, width: number, height: number): Promise<string> {
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

export interface Composed {
  readonly panels: readonly [string, string, string, string];
  readonly caption: string;
}

export async function composeBinary(item: GalleryItem, threshold: number): Promise<Composed> {
  const n = item.width * item.height;
  const [image, truth, pred] = [await decode(item.image, 3, 'image', item), await decode(item.truth, 1, 'truth', item), await decode(item.pred, 1, 'prediction', item)];
  const cut = threshold * 255;
  let [tp, fp, fn] = [0, 0, 0];
  const errors = tint(dimmed(image, n), n, (i) => {
    const [t, p] = [truth[i]! > 127, pred[i]! > cut];
    if (t && p) return tp++, { colour: ERROR_COLOURS.tp, alpha: 0.55 };
    if (p) return fp++, { colour: ERROR_COLOURS.fp, alpha: 0.9 };
    if (t) return fn++, { colour: ERROR_COLOURS.fn, alpha: 0.9 };
    return undefined;
  });
  const union = tp + fp + fn;
  const panels = await Promise.all([
    image,
    tint(image, n, (i) => (truth[i]! > 127 ? { colour: TRUTH, alpha: 0.5 } : undefined)),
    tint(image, n, (i) => ({ colour: PRED, alpha: 0.7 * (pred[i]! / 255) })),
    errors,
  ].map((rgb) => dataUri(rgb, item.width, item.height)));
  const pct = (k: number) => `${((100 * k) / n).toFixed(1)} %`;
  return { panels: panels as unknown as Composed['panels'], caption: `IoU ${union ? (tp / union).toFixed(3) : '1 (both empty)'} · FP ${pct(fp)} · FN ${pct(fn)}` };
}

/** Class 0 is the background (left untinted); other classes get the synthetic set's colours. */
const colourOf = (id: number, classes: number): Rgb | undefined => (id === 0 || id === IGNORE_LABEL ? undefined : classColour(id, classes));

async function composeClasses(item: GalleryItem, classes: number): Promise<Composed> {
  const n = item.width * item.height;
  const [image, truth, pred] = [await decode(item.image, 3, 'image', item), await decode(item.truth, 1, 'truth', item), await decode(item.pred, 1, 'prediction', item)];
  const labelled = (ids: Uint8Array) =>
    tint(image, n, (i) => (ids[i] === IGNORE_LABEL ? { colour: [128, 128, 128], alpha: 0.8 } : { colour: colourOf(ids[i]!, classes) ?? [0, 0, 0], alpha: colourOf(ids[i]!, classes) ? 0.6 : 0 }));
  let [right, scored, fp, fn] = [0, 0, 0, 0];
  // A wrong pixel is a false positive of the class predicted there, or (predicted background) a miss of its true class.
  const errors = tint(dimmed(image, n), n, (i) => {
    if (truth[i] === IGNORE_LABEL) return undefined;
    scored++;
    if (pred[i] === truth[i]) return right++, truth[i] ? { colour: ERROR_COLOURS.tp, alpha: 0.55 } : undefined;
    if (pred[i] === 0) return fn++, { colour: ERROR_COLOURS.fn, alpha: 0.9 };
    return fp++, { colour: ERROR_COLOURS.fp, alpha: 0.9 };
  });
  const panels = await Promise.all([image, labelled(truth), labelled(pred), errors].map((rgb) => dataUri(rgb, item.width, item.height)));
  const pct = (k: number) => `${((100 * k) / Math.max(1, scored)).toFixed(1)} %`;
  return { panels: panels as unknown as Composed['panels'], caption: `pixel accuracy ${pct(right)} · wrong class ${pct(fp)} · missed ${pct(fn)}` };
}

const swatch = (colour: Rgb, label: string) => `<span class="swatch" style="background: rgb(${colour.join(', ')})"></span>${escapeHtml(label)}`;

/** The section's HTML for one gallery record; `note` says which epoch it is and why. */
export async function galleryHtml(record: GalleryRecord, note: string): Promise<string> {
  const composed = await Promise.all(
    record.items.map((item) => (record.kind === 'classes' ? composeClasses(item, record.classes ?? 2) : composeBinary(item, record.threshold ?? 0.5))),
  );
  const heads = record.kind === 'classes' ? ['image', 'ground truth', 'prediction', 'errors'] : ['image', 'ground truth', 'probability', 'errors'];
  const legend =
    record.kind === 'classes'
      ? [
          swatch(ERROR_COLOURS.fp, 'wrong class predicted'),
          swatch(ERROR_COLOURS.fn, 'missed (predicted background)'),
          swatch(ERROR_COLOURS.tp, 'correct foreground'),
          ...Array.from({ length: (record.classes ?? 2) - 1 }, (_, k) => swatch(classColour(k + 1, record.classes ?? 2), `class ${k + 1}`)),
        ]
      : [swatch(TRUTH, 'ground truth'), swatch(PRED, 'predicted probability'), swatch(ERROR_COLOURS.fp, 'false positive'), swatch(ERROR_COLOURS.fn, 'false negative'), swatch(ERROR_COLOURS.tp, 'true positive')];
  const threshold = record.kind === 'binary' ? ` Errors at probability > ${record.threshold ?? 0.5}.` : '';
  return `<p>${escapeHtml(note)}.${threshold}</p>
<p class="legend">${legend.join(' ')}</p>
<div class="gallery">
${record.items
  .map(
    (item, k) => `<figure class="sample">
<div class="panels">${composed[k]!.panels.map((src, p) => `<img src="${src}" width="${item.width}" height="${item.height}" alt="${escapeHtml(`${item.id}: ${heads[p]}`)}" title="${escapeHtml(heads[p]!)}">`).join('')}</div>
<figcaption><b>${escapeHtml(item.id)}</b> · ${escapeHtml(composed[k]!.caption)}</figcaption>
</figure>`,
  )
  .join('\n')}
</div>
<p class="heads">Each row: ${heads.join(' · ')}.</p>`;
}

const fixed = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));

/** The multi-task section: per image the image, then each task's ground truth and prediction. */
export function multitaskGalleryHtml(record: MultitaskGalleryRecord, note: string): string {
  const heads = ['image', ...record.tasks.flatMap((t) => [`${t.name} truth`, `${t.name} prediction`])];
  const legend: string[] = [];
  for (const t of record.tasks) {
    if (t.kind === 'segmentation') {
      const classes = t.classes ?? 2;
      legend.push(`<b>${escapeHtml(t.name)}</b>: ${swatch(CLASS_ZERO, 'class 0')}${Array.from({ length: classes - 1 }, (_, k) => swatch(segmentationColour(k + 1, classes), `${k + 1}`)).join('')}${swatch(INVALID_GREY, 'ignored')}`);
    } else if (t.kind === 'depth') {
      const ramp = `linear-gradient(to right, ${VIRIDIS.map((c) => `rgb(${c.join(', ')})`).join(', ')})`;
      legend.push(`<b>${escapeHtml(t.name)}</b>: low <span class="ramp" style="background: ${ramp}"></span> high (viridis over the image's valid ground-truth range, the same for its prediction; the range is under each image)${swatch(INVALID_GREY, 'no valid depth')}`);
    } else {
      legend.push(`<b>${escapeHtml(t.name)}</b>: RGB = (n + 1) / 2 (x → red, y → green, z → blue; facing the camera ≈ ${swatch([128, 128, 255], 'lilac')})${swatch(INVALID_GREY, 'invalid')}`);
    }
  }
  const src = (b64: string) => `data:image/png;base64,${b64}`;
  return `<p>${escapeHtml(note)}.</p>
<p class="legend">${legend.join('<br>')}</p>
<div class="gallery">
${record.items
  .map((item) => {
    const pictures = [item.image, ...record.tasks.flatMap((t) => [item.tasks[t.name]?.truth, item.tasks[t.name]?.pred])];
    const ranges = record.tasks.flatMap((t) => (item.tasks[t.name]?.range ? [`${t.name} ${fixed(item.tasks[t.name]!.range![0])}–${fixed(item.tasks[t.name]!.range![1])}`] : []));
    return `<figure class="sample multitask">
<div class="panels">${pictures.map((b64, p) => (b64 ? `<img src="${src(b64)}" width="${item.width}" height="${item.height}" alt="${escapeHtml(`${item.id}: ${heads[p]}`)}" title="${escapeHtml(heads[p]!)}">` : '')).join('')}</div>
<figcaption><b>${escapeHtml(item.id)}</b>${ranges.length ? ` · ${escapeHtml(ranges.join(' · '))}` : ''}</figcaption>
</figure>`;
  })
  .join('\n')}
</div>
<p class="heads">Each row: ${heads.map((h) => escapeHtml(h)).join(' · ')}.</p>`;
}
