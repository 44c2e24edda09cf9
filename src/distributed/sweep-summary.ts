/**
 * A sweep's results, best first: a text table for the terminal, summary.json and summary.html
 * (one row per run, linking its report) in the sweep's folder, written by rename so a reader
 * never sees half a file.
 */
import { join, relative } from 'node:path';
import { writeAtomically } from '../api/run-folder.ts';
import type { SweepRunResult } from './sweep-run.ts';

export interface Ranking {
  readonly metric: string;
  readonly mode: 'max' | 'min';
}

/** Done runs by the ranking metric (best value first), then runs without it, then failed ones. */
export function rankRuns(results: readonly SweepRunResult[], ranking: Ranking): SweepRunResult[] {
  const score = (r: SweepRunResult) => (r.best && r.monitor.name === ranking.metric ? r.best.value : r.metrics[ranking.metric]);
  const key = (r: SweepRunResult) => {
    const v = score(r);
    return r.status === 'failed' ? [2, 0] : v === undefined || Number.isNaN(v) ? [1, 0] : [0, ranking.mode === 'max' ? -v : v];
  };
  return [...results].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    return ka[0]! - kb[0]! || ka[1]! - kb[1]! || a.name.localeCompare(b.name);
  });
}

function columnsOf(results: readonly SweepRunResult[], ranking: Ranking): string[] {
  const names = new Set<string>();
  for (const r of results) for (const name of Object.keys(r.metrics)) names.add(name);
  names.delete(ranking.metric);
  return [ranking.metric, ...[...names].sort()];
}

const cell = (v: number | undefined) => (v === undefined ? '-' : Number.isNaN(v) ? 'NaN' : v.toFixed(4));

function valueOf(r: SweepRunResult, metric: string, ranking: Ranking): number | undefined {
  return metric === ranking.metric && r.best && r.monitor.name === metric ? r.best.value : r.metrics[metric];
}

export function summaryTable(ranked: readonly SweepRunResult[], ranking: Ranking): string {
  const metrics = columnsOf(ranked, ranking);
  const header = ['#', 'run', 'status', 'epoch', ...metrics];
  const rows = ranked.map((r, i) => [String(i + 1), r.name, r.status, r.best ? String(r.best.epoch + 1) : '-', ...metrics.map((m) => cell(valueOf(r, m, ranking)))]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (row: readonly string[]) => row.map((v, c) => (c < 3 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  const failures = ranked.filter((r) => r.error).map((r) => `  ${r.name}: ${r.error}`);
  return [`ranked by ${ranking.metric} (${ranking.mode === 'max' ? 'higher' : 'lower'} is better), best first; metrics at each run's best epoch`, line(header), ...rows.map(line), ...(failures.length ? ['failed:', ...failures] : [])].join('\n');
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function summaryHtml(ranked: readonly SweepRunResult[], ranking: Ranking, out: string): string {
  const metrics = columnsOf(ranked, ranking);
  const head = ['#', 'run', 'status', 'epoch', ...metrics].map((h) => `<th>${escape(h)}</th>`).join('');
  const body = ranked
    .map((r, i) => {
      const link = `<a href="${escape(relative(out, join(r.dir, 'report.html')))}">${escape(r.name)}</a>`;
      const cells = [String(i + 1), link, escape(r.status + (r.error ? `: ${r.error}` : '')), r.best ? String(r.best.epoch + 1) : '-', ...metrics.map((m) => cell(valueOf(r, m, ranking)))];
      return `<tr${i === 0 && r.status === 'done' ? ' class="best"' : ''}>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>samflow sweep: ${escape(out)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:right}td:nth-child(2),td:nth-child(3),th:nth-child(2),th:nth-child(3){text-align:left}tr.best{background:#eef8ee}</style>
</head><body>
<h1>Sweep ${escape(out)}</h1>
<p>${ranked.length} runs ranked by <b>${escape(ranking.metric)}</b> (${ranking.mode === 'max' ? 'higher' : 'lower'} is better), best first; metrics at each run's best epoch.</p>
<table><thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table>
</body></html>
`;
}

export function writeSummary(out: string, results: readonly SweepRunResult[], ranking: Ranking): { table: string; ranked: SweepRunResult[] } {
  const ranked = rankRuns(results, ranking);
  writeAtomically(join(out, 'summary.json'), `${JSON.stringify({ ranking, runs: ranked }, null, 2)}\n`);
  writeAtomically(join(out, 'summary.html'), summaryHtml(ranked, ranking, out));
  return { table: summaryTable(ranked, ranking), ranked };
}
