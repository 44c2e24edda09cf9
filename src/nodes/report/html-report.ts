/**
 * The run report: one self-contained HTML page (no scripts, no network) built from a run's
 * events and its graph: status, run config and base checkpoint, loss / learning-rate / metric
 * curves per epoch, the metric table with the best epoch marked, a gallery of validation
 * images (ground truth, prediction, errors; per task for multi-task runs), Δm against a baseline
 * run where the graph's multi-task metrics name one, Conv-LoRA's expert usage per layer, throughput and
 * time per stage, the checkpoints, the graph picture and the log. Charts are SVG drawn at
 * build time (charts.ts), pictures are data URIs.
 */
import type { CompiledGraph } from '../../graph/compile.ts';
import type { RunEvent } from '../../graph/events.ts';
import { escapeHtml, exportModel, toSvg } from '../../graph/export/index.ts';
import { barChart, lineChart, type LineSeries } from './charts.ts';
import { galleriesOf } from './gallery-data.ts';
import { galleryHtml, multitaskGalleryHtml } from './gallery-html.ts';
import { MultiTaskMetrics } from '../metrics/multi-task.ts';
import { readBaseline } from '../metrics/delta-m.ts';
import { multitaskGalleriesOf } from './multitask-gallery.ts';
import { bestEpoch, deltaTable, epochCurve, expertUsage, metricTable, stageTiming, stepCurve, throughput, type LoggedEvent } from './report-data.ts';

export { metricTable } from './report-data.ts';

/** What the report shows beyond the events: the run's record and the base weights' id. */
export interface ReportContext {
  readonly record?: {
    readonly pipeline: string;
    readonly options: Readonly<Record<string, unknown>>;
    readonly control?: { readonly monitor: string; readonly mode: string; readonly split: string } & Readonly<Record<string, unknown>>;
    readonly created?: string;
  };
  readonly baseId?: string;
}

/** Metrics drawn as curves: not the optimiser's own numbers, not per-class or per-task breakdowns (the table has those). */
const OPTIMISER = new Set(['loss', 'lr', 'grad_norm']);
const PALETTE = ['#4a6fa5', '#b26a00', '#2e7d32', '#8e24aa', '#c62828', '#00838f', '#6d4c41', '#546e7a'];

function statusLine(events: readonly RunEvent[]): string {
  // A resumed run's events hold one started … finished stretch per attempt: the status is the last one's.
  const lastStart = events.map((e) => e.type).lastIndexOf('started');
  const end = events.slice(Math.max(0, lastStart)).find((e) => e.type === 'finished' || e.type === 'failed');
  const checkpoints = events.filter((e): e is Extract<RunEvent, { type: 'checkpoint' }> => e.type === 'checkpoint');
  const attempts = events.filter((e) => e.type === 'started').length;
  const started = events[lastStart];
  return (
    (end?.type === 'finished'
      ? `finished: ${end.items} items in ${end.seconds.toFixed(1)} s${end.stopped ? ` (stopped: ${end.stopped})` : ''}`
      : end?.type === 'failed'
        ? `FAILED: ${end.error}`
        : `running, or killed${checkpoints.length ? `: last checkpoint ${checkpoints.at(-1)!.path} (epoch ${checkpoints.at(-1)!.epoch + 1})` : ' before its first checkpoint'}`) +
    (attempts > 1 ? ` · resumed ${attempts - 1} time(s)` : '') +
    (started?.type === 'started' && started.backend ? ` · backend ${started.backend}` : '')
  );
}

