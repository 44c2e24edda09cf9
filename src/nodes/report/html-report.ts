/**
 * The run report: one self-contained HTML page (no scripts, no network) built from a run's
 * events and its graph: status and timing, the graph picture, training and validation loss
 * curves, the mean of every metric per split and epoch, and the runs' log lines (the PEFT
 * report, expert usage, warnings).
 */
import type { CompiledGraph } from '../../graph/compile.ts';
import type { RunEvent } from '../../graph/events.ts';
import { escapeHtml, exportModel, toSvg } from '../../graph/export/index.ts';

type Metric = Extract<RunEvent, { type: 'metric' }>;

/** Mean of each (split, epoch, metric) over the run's metric events. */
export function metricTable(events: readonly RunEvent[]): { rows: { split: string; epoch: number; values: Map<string, number> }[]; names: string[] } {
  const sums = new Map<string, { split: string; epoch: number; values: Map<string, { sum: number; n: number }> }>();
  const names = new Set<string>();
  for (const e of events) {
    if (e.type !== 'metric' || e.epoch === undefined || e.split === undefined) continue;
    names.add(e.name);
    const key = `${e.epoch}\u0000${e.split}`;
    const row = sums.get(key) ?? { split: e.split, epoch: e.epoch, values: new Map() };
    sums.set(key, row);
    const v = row.values.get(e.name) ?? { sum: 0, n: 0 };
    row.values.set(e.name, { sum: v.sum + e.value, n: v.n + 1 });
  }
  const rows = [...sums.values()]
    .sort((a, b) => a.epoch - b.epoch || a.split.localeCompare(b.split))
    .map((r) => ({ split: r.split, epoch: r.epoch, values: new Map([...r.values].map(([k, v]) => [k, v.sum / v.n])) }));
  return { rows, names: [...names].sort() };
}

/** A line chart as inline SVG: one polyline per series, axes labelled with their ranges. */
export function lineChart(series: readonly { name: string; colour: string; points: readonly [number, number][] }[], title: string): string {
  const all = series.flatMap((s) => s.points);
  if (!all.length) return '';
  const [w, h, pad] = [640, 240, 40];
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) || 1];
  const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys) || 1];
  const sx = (x: number) => pad + ((x - x0) / (x1 - x0 || 1)) * (w - 2 * pad);
  const sy = (y: number) => h - pad - ((y - y0) / (y1 - y0 || 1)) * (h - 2 * pad);
  const lines = series
    .filter((s) => s.points.length)
    .map((s) => `<polyline fill="none" stroke="${s.colour}" stroke-width="1.5" points="${s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"><title>${escapeHtml(s.name)}</title></polyline>`);
  const legend = series.map((s, i) => `<text x="${pad + 140 * i}" y="16" fill="${s.colour}" font-size="12">■ ${escapeHtml(s.name)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="${escapeHtml(title)}">
<rect x="${pad}" y="${pad}" width="${w - 2 * pad}" height="${h - 2 * pad}" fill="none" stroke="#ccc"/>
<text x="${pad}" y="${h - 12}" font-size="11">step ${x0}</text><text x="${w - pad}" y="${h - 12}" font-size="11" text-anchor="end">${x1}</text>
<text x="4" y="${pad + 4}" font-size="11">${y1.toPrecision(3)}</text><text x="4" y="${h - pad}" font-size="11">${y0.toPrecision(3)}</text>
${legend.join('\n')}
${lines.join('\n')}
</svg>`;
}

