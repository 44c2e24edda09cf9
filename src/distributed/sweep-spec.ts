/**
 * A sweep's spec: pipelines, each with fixed options and a grid of options to vary (methods,
 * data sets, seeds, lrs: any of the pipeline's options), expanded into one run per combination.
 *
 * ```json
 * {
 *   "out": "sweeps/polyp",
 *   "pipelines": [
 *     { "pipeline": "conv-lora-binary", "options": { "epochs": 20 },
 *       "grid": { "method": ["conv-lora", "lora"], "data": ["/data/kvasir", "/data/isic"], "seed": [0, 1], "lr": [1e-4, 3e-4] } }
 *   ]
 * }
 * ```
 *
 * Each run's folder is `<out>/<name>`, its name made of the pipeline and the grid's values.
 * `out` is relative to the spec's folder; options are passed to the pipeline as written, so
 * paths in them should be absolute when workers on other machines run them.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { z } from 'zod';
import { parseOptions, resolvePipeline } from '../api/pipeline.ts';
import type { RunJob } from './queues.ts';

const PipelineRuns = z
  .object({
    pipeline: z.string().min(1).describe('a built-in pipeline name or a pipeline module path'),
    options: z.record(z.string(), z.unknown()).default({}),
    grid: z.record(z.string(), z.array(z.unknown()).min(1, 'a grid option needs at least one value')).default({}),
    control: z.record(z.string(), z.unknown()).optional().describe('training control overrides: monitor, mode, patience, ...'),
  })
  .strict();

export const SweepSpec = z
  .object({
    out: z.string().min(1).optional(),
    /** The metric the summary ranks by (default: each pipeline's monitored metric). */
    monitor: z.string().min(1).optional(),
    mode: z.enum(['max', 'min']).optional(),
    pipelines: z.array(PipelineRuns).min(1),
  })
  .strict();
export type SweepSpec = z.output<typeof SweepSpec>;

export interface ExpandedSweep {
  readonly spec: SweepSpec;
  readonly out: string;
  readonly runs: readonly RunJob[];
}

export function readSweepSpec(path: string): SweepSpec {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such sweep spec' : `not valid JSON (${error instanceof Error ? error.message : String(error)})`}`);
  }
  const parsed = SweepSpec.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `'${i.path.join('.') || '(spec)'}': ${i.message}`).join('; ');
    throw new Error(`${path}: not a sweep spec: ${problems}. Expected {"out": DIR, "pipelines": [{"pipeline": NAME, "options": {...}, "grid": {"option": [values...]}}]}`);
  }
  return parsed.data;
}

function combinations(grid: Record<string, readonly unknown[]>): Record<string, unknown>[] {
  return Object.entries(grid).reduce<Record<string, unknown>[]>((sets, [key, values]) => sets.flatMap((set) => values.map((v) => ({ ...set, [key]: v }))), [{}]);
}

/** A grid value as part of a folder name: a path's last part, a number as written. */
function label(value: unknown): string {
  const text = typeof value === 'string' ? basename(value) : JSON.stringify(value);
  return text.replace(/[^\w.+-]+/g, '_').slice(0, 40);
}

export async function expandSweep(path: string, outOverride?: string): Promise<ExpandedSweep> {
  const spec = readSweepSpec(path);
  const outGiven = outOverride ?? (spec.out !== undefined ? resolve(dirname(path), spec.out) : undefined);
  if (!outGiven) throw new Error(`${path}: no output folder: give "out" in the spec or --out`);
  const out = resolve(outGiven);
  const runs: RunJob[] = [];
  const taken = new Set<string>();
  for (const [index, entry] of spec.pipelines.entries()) {
    const pipeline = await resolvePipeline(entry.pipeline).catch((error: unknown) => {
      throw new Error(`${path}: pipelines[${index}]: ${error instanceof Error ? error.message : String(error)}`);
    });
    const overlap = Object.keys(entry.grid).filter((k) => k in entry.options);
    if (overlap.length) throw new Error(`${path}: pipelines[${index}]: ${overlap.join(', ')} both fixed in "options" and varied in "grid"; keep each in one`);
    for (const combo of combinations(entry.grid)) {
      const base = [pipeline.name, ...Object.entries(combo).map(([k, v]) => `${k}-${label(v)}`)].join('_');
      let name = base;
      for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
      taken.add(name);
      const options = { ...entry.options, ...combo };
      try {
        parseOptions(pipeline, options);
      } catch (error) {
        throw new Error(`${path}: run '${name}': ${error instanceof Error ? error.message : String(error)}`);
      }
      runs.push({ name, dir: resolve(out, name), pipeline: pipeline.module ?? pipeline.name, options, ...(entry.control ? { control: entry.control } : {}) });
    }
  }
  return { spec, out, runs };
}