function table(headers: readonly string[], rows: readonly (readonly string[])[], rowClass: (i: number) => string = () => ''): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r, i) => `<tr${rowClass(i) ? ` class="${rowClass(i)}"` : ''}>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function configSection(context: ReportContext): string {
  const rec = context.record;
  const rows: [string, string][] = [];
  if (rec) rows.push(['pipeline', escapeHtml(rec.pipeline)]);
  const checkpoint = rec?.options['checkpoint'];
  rows.push(['base checkpoint', typeof checkpoint === 'string' ? escapeHtml(checkpoint) : 'none: seeded random weights']);
  rows.push(['base weights id', context.baseId ? `<code>${escapeHtml(context.baseId)}</code>` : 'not known yet (no adapter checkpoint written)']);
  if (rec) {
    rows.push(['options', `<code>${escapeHtml(JSON.stringify(rec.options))}</code>`]);
    if (rec.control) rows.push(['training control', `<code>${escapeHtml(JSON.stringify(rec.control))}</code>`]);
    if (rec.created) rows.push(['created', escapeHtml(rec.created)]);
  }
  return `<table class="config">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;
}

function curvesSection(events: readonly RunEvent[], best: number | undefined, names: readonly string[]): string {
  const mark = best !== undefined ? { x: best + 1, label: 'best' } : undefined;
  const splits = [...new Set(events.flatMap((e) => (e.type === 'metric' && e.split !== undefined && e.epoch !== undefined ? [e.split] : [])))].sort((a, b) => (a === 'train' ? -1 : b === 'train' ? 1 : a.localeCompare(b)));
  const loss = lineChart({
    title: 'loss',
    series: [
      { name: 'train (per step)', points: stepCurve(events, 'loss', 'train'), faint: true, colour: PALETTE[0]! },
      ...splits.map((s, k): LineSeries => ({ name: `${s} (epoch mean)`, points: epochCurve(events, 'loss', s), dashed: s !== 'train', colour: PALETTE[s === 'train' ? 0 : k + 1]! })),
    ],
    ...(mark ? { mark } : {}),
  });
  const lr = lineChart({ title: 'learning rate', series: [{ name: 'lr (per update)', points: stepCurve(events, 'lr', 'train') }], yName: '' });
  const curves = names.filter((n) => !OPTIMISER.has(n) && !n.includes('/'));
  const metrics = lineChart({
    title: 'metrics per epoch (solid: validation, dashed: train)',
    series: curves.flatMap((name, k) =>
      splits.map((s): LineSeries => ({ name: `${s} ${name}`, points: epochCurve(events, name, s), dashed: s === 'train', colour: PALETTE[k % PALETTE.length]! })),
    ),
    ...(mark ? { mark } : {}),
    width: 720,
    height: 320,
  });
  const figures = [loss, lr, metrics].filter((c) => c).map((c) => `<figure class="chart">${c}</figure>`);
  return figures.length ? `<div class="charts">${figures.join('\n')}</div>` : '<p>no loss or metric was reported</p>';
}

function metricsSection(events: readonly RunEvent[], best: number | undefined, monitored: string | undefined, split: string | undefined): string {
  const { rows, names } = metricTable(events);
  if (!rows.length) return '<p>no metrics were reported</p>';
  const isBest = (r: (typeof rows)[number]) => best !== undefined && r.epoch === best && (split === undefined || r.split === split);
  const note = best !== undefined ? `<p>★ the best epoch${monitored ? ` by ${escapeHtml(`${split ?? ''} ${monitored}`.trim())}` : ''}: epoch ${best + 1}.</p>` : '';
  return (
    note +
    table(
      // Per-task names (normal/within_11.25) may break after '/', so a multi-task table fits the page.
      ['epoch', 'split', ...names.map((n) => escapeHtml(n).replaceAll('/', '/<wbr>'))],
      rows.map((r) => [`${isBest(r) ? '★ ' : ''}${r.epoch + 1}`, escapeHtml(r.split), ...names.map((n) => (r.values.has(n) ? r.values.get(n)!.toFixed(4) : ''))]),
      (i) => (isBest(rows[i]!) ? 'best' : ''),
    )
  );
}