export async function runReport(compiled: CompiledGraph, events: readonly RunEvent[]): Promise<string> {
  // A resumed run's events hold one started … finished stretch per attempt: the status is the last one's.
  const lastStart = events.map((e) => e.type).lastIndexOf('started');
  const started = events[lastStart];
  const end = events.slice(Math.max(0, lastStart)).find((e) => e.type === 'finished' || e.type === 'failed');
  const checkpoints = events.filter((e): e is Extract<RunEvent, { type: 'checkpoint' }> => e.type === 'checkpoint');
  const attempts = events.filter((e) => e.type === 'started').length;
  const status =
    (end?.type === 'finished'
      ? `finished: ${end.items} items in ${end.seconds.toFixed(1)} s${end.stopped ? ` (stopped: ${end.stopped})` : ''}`
      : end?.type === 'failed'
        ? `FAILED: ${end.error}`
        : `running, or killed${checkpoints.length ? `: last checkpoint ${checkpoints.at(-1)!.path} (epoch ${checkpoints.at(-1)!.epoch + 1})` : ' before its first checkpoint'}`) +
    (attempts > 1 ? ` · resumed ${attempts - 1} time(s)` : '');
  const losses = events.filter((e): e is Metric => e.type === 'metric' && e.name === 'loss');
  const train = losses.filter((e) => e.split === 'train' && e.step !== undefined).map((e): [number, number] => [e.step!, e.value]);
  // Validation loss per epoch, placed at the training step reached by then.
  const { rows, names } = metricTable(events);
  const lastStep = new Map<number, number>();
  for (const e of losses) if (e.split === 'train' && e.epoch !== undefined && e.step !== undefined) lastStep.set(e.epoch, e.step);
  const val = rows.filter((r) => r.split !== 'train' && r.values.has('loss')).map((r): [number, number] => [lastStep.get(r.epoch) ?? r.epoch, r.values.get('loss')!]);
  const chart = lineChart(
    [
      { name: 'train loss (per step)', colour: '#4a6fa5', points: train },
      { name: 'validation loss (per epoch)', colour: '#b26a00', points: val },
    ],
    'loss curves',
  );
  const table = [
    '<table><thead><tr><th>epoch</th><th>split</th>',
    ...names.map((n) => `<th>${escapeHtml(n)}</th>`),
    '</tr></thead><tbody>',
    ...rows.map((r) => `<tr><td>${r.epoch + 1}</td><td>${escapeHtml(r.split)}</td>${names.map((n) => `<td>${r.values.has(n) ? r.values.get(n)!.toFixed(4) : ''}</td>`).join('')}</tr>`),
    '</tbody></table>',
  ].join('');
  const logs = events
    .filter((e) => e.type === 'log' || e.type === 'warning')
    .map((e) => `<pre>${escapeHtml(`${e.type === 'warning' ? 'warning ' : ''}${e.node ? `[${e.node}] ` : ''}${e.message}`)}</pre>`);
  const name = escapeHtml(compiled.graph.name);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${name} · samflow run</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1a1a1a; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f3f3f3; }
pre { background: #f7f7f7; padding: 0.5rem; margin: 0.3rem 0; white-space: pre-wrap; }
figure { margin: 1rem 0; overflow-x: auto; }
</style>
</head>
<body>
<h1>${name}</h1>
<p>${escapeHtml(status)}${started?.type === 'started' && started.backend ? ` · backend ${escapeHtml(started.backend)}` : ''}</p>
<h2>Loss</h2>
<figure>${chart || '<p>no loss was reported</p>'}</figure>
<h2>Metrics (mean per split and epoch)</h2>
${rows.length ? table : '<p>no metrics were reported</p>'}
<h2>Checkpoints</h2>
${checkpoints.length ? `<table><thead><tr><th>epoch</th><th>update</th><th>when written</th><th>folder</th></tr></thead><tbody>${checkpoints.map((c) => `<tr><td>${c.epoch + 1}</td><td>${c.step}</td><td>${escapeHtml(c.tags.join(', '))}</td><td>${escapeHtml(c.path)}</td></tr>`).join('')}</tbody></table><p>Only the best by the monitored metric and the last are kept (checkpoints/best.json, last.json).</p>` : '<p>no checkpoint was written</p>'}
<h2>Graph</h2>
<figure>${await toSvg(exportModel(compiled))}</figure>
<h2>Log</h2>
${logs.join('\n') || '<p>nothing was logged</p>'}
</body>
</html>
`;
}
