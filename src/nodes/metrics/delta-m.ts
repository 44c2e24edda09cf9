/**
 * Δm, the average relative improvement of a multi-task model over a baseline run (in %):
 *
 *   Δm = 100 · (1/T) Σ_t (1/M_t) Σ_m s_m · (N_m − B_m) / B_m,   s_m = +1 if higher is better, −1 if lower
 *
 * over the tasks t present in both runs (a metric's task is its name's prefix before '/').
 * This is LibMTL's `count_improvement` (task-averaged), the form the TA-LoRA/MTSAM authors'
 * group uses, with B the single-task baseline (LoRA-STL). `form: 'metric-mean'` instead
 * averages all metrics with equal weight (Maninis et al.'s variant), which gives different
 * numbers; say which one a table uses.
 *
 * The baseline is a named earlier run: a run folder (its events.jsonl), an events.jsonl file,
 * or a JSON file `{ "name": ..., "metrics": { "seg/miou": 0.5, ... } }`.
 *
 * ```ts
 * deltaM({ 'seg/miou': 0.52, 'depth/abs_err': 0.38 }, { 'seg/miou': 0.50, 'depth/abs_err': 0.40 }); // 4.5
 * ```
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Whether a higher value is better, for the metric names samflow emits. */
export const HIGHER_IS_BETTER: Readonly<Record<string, boolean>> = {
  'seg/miou': true,
  'seg/pixel_accuracy': true,
  'depth/abs_err': false,
  'depth/rel_err': false,
  'normal/mean': false,
  'normal/median': false,
  'normal/within_11.25': true,
  'normal/within_22.5': true,
  'normal/within_30': true,
};

export type DeltaForm = 'task-mean' | 'metric-mean';

export function deltaM(
  current: Readonly<Record<string, number>>,
  baseline: Readonly<Record<string, number>>,
  options: { form?: DeltaForm; higherIsBetter?: Readonly<Record<string, boolean>> } = {},
): number {
  const higher = options.higherIsBetter ?? HIGHER_IS_BETTER;
  const names = Object.keys(current).filter((name) => name in higher);
  if (names.length === 0) throw new Error(`deltaM: none of the metrics (${Object.keys(current).join(', ') || 'none'}) has a known direction`);
  const missing = names.filter((name) => !(name in baseline));
  if (missing.length) throw new Error(`deltaM: the baseline has no value for ${missing.join(', ')}`);
  const terms = new Map<string, number[]>();
  for (const name of names) {
    const b = baseline[name]!;
    if (b === 0) throw new Error(`deltaM: the baseline's ${name} is 0, so a relative change is undefined`);
    const sign = higher[name] ? 1 : -1;
    const task = name.includes('/') ? name.slice(0, name.indexOf('/')) : name;
    terms.set(task, [...(terms.get(task) ?? []), (sign * (current[name]! - b)) / b]);
  }
  const mean = (v: number[]) => v.reduce((a, c) => a + c, 0) / v.length;
  const value = options.form === 'metric-mean' ? mean([...terms.values()].flat()) : mean([...terms.values()].map(mean));
  return 100 * value;
}

export interface BaselineRun {
  readonly name: string;
  readonly metrics: Readonly<Record<string, number>>;
}

/**
 * Reads a baseline's final metrics: from a run's events (the last value of each metric on
 * `split`) or from a JSON file with a `metrics` object.
 */
export function readBaseline(path: string, split = 'test'): BaselineRun {
  if (!existsSync(path)) throw new Error(`baseline ${path}: no such file or folder`);
  const file = statSync(path).isDirectory() ? join(path, 'events.jsonl') : path;
  if (!existsSync(file)) throw new Error(`baseline ${path}: the folder has no events.jsonl (is it a samflow run folder?)`);
  const text = readFileSync(file, 'utf8');
  if (file.endsWith('.jsonl')) {
    const metrics: Record<string, number> = {};
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      let event: { type?: string; name?: string; value?: number; split?: string };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        throw new Error(`baseline ${file}: line ${i + 1} is not JSON`);
      }
      if (event.type === 'metric' && event.split === split && typeof event.name === 'string' && typeof event.value === 'number') {
        metrics[event.name] = event.value;
      }
    });
    if (Object.keys(metrics).length === 0) throw new Error(`baseline ${file}: no metric events on split '${split}'`);
    return { name: path, metrics };
  }
  let json: { name?: unknown; metrics?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    throw new Error(`baseline ${file}: not JSON`);
  }
  const metrics = json.metrics;
  if (typeof metrics !== 'object' || metrics === null || !Object.values(metrics).every((v) => typeof v === 'number')) {
    throw new Error(`baseline ${file}: expected { "name": ..., "metrics": { "<metric>": <number>, ... } }`);
  }
  return { name: typeof json.name === 'string' ? json.name : path, metrics: metrics as Record<string, number> };
}