/** Shortest distinct names of layers: their common dotted prefix and suffix cut off. */
export function shortLayerNames(layers: readonly string[]): { names: string[]; pattern: string } {
  if (layers.length < 2) return { names: [...layers], pattern: '' };
  const parts = layers.map((l) => l.split('.'));
  let pre = 0;
  while (parts.every((p) => p.length > pre + 1 && p[pre] === parts[0]![pre])) pre++;
  let suf = 0;
  while (parts.every((p) => p.length > pre + suf + 1 && p[p.length - 1 - suf] === parts[0]![parts[0]!.length - 1 - suf])) suf++;
  const first = parts[0]!;
  const pattern = [...first.slice(0, pre), '<n>', ...first.slice(first.length - suf)].join('.');
  return { names: parts.map((p) => p.slice(pre, p.length - suf).join('.')), pattern };
}

function usageSection(events: readonly RunEvent[], best: number | undefined): string {
  const records = expertUsage(events);
  if (!records.length) return '';
  const epoch = best !== undefined && records.some((r) => r.epoch === best) ? best : records.at(-1)!.epoch;
  const chosen = records.filter((r) => r.epoch === epoch);
  const layers = [...new Set(chosen.flatMap((r) => Object.keys(r.usage)))];
  const experts = Math.max(...chosen.flatMap((r) => Object.values(r.usage).map((v) => v.length)));
  const categories = Array.from({ length: experts }, (_, i) => `${i + 1}`);
  // Shares, so splits with different numbers of images compare.
  const share = (counts: readonly number[] | undefined) => {
    const total = (counts ?? []).reduce((a, b) => a + b, 0);
    return categories.map((_, i) => (total ? Math.round((1000 * (counts?.[i] ?? 0)) / total) / 10 : 0));
  };
  const sum = (usage: UsageLike) => categories.map((_, i) => Object.values(usage).reduce((a, v) => a + (v[i] ?? 0), 0));
  const { names, pattern } = shortLayerNames(layers);
  const charts = [
    barChart({ title: 'all layers', categories, series: chosen.map((r) => ({ name: r.split, values: share(sum(r.usage)) })), xName: 'expert' }),
    ...layers.map((layer, k) =>
      barChart({ title: `layer ${names[k]}`, categories, series: chosen.map((r) => ({ name: r.split, values: share(r.usage[layer]) })), xName: 'expert' }),
    ),
  ];
  return `<h2>Expert usage (Conv-LoRA gates)</h2>
<p>Share (%) of the top-k gate's picks per expert (expert i works at scale i) in epoch ${epoch + 1}${best === epoch ? ' (the best)' : ''}, per split${pattern ? `; layers are ${escapeHtml(pattern)}` : ''}.</p>
<div class="charts small">${charts.map((c) => `<figure class="chart">${c}</figure>`).join('\n')}</div>`;
}
type UsageLike = Readonly<Record<string, readonly number[]>>;

const signed = (v: number | undefined) => (v === undefined ? '' : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);

/**
 * Δm against the baseline run the graph's multi-task metrics node names (a run's `baseline`
 * option): per metric the baseline's value (its last on that split, as the node reads it), this
 * run's at the best epoch (else the last), and the relative change. When the baseline cannot be
 * read any more, the Δm per epoch the run logged (delta_m) instead, saying so.
 */
