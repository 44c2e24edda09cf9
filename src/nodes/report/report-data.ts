/**
 * What the run report shows, read off a run's events (pure functions, no HTML): mean metrics per
 * (split, epoch), curves over epochs, the best epoch, expert usage, Δm against a baseline, and
 * throughput from the timestamps the run's record carries (events.jsonl lines have `time`).
 */
import type { RunEvent, StageTiming } from '../../graph/events.ts';
import { deltaM, HIGHER_IS_BETTER } from '../metrics/delta-m.ts';

/** An event as recorded in events.jsonl: with the time it was written (ISO 8601). */
export type LoggedEvent = RunEvent & { readonly time?: string };

type Metric = Extract<RunEvent, { type: 'metric' }>;
const isMetric = (e: RunEvent): e is Metric => e.type === 'metric';

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
  // numbers in names in numeric order: iou/2 before iou/10
  return { rows, names: [...names].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })) };
}

/** The mean of metric `name` on `split` per epoch, at x = epoch number (1-based: the end of that epoch). */
export function epochCurve(events: readonly RunEvent[], name: string, split: string): [number, number][] {
  return metricTable(events.filter((e) => isMetric(e) && e.name === name && e.split === split))
    .rows.map((r): [number, number] => [r.epoch + 1, r.values.get(name)!])
    .filter(([, v]) => Number.isFinite(v));
}

/** Metric `name` of every step on `split`, spread evenly over its epoch (epoch e's steps lie in (e, e + 1]). */
export function stepCurve(events: readonly RunEvent[], name: string, split = 'train'): [number, number][] {
  const perEpoch = new Map<number, number[]>();
  for (const e of events) {
    if (!isMetric(e) || e.name !== name || e.split !== split || e.step === undefined || e.epoch === undefined) continue;
    perEpoch.set(e.epoch, [...(perEpoch.get(e.epoch) ?? []), e.value]);
  }
  return [...perEpoch]
    .sort(([a], [b]) => a - b)
    .flatMap(([epoch, values]) => values.map((v, i): [number, number] => [epoch + (i + 1) / values.length, v]))
    .filter(([, v]) => Number.isFinite(v));
}

/** The epoch (0-based) of the latest checkpoint tagged best, if any. */
export function bestEpoch(events: readonly RunEvent[]): number | undefined {
  return events.filter((e): e is Extract<RunEvent, { type: 'checkpoint' }> => e.type === 'checkpoint' && e.tags.includes('best')).at(-1)?.epoch;
}

export interface UsageRecord {
  readonly split: string;
  readonly epoch: number;
  /** Per layer, how often each expert was chosen over the group. */
  readonly usage: Readonly<Record<string, readonly number[]>>;
}

/** Expert-usage logs (Conv-LoRA's gates report them per split and epoch), in order. */
export function expertUsage(events: readonly RunEvent[]): UsageRecord[] {
  return events.flatMap((e) => {
    if (e.type !== 'log' || typeof e.data !== 'object' || e.data === null) return [];
    const d = e.data as Partial<UsageRecord>;
    const usage = d.usage;
    if (typeof d.split !== 'string' || typeof d.epoch !== 'number' || typeof usage !== 'object' || usage === null) return [];
    if (!Object.values(usage).every((v) => Array.isArray(v) && v.every((n) => typeof n === 'number'))) return [];
    return [{ split: d.split, epoch: d.epoch, usage }];
  });
}

export interface Throughput {
  readonly split: string;
  readonly items: number;
  readonly seconds: number;
}

/**
 * Images per split and the time they took, from the progress events' timestamps: each progress
 * event's new items and the time since the one before belong to its split. The first batch of
 * each attempt is left out: it holds the worker's start and the first kernel compilations.
 */
export function throughput(events: readonly LoggedEvent[]): Throughput[] {
  const totals = new Map<string, { items: number; ms: number }>();
  let last: { items: number; at: number } | undefined;
  let warm = false;
  for (const e of events) {
    const at = e.time !== undefined ? Date.parse(e.time) : NaN;
    if (e.type === 'started') {
      last = undefined;
      warm = false;
    }
    if (e.type !== 'progress' || !Number.isFinite(at)) continue;
    if (last && warm) {
      const t = totals.get(e.split) ?? { items: 0, ms: 0 };
      t.items += e.items - last.items;
      t.ms += at - last.at;
      totals.set(e.split, t);
    }
    warm = true;
    last = { items: e.items, at };
  }
  return [...totals].map(([split, t]) => ({ split, items: t.items, seconds: t.ms / 1000 }));
}

/** The per-stage timing of the last finished attempt, if the run got that far. */
export function stageTiming(events: readonly RunEvent[]): { timing: readonly StageTiming[]; seconds: number } | undefined {
  const end = events.filter((e): e is Extract<RunEvent, { type: 'finished' }> => e.type === 'finished').at(-1);
  return end?.timing ? { timing: end.timing, seconds: end.seconds } : undefined;
}

export interface DeltaRow {
  readonly task: string;
  readonly metric: string;
  readonly baseline: number;
  readonly value: number;
  /** Signed relative change in % (+ = better); undefined where the baseline is 0 (left out of Δm, as eval does). */
  readonly change: number | undefined;
}

/**
 * This run's metrics on `split` at `epoch` (default: the last epoch with metrics there) against
 * a baseline's: per metric its relative change, per task their mean, and Δm over the tasks
 * (delta-m.ts, LibMTL's task mean: what the metrics node logs as delta_m).
 */
export function deltaTable(
  events: readonly RunEvent[],
  baseline: Readonly<Record<string, number>>,
  split: string,
  epoch?: number,
): { epoch: number; rows: DeltaRow[]; tasks: Map<string, number>; deltaM: number | undefined } | undefined {
  const rows = metricTable(events).rows.filter((r) => r.split === split && [...r.values.keys()].some((k) => k in HIGHER_IS_BETTER));
  const row = (epoch !== undefined ? rows.find((r) => r.epoch === epoch) : undefined) ?? rows.at(-1);
  if (!row) return undefined;
  const out: DeltaRow[] = [];
  for (const [metric, value] of row.values) {
    if (!(metric in HIGHER_IS_BETTER) || !(metric in baseline)) continue;
    const b = baseline[metric]!;
    const change = b === 0 ? undefined : (100 * (HIGHER_IS_BETTER[metric] ? 1 : -1) * (value - b)) / b;
    out.push({ task: metric.slice(0, metric.indexOf('/')), metric, baseline: b, value, change });
  }
  const tasks = new Map<string, number>();
  for (const task of new Set(out.map((r) => r.task))) {
    const changes = out.filter((r) => r.task === task && r.change !== undefined).map((r) => r.change!);
    if (changes.length) tasks.set(task, changes.reduce((a, c) => a + c, 0) / changes.length);
  }
  const scored = out.filter((r) => r.change !== undefined);
  const value = scored.length ? deltaM(Object.fromEntries(scored.map((r) => [r.metric, r.value])), baseline) : undefined;
  return { epoch: row.epoch, rows: out.sort((a, b) => a.metric.localeCompare(b.metric)), tasks, deltaM: value };
}
