/**
 * A comparison of fine-tuned runs (and the base they started from) on the same held-out split:
 * the terminal table and one self-contained HTML page with the table (each run linked to its own
 * report), a bar chart per metric group, and a gallery of the same test images under every row's
 * prediction (errors coloured as in the run report), so the numbers can be checked by eye.
 */
import { relative } from 'node:path';
import { escapeHtml } from '../../graph/export/index.ts';
import { barChart } from './charts.ts';
import type { GalleryRecord } from './gallery-data.ts';
import { composeBinary, ERROR_COLOURS } from './gallery-html.ts';
import { REPORT_STYLE } from './html-report.ts';

export interface ComparedRow {
  /** As the table shows it. */
  readonly name: string;
  /** The PEFT method, or 'none' for the base itself. */
  readonly method: string;
  readonly trainable?: number;
  readonly trainSeconds?: number;
  /** Metric means per scored split. */
  readonly scores: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** The run folder (none for the base). */
  readonly run?: string;
  readonly evalDirs?: readonly string[];
  readonly error?: string;
}

export interface ComparisonContext {
  readonly out: string;
  readonly data: string;
  readonly splits: readonly string[];
  readonly note?: string;
  readonly base: { readonly path: string; readonly arch: string; readonly quality?: { readonly pretrained: { readonly pointIou: number }; readonly untrained: { readonly pointIou: number }; readonly testScenes: number } };
  readonly options: Readonly<Record<string, unknown>>;
  readonly metrics: readonly string[];
}

/** Column headings as the papers print them. */
const HEADINGS: Record<string, string> = { iou: 'IoU', dice: 'Dice', sm: 'Sα', em: 'Eφ', wfm: 'Fωβ', mae: 'MAE', ber: 'BER' };
const LOWER_IS_BETTER = new Set(['mae', 'ber']);

const heading = (metric: string) => HEADINGS[metric] ?? metric;
const params = (r: ComparedRow) => (r.trainable === undefined ? '-' : r.trainable.toLocaleString('en-US'));
const seconds = (r: ComparedRow) => (r.trainSeconds === undefined ? '-' : r.trainSeconds === 0 ? '0' : `${r.trainSeconds.toFixed(0)} s`);
const value = (r: ComparedRow, split: string, metric: string) => r.scores[split]?.[metric];
const cell = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(4));

/** The best row's index per metric on a split (undefined where no row has it). */
function bestOf(rows: readonly ComparedRow[], split: string, metric: string): number | undefined {
  let best: number | undefined;
  rows.forEach((r, i) => {
    const v = value(r, split, metric);
    if (v === undefined || Number.isNaN(v)) return;
    const b = best === undefined ? undefined : value(rows[best]!, split, metric)!;
    if (b === undefined || (LOWER_IS_BETTER.has(metric) ? v < b : v > b)) best = i;
  });
  return best;
}

/** One text table per scored split: method, trainable params, train time, then the metrics. */
export function comparisonTable(rows: readonly ComparedRow[], context: Pick<ComparisonContext, 'splits' | 'metrics' | 'note'>): string {
  const blocks = context.splits.map((split) => {
    const header = ['method', 'trainable params', 'train time', ...context.metrics.map(heading)];
    const body = rows.map((r) => [r.name, params(r), seconds(r), ...context.metrics.map((m) => (r.error ? 'failed' : cell(value(r, split, m))))]);
    const widths = header.map((h, c) => Math.max([...h].length, ...body.map((row) => [...row[c]!].length)));
    const pad = (v: string, c: number) => (c === 0 ? v.padEnd(widths[c]! + v.length - [...v].length) : v.padStart(widths[c]! + v.length - [...v].length));
    const line = (row: readonly string[]) => row.map(pad).join('  ');
    const rule = widths.map((w) => '-'.repeat(w)).join('  ');
    return [`held-out split '${split}' (MAE: lower is better; the others higher)`, line(header), rule, ...body.map(line)].join('\n');
  });
  const failures = rows.filter((r) => r.error).map((r) => `${r.name} failed: ${r.error}`);
  return [...blocks, ...(context.note ? [`note: ${context.note}`] : []), ...failures].join('\n\n');
}

function tableHtml(rows: readonly ComparedRow[], context: ComparisonContext, split: string): string {
  const bests = new Map(context.metrics.map((m) => [m, bestOf(rows, split, m)]));
  const head = ['method', 'trainable params', 'train time', ...context.metrics.map(heading), 'details'].map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r, i) => {
    const link = r.run ? `<a href="${escapeHtml(relative(context.out, `${r.run}/report.html`))}">run report</a>` : 'the base alone: promptless forward, no training';
    const metricCells = context.metrics.map((m) => (r.error ? '<td>failed</td>' : `<td${bests.get(m) === i ? ' class="top"' : ''}>${cell(value(r, split, m))}</td>`));
    return `<tr><td class="name">${escapeHtml(r.name)}</td><td>${params(r)}</td><td>${seconds(r)}</td>${metricCells.join('')}<td class="name">${link}${r.error ? ` · ${escapeHtml(r.error)}` : ''}</td></tr>`;
  });
  return `<table class="comparison"><thead><tr>${head}</tr></thead><tbody>\n${body.join('\n')}\n</tbody></table>
<p class="legend">Bold: the best value of each column. Metrics are means over the split's images, each scored at its ground truth's resolution.</p>`;
}