function deltaSection(compiled: CompiledGraph, events: readonly RunEvent[], best: number | undefined): string {
  const node = compiled.graph.nodes.find((n) => n.kind === MultiTaskMetrics.kind && typeof (n.params as { baseline?: unknown } | undefined)?.baseline === 'string');
  if (!node) return '';
  const { baseline: path, baselineSplit: split } = MultiTaskMetrics.params.parse(node.params);
  const logged = epochCurve(events, 'delta_m', split);
  const perEpoch = () =>
    logged.length ? table(['epoch', `${escapeHtml(split)} Δm (%)`], logged.map(([x, v]) => [`${x}`, signed(v)])) : `<p>no delta_m was logged on ${escapeHtml(split)} yet</p>`;
  let metrics: Readonly<Record<string, number>>;
  try {
    metrics = readBaseline(path!, split).metrics;
  } catch (error) {
    return `<h2>Δm against the baseline</h2>
<p>The baseline ${escapeHtml(path!)} cannot be read now (${escapeHtml((error as Error).message)}), so only Δm per epoch as the run logged it (%, + = better than the baseline):</p>
${perEpoch()}`;
  }
  const delta = deltaTable(events, metrics, split, best);
  if (!delta) return `<h2>Δm against the baseline</h2>
<p>no ${escapeHtml(split)} metrics yet to compare with ${escapeHtml(path!)}</p>`;
  const rows = delta.rows.map((r) => [escapeHtml(r.task), escapeHtml(r.metric), r.baseline.toFixed(4), r.value.toFixed(4), r.change === undefined ? 'baseline 0: left out' : signed(r.change)]);
  const tasks = [...delta.tasks].map(([task, v]) => [escapeHtml(task), '<i>task mean</i>', '', '', signed(v)]);
  return `<h2>Δm against the baseline</h2>
<p>Baseline ${escapeHtml(path!)} (its last ${escapeHtml(split)} metrics) against this run's ${escapeHtml(split)} metrics of epoch ${delta.epoch + 1}${delta.epoch === best ? ' (the best)' : ''}. Change = ±(this − baseline) / baseline in %, + = better; Δm = the mean over tasks of each task's mean change (LibMTL's form).</p>
${table(['task', 'metric', 'baseline', 'this run', 'change (%)'], [...rows, ...tasks, ['<b>Δm</b>', '', '', '', `<b>${signed(delta.deltaM)}</b>`]])}
<p>Δm per epoch as logged (delta_m):</p>
${perEpoch()}`;
}

function speedSection(events: readonly LoggedEvent[]): string {
  const rates = throughput(events);
  const timing = stageTiming(events);
  const parts: string[] = [];
  if (rates.length) {
    parts.push(
      table(
        ['split', 'images', 'seconds', 'images/s'],
        rates.map((r) => [escapeHtml(r.split), `${r.items}`, r.seconds.toFixed(2), r.seconds > 0 ? (r.items / r.seconds).toFixed(1) : '']),
      ),
      '<p>From the events\' timestamps, leaving out each attempt\'s first batch (worker start-up, first compilations).</p>',
    );
  }
  if (timing) {
    parts.push(
      table(
        ['stage', 'runs on', 'nodes', 'busy s', 'calls', 'ms / call', '% of run'],
        timing.timing.map((t) => [
          escapeHtml(t.id),
          t.placement === 'worker' ? 'tensor worker' : 'main thread',
          escapeHtml(t.nodes.join(', ')),
          t.seconds.toFixed(2),
          `${t.calls}`,
          ((1000 * t.seconds) / Math.max(1, t.calls)).toFixed(1),
          timing.seconds > 0 ? ((100 * t.seconds) / timing.seconds).toFixed(0) : '',
        ]),
      ),
      '<p>Time each stage was busy (stages overlap: main-thread nodes prepare the next batch while the worker trains on this one). A worker segment runs its nodes as one step under one gradient tape, so it is timed as a whole; regrouping nodes (batching) are not timed.</p>',
    );
  }
  return parts.join('\n') || '<p>no timing yet (the run has not finished, or its events carry no timestamps)</p>';
}

export const REPORT_STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1a1a1a; max-width: 1500px; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f3f3f3; }
table.config th, table.config td { text-align: left; vertical-align: top; }
table.config code { white-space: pre-wrap; word-break: break-all; }
tr.best td { background: #e8f5e9; font-weight: 600; }
pre { background: #f7f7f7; padding: 0.5rem; margin: 0.3rem 0; white-space: pre-wrap; font-size: 0.8rem; }
figure { margin: 0.5rem 0; }
.charts { display: flex; flex-wrap: wrap; gap: 0.75rem; }
figure.chart { border: 1px solid #e3e3e3; border-radius: 4px; background: #fff; }
.graph { overflow-x: auto; }
.graph svg { max-width: 100%; height: auto; }
.gallery { display: flex; flex-direction: column; gap: 0.6rem; }
figure.sample { margin: 0; }
.panels { display: flex; gap: 4px; }
.ramp { display: inline-block; width: 6em; height: 0.9em; margin: 0 0.3em; vertical-align: middle; border: 1px solid #777; }
.panels img { width: 128px; height: auto; image-rendering: pixelated; border: 1px solid #ccc; }
figcaption { font-size: 0.8rem; color: #444; margin-top: 2px; }
.legend { font-size: 0.85rem; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin: 0 0.3em 0 0.9em; vertical-align: middle; border: 1px solid #777; }
`;

export async function runReport(compiled: CompiledGraph, events: readonly LoggedEvent[], context: ReportContext = {}): Promise<string> {
  const best = bestEpoch(events);
  const control = context.record?.control;
  const { names } = metricTable(events);
  const checkpoints = events.filter((e): e is Extract<RunEvent, { type: 'checkpoint' }> => e.type === 'checkpoint');
  // The best epoch's pictures, else the last validated; a multi-task gallery shows per-task columns.
  const pick = <R extends { epoch: number }>(records: readonly R[]) => (best !== undefined ? records.filter((g) => g.epoch === best).at(-1) : undefined) ?? records.at(-1);
  const noteOf = (r: { epoch: number; split: string; items: readonly unknown[] }) =>
    `${r.items.length} ${r.split} image${r.items.length === 1 ? '' : 's'} of epoch ${r.epoch + 1}${r.epoch === best ? ` (the best${control ? ` by ${control.split} ${control.monitor}` : ''})` : ' (the last validated; no best epoch yet)'}`;
  const [shown, multitask] = [pick(galleriesOf(events)), pick(multitaskGalleriesOf(events))];
  const sections = [...(shown ? [await galleryHtml(shown, noteOf(shown))] : []), ...(multitask ? [multitaskGalleryHtml(multitask, noteOf(multitask))] : [])];
  const gallery = sections.join('\n') || '<p>no gallery: add a report/gallery node to the graph to keep validation images</p>';
  const logs = events
    .filter((e) => e.type === 'log' || e.type === 'warning')
    .map((e) => `<pre>${escapeHtml(`${e.type === 'warning' ? 'warning ' : ''}${e.node ? `[${e.node}] ` : ''}${e.message}`)}</pre>`);
  const name = escapeHtml(compiled.graph.name);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${name} · samflow run</title>
<style>${REPORT_STYLE}</style>
</head>
<body>
<h1>${name}</h1>
<p>${escapeHtml(statusLine(events))}</p>
<h2>Run</h2>
${configSection(context)}
<h2>Curves</h2>
${curvesSection(events, best, names)}
<h2>Metrics (mean per split and epoch)</h2>
${metricsSection(events, best, control?.monitor, control?.split)}
<h2>Gallery</h2>
${gallery}
${deltaSection(compiled, events, best)}
${usageSection(events, best)}
<h2>Speed</h2>
${speedSection(events)}
<h2>Checkpoints</h2>
${checkpoints.length ? `${table(['epoch', 'update', 'when written', 'folder'], checkpoints.map((c) => [`${c.epoch + 1}`, `${c.step}`, escapeHtml(c.tags.join(', ')), escapeHtml(c.path)]))}<p>Only the best by the monitored metric and the last are kept (checkpoints/best.json, last.json).</p>` : '<p>no checkpoint was written</p>'}
<h2>Graph</h2>
<figure class="graph">${await toSvg(exportModel(compiled))}</figure>
<h2>Log</h2>
${logs.join('\n') || '<p>nothing was logged</p>'}
</body>
</html>
`;
}