function chartsHtml(rows: readonly ComparedRow[], context: ComparisonContext, split: string): string {
  const scored = rows.filter((r) => !r.error);
  const higher = context.metrics.filter((m) => !LOWER_IS_BETTER.has(m));
  const lower = context.metrics.filter((m) => LOWER_IS_BETTER.has(m));
  const chart = (title: string, metrics: readonly string[], width: number) =>
    barChart({ title, categories: metrics.map(heading), series: scored.map((r) => ({ name: r.name, values: metrics.map((m) => value(r, split, m) ?? 0) })), width, height: 260 });
  const charts = [chart(`${split}: higher is better`, higher, 620), lower.length ? chart(`${split}: lower is better`, lower, 620) : ''].filter(Boolean);
  return `<div class="charts">${charts.map((svg) => `<figure class="chart">${svg}</figure>`).join('')}</div>`;
}

/** Rows: the split's first images; columns: image, ground truth, then each compared row's errors. */
async function galleryHtml(rows: readonly ComparedRow[], records: ReadonlyMap<string, GalleryRecord> | undefined): Promise<string> {
  const shown = rows.filter((r) => records?.has(r.method === 'none' ? 'base' : r.method));
  if (!records || !shown.length) return '<p>no pictures were kept</p>';
  const recordOf = (r: ComparedRow) => records.get(r.method === 'none' ? 'base' : r.method)!;
  const first = recordOf(shown[0]!);
  const composed = await Promise.all(shown.map(async (r) => Promise.all(recordOf(r).items.map((item) => composeBinary(item, recordOf(r).threshold ?? 0.5)))));
  const heads = ['image', 'ground truth', ...shown.map((r) => r.name)];
  const swatch = (colour: readonly number[], label: string) => `<span class="swatch" style="background: rgb(${colour.join(', ')})"></span>${escapeHtml(label)}`;
  const lines = first.items.map((item, k) => {
    const own = composed[0]![k]!;
    const cells = [
      `<figure class="cell"><img src="${own.panels[0]}" width="${item.width}" height="${item.height}" alt="${escapeHtml(`${item.id}: image`)}"><figcaption>${escapeHtml(item.id)}</figcaption></figure>`,
      `<figure class="cell"><img src="${own.panels[1]}" width="${item.width}" height="${item.height}" alt="${escapeHtml(`${item.id}: ground truth`)}"><figcaption>ground truth</figcaption></figure>`,
      ...shown.map((r, j) => {
        const c = composed[j]![k];
        const theirs = recordOf(r).items[k];
        // Rows are the same images in the same order (evaluation reads the split in file order).
        if (!c || theirs?.id !== item.id) return '<figure class="cell"><figcaption>-</figcaption></figure>';
        return `<figure class="cell"><img src="${c.panels[3]}" width="${item.width}" height="${item.height}" alt="${escapeHtml(`${item.id}: ${r.name}`)}"><figcaption>${escapeHtml(`${r.name}: ${c.caption.split(' · ')[0]}`)}</figcaption></figure>`;
      }),
    ];
    return `<div class="panels">${cells.join('')}</div>`;
  });
  return `<p class="legend">${swatch(ERROR_COLOURS.tp, 'true positive')} ${swatch(ERROR_COLOURS.fp, 'false positive')} ${swatch(ERROR_COLOURS.fn, 'false negative')} (at probability > ${first.threshold ?? 0.5})</p>
<div class="gallery">${lines.join('\n')}</div>
<p class="heads">Each row: ${heads.map(escapeHtml).join(' · ')}.</p>`;
}

const STYLE = `${REPORT_STYLE}
td.name, th:first-child, th:last-child { text-align: left; }
td.top { font-weight: 700; background: #e8f5e9; }
figure.cell { margin: 0; text-align: center; }
figure.cell img { width: 128px; height: auto; image-rendering: pixelated; border: 1px solid #ccc; display: block; }
figure.cell figcaption { max-width: 128px; overflow-wrap: anywhere; }
`;

export async function comparisonHtml(rows: readonly ComparedRow[], context: ComparisonContext, galleries: ReadonlyMap<string, ReadonlyMap<string, GalleryRecord>>): Promise<string> {
  const q = context.base.quality;
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  const baseLine = q
    ? `the project's pretrained small SAM (samflow pretrain): zero-shot point IoU ${pct(q.pretrained.pointIou)} on ${q.testScenes} held-out generic scenes (untrained: ${pct(q.untrained.pointIou)})`
    : 'the SAM weights given';
  const options = Object.entries(context.options)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td><code>${escapeHtml(typeof v === 'string' ? v : JSON.stringify(v))}</code></td></tr>`)
    .join('');
  const sections = await Promise.all(
    context.splits.map(
      async (split) => `<h2>Held-out split '${escapeHtml(split)}'</h2>
${tableHtml(rows, context, split)}
${chartsHtml(rows, context, split)}
<h3>The same images under each method</h3>
${await galleryHtml(rows, galleries.get(split))}`,
    ),
  );
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>PEFT comparison · samflow</title>
<style>${STYLE}</style>
</head>
<body>
<h1>PEFT methods compared from one base</h1>
<p>Base: ${escapeHtml(baseLine)}: <code>${escapeHtml(context.base.path)}</code> (arch <code>${escapeHtml(context.base.arch)}</code>).</p>
<p>Data: <code>${escapeHtml(context.data)}</code>. Every method was fine-tuned with the same budget and seed; each run's best checkpoint (by its validation metric) is scored on the held-out split.${context.note ? ` Note: ${escapeHtml(context.note)}.` : ''}</p>
${sections.join('\n')}
<h2>Shared settings</h2>
<table class="config"><tbody>${options}</tbody></table>
</body>
</html>
`;
}
