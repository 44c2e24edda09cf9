/**
 * `evaluate` and `predict`: a trained run's checkpoint applied to other data, with nothing but
 * the run folder (its record says the pipeline and options) and, when the base weights moved,
 * their new path (checked against the base id the adapter was trained on).
 *
 * - evaluate writes `RUN/eval/<name>/metrics.json` (means over the images) and `per-image.csv`,
 *   into a temporary folder renamed when complete; an existing evaluation is never replaced.
 * - predict writes one mask PNG per image at the image's own size into `out`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { Observable } from 'rxjs';
import type { RunEvent } from '../graph/events.ts';
import type { Graph } from '../graph/graph.ts';
import { detectLayout } from '../nodes/data/detect-layout.ts';
import { deltaM, type BaselineRun } from '../nodes/metrics/delta-m.ts';
import { runGraph } from './run-graph.ts';
import { buildGraph, resolvePipeline, type PipelineEntry } from './pipeline.ts';
import { RunFolder } from './run-folder.ts';

interface FromRun {
  /** The run folder. */
  readonly run: string;
  /** 'best' (default; 'last' when the run has no best), 'last' or a checkpoint's name. */
  readonly checkpoint?: string;
  /** Where the base SAM weights are now, if they moved since training. */
  readonly baseCheckpoint?: string;
  /** Pipeline options to change for this use only (the reader's skipUnpaired, resizeMasks, ... for another folder). */
  readonly set?: Record<string, unknown>;
  readonly backend?: string;
}

/** The run's options with `set` over them, each checked against its field of the pipeline's schema. */
function withOverrides(entry: PipelineEntry, options: Record<string, unknown>, set: Record<string, unknown>): Record<string, unknown> {
  const shape = entry.options.shape as Record<string, { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } }>;
  for (const [key, value] of Object.entries(set)) {
    const field = shape[key];
    if (!field) throw new Error(`--set ${key}: pipeline '${entry.name}' has no option '${key}' (its options: ${Object.keys(shape).join(', ')})`);
    const parsed = field.safeParse(value);
    if (!parsed.success) throw new Error(`--set ${key}=${JSON.stringify(value)}: ${parsed.error!.issues.map((i) => i.message).join('; ')}`);
  }
  return { ...options, ...set };
}

export interface EvaluateRequest extends FromRun {
  readonly data: string;
  readonly split?: string;
  readonly metrics?: readonly string[];
  /** The evaluation's folder name under RUN/eval (default: the data folder's name, and the split). */
  readonly name?: string;
  /** A baseline run folder (e.g. LoRA-STL) evaluated on the same data and split: adds delta_m (%), Δm against its metrics. */
  readonly baseline?: string;
  /** Keep this many images with truth and prediction in the events (pipelines whose evaluation has a gallery). */
  readonly gallery?: number;
}

export interface PredictRequest extends FromRun {
  readonly images: string;
  readonly out: string;
  /** Write probabilities (0..255) instead of 0/255 masks. */
  readonly probs?: boolean;
  /** Class masks: also write colour/<name>.png. */
  readonly palette?: boolean;
}

export interface InferenceRun {
  /** What it writes: the evaluation folder, or the mask folder. */
  readonly dir: string;
  /** The checkpoint folder it applies. */
  readonly checkpoint: string;
  readonly events: Observable<RunEvent>;
}

async function fromRun(request: FromRun, use: 'evaluate' | 'predict') {
  const folder = RunFolder.open(request.run);
  const record = folder.record;
  if (record.pipeline.endsWith('.json')) {
    throw new Error(`${request.run} was run from the graph file ${record.pipeline}; ${use} needs a pipeline (a built-in name or a module) that says how to ${use}`);
  }
  const entry = await resolvePipeline(record.pipeline);
  if (!entry[use]) throw new Error(`pipeline '${entry.name}' (${record.pipeline}) has no ${use} graph`);
  const which = request.checkpoint ?? (folder.pointer('best') ? 'best' : 'last');
  const checkpoint = folder.checkpointDir(folder.resolveCheckpoint(which));
  const options = withOverrides(entry, record.options, request.set ?? {});
  if (request.baseCheckpoint) options.checkpoint = resolve(request.baseCheckpoint);
  else if (typeof options.checkpoint === 'string' && !existsSync(options.checkpoint)) {
    throw new Error(`the base checkpoint ${options.checkpoint} recorded in ${folder.path('run.json')} is not there; pass --base-checkpoint with where it is now (it is checked against the base the adapter was trained on)`);
  }
  return { folder, entry: entry as PipelineEntry & { module?: string }, checkpoint, options };
}

/**
 * What `--split` names: undefined (the pipeline picks the folder's only split or only test
 * split), a comma-separated list, or 'tests' for every split whose name starts with 'test' (the
 * paper's protocol: Kvasir and CVC-ClinicDB test sets of one folder). Unknown names are left to
 * the reader, which lists what exists.
 */
export function evaluationSplits(data: string, split: string | undefined): (string | undefined)[] {
  if (split === undefined) return [undefined];
  if (split !== 'tests') return split.split(',').map((s) => s.trim()).filter(Boolean);
  const names = detectLayout(data).splits.map((s) => s.name);
  const tests = names.filter((n) => n.startsWith('test'));
  if (!tests.length) throw new Error(`${data} has no test split (its splits: ${names.join(', ')}); name one with --split`);
  return tests;
}

const csvField = (v: unknown) => (typeof v === 'string' && /[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : String(v));

/** The split an evaluation graph reads: its data node's first (only) split. */
const evaluatedSplit = (graph: Graph) => (graph.nodes.find((n) => n.name === 'data')?.params as { splits?: string[] } | undefined)?.splits?.[0];

/** An evaluation's graph and what it reads, from the run folder (no output is checked: a distributed shard builds it too). */
export async function evaluationGraph(request: EvaluateRequest) {
  const { folder, entry, checkpoint, options } = await fromRun(request, 'evaluate');
  const graph = buildGraph(entry, () => entry.evaluate!(options, { data: request.data, checkpoint, ...(request.split ? { split: request.split } : {}), ...(request.metrics ? { metrics: request.metrics } : {}), ...(request.gallery ? { gallery: request.gallery } : {}) }));
  const split = evaluatedSplit(graph);
  return { folder, checkpoint, graph, split };
}

export type EvaluationPlan = Awaited<ReturnType<typeof evaluationGraph>> & { readonly dir: string; readonly data: string; readonly baseline?: BaselineRun };

/**
 * The metrics of `run`'s evaluation on the same data folder and split (its RUN/eval/<name>/metrics.json;
 * the latest if it has several), for Δm against it. Missing: an error saying how to make one.
 */
export function baselineEvaluation(run: string, data: string, split: string | undefined): BaselineRun {
  const root = RunFolder.open(run).path('eval');
  const found = (existsSync(root) ? readdirSync(root) : [])
    .map((name) => join(root, name, 'metrics.json'))
    .filter((file) => existsSync(file))
    .map((file) => ({ file, json: JSON.parse(readFileSync(file, 'utf8')) as { data?: string; split?: string; metrics?: Record<string, number> }, time: statSync(file).mtimeMs }));
  const match = found.filter((f) => f.json.data === resolve(data) && f.json.split === split).sort((a, b) => b.time - a.time)[0];
  if (!match?.json.metrics) {
    const have = found.map((f) => `${f.json.data} (${f.json.split ?? 'no split'})`).join(', ') || 'none';
    throw new Error(`--baseline ${run}: it has no evaluation on ${resolve(data)}${split ? ` split '${split}'` : ''} (its evaluations: ${have}); evaluate it first: samflow eval ${run} --data ${data}${split ? ` --split ${split}` : ''}`);
  }
  return { name: match.file, metrics: match.json.metrics };
}

/** The evaluation's graph and its folder RUN/eval/<name>, which must not exist yet. */
export async function planEvaluation(request: EvaluateRequest): Promise<EvaluationPlan> {
  const planned = await evaluationGraph(request);
  const { folder, split } = planned;
  const name = request.name ?? [basename(resolve(request.data)), split && split !== 'train' ? split.replaceAll('/', '-') : ''].filter(Boolean).join('-');
  const dir = folder.path('eval', name);
  if (existsSync(dir)) throw new Error(`${dir} exists: this run was already evaluated under the name '${name}'; give another --name`);
  const baseline = request.baseline ? baselineEvaluation(request.baseline, request.data, split) : undefined;
  return { ...planned, dir, data: request.data, ...(baseline ? { baseline } : {}) };
}

export async function evaluate(request: EvaluateRequest): Promise<InferenceRun> {
  const plan = await planEvaluation(request);
  return { dir: plan.dir, checkpoint: plan.checkpoint, events: recordEvaluation(plan, runGraph(plan.graph, request)) };
}

/** What an evaluation's record says it scored, and where it goes. */
export type RecordedEvaluation = Pick<EvaluationPlan, 'checkpoint' | 'split' | 'dir' | 'data' | 'baseline'> & { readonly folder: { readonly dir: string } };

/**
 * An evaluation graph that no run folder describes (the base weights alone, say) recorded like
 * `evaluate`'s: metrics.json and per-image.csv in `dir`, which must not exist yet; `subject`
 * stands for the run in the record.
 */
export function evaluateGraph(graph: Graph, target: { dir: string; data: string; subject: string; checkpoint: string; backend?: string }): InferenceRun {
  if (existsSync(target.dir)) throw new Error(`${target.dir} exists: an evaluation is never replaced; choose another folder`);
  const split = evaluatedSplit(graph);
  const plan: RecordedEvaluation = { folder: { dir: target.subject }, checkpoint: target.checkpoint, split, dir: target.dir, data: target.data };
  return { dir: target.dir, checkpoint: target.checkpoint, events: recordEvaluation(plan, runGraph(graph, target)) };
}

/**
 * Passes an evaluation's events on and, when they finish, writes metrics.json and per-image.csv
 * from them: the events of a local run, or those merged from a distributed one's shards.
 */
export function recordEvaluation(plan: RecordedEvaluation, source: Observable<RunEvent>): Observable<RunEvent> {
  const { folder, checkpoint, split, dir } = plan;
  return new Observable<RunEvent>((subscriber) => {
    const metrics: Record<string, number> = {};
    let rows: Record<string, unknown>[] = [];
    return source.subscribe({
      next: (event) => {
        if (event.type === 'metric') metrics[event.name] = event.value;
        if (event.type === 'log' && event.message.startsWith('per-image metrics')) {
          // In the data set's order (the pool finishes images in any order).
          rows = [...(event.data as { images: (Record<string, unknown> & { item: number; image: number })[] }).images].sort((a, b) => a.item - b.item || a.image - b.image);
        }
        subscriber.next(event);
        if (event.type !== 'finished') return;
        const partial = `${dir}.partial`;
        rmSync(partial, { recursive: true, force: true });
        mkdirSync(partial, { recursive: true });
        // Pipelines without per-image metrics (multi-class: dataset-wide confusion) count the items read.
        if (plan.baseline) {
          // A metric the baseline scores 0 has no relative change (LibMTL would divide by 0): left out, and said so.
          const zero = Object.keys(metrics).filter((k) => plan.baseline!.metrics[k] === 0);
          if (zero.length) subscriber.next({ type: 'warning', message: `delta_m leaves out ${zero.join(', ')}: the baseline ${plan.baseline.name} scores 0 there, so a relative change is undefined` });
          try {
            metrics.delta_m = deltaM(Object.fromEntries(Object.entries(metrics).filter(([k]) => !zero.includes(k))), plan.baseline.metrics);
          } catch (error) {
            subscriber.error(new Error(`--baseline: ${error instanceof Error ? error.message : String(error)}`));
            return;
          }
        }
        const result = { run: folder.dir, checkpoint, data: resolve(plan.data), split, images: rows.length || event.items, metrics, ...(plan.baseline ? { baseline: plan.baseline.name } : {}) };
        writeFileSync(join(partial, 'metrics.json'), `${JSON.stringify(result, null, 2)}\n`);
        const columns = ['id', ...Object.keys(metrics)];
        if (rows.length) writeFileSync(join(partial, 'per-image.csv'), [columns.join(','), ...rows.map((r) => columns.map((c) => csvField(r[c] ?? '')).join(','))].join('\n') + '\n');
        renameSync(partial, dir);
        subscriber.next({ type: 'log', message: `wrote ${dir}: metrics.json${rows.length ? `, per-image.csv (${rows.length} images)` : ''}`, data: result });
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
  });
}

/** Masks `out` already holds for these images: an error before any work, since none is overwritten. */
export function refuseExisting(images: string, out: string): void {
  if (!existsSync(out) || !existsSync(images)) return; // the image reader names a missing folder
  const stems = new Set(readdirSync(images).map((f) => basename(f, extname(f))));
  const taken = readdirSync(out).filter((f) => f.endsWith('.png') && stems.has(basename(f, '.png')));
  if (taken.length) {
    throw new Error(`${out} already holds ${taken.length} mask(s) for these images (${taken.slice(0, 3).join(', ')}${taken.length > 3 ? ', ...' : ''}); predict never overwrites: choose another --out`);
  }
}

/** A prediction's graph, writing into `request.out` (a distributed shard's is its staging folder). */
export async function predictionGraph(request: PredictRequest) {
  const { entry, checkpoint, options } = await fromRun(request, 'predict');
  const out = resolve(request.out);
  const graph = buildGraph(entry, () => entry.predict!(options, { images: request.images, out, checkpoint, probs: request.probs ?? false, palette: request.palette ?? false }));
  return { graph, checkpoint, out };
}

export async function predict(request: PredictRequest): Promise<InferenceRun> {
  const { graph, checkpoint, out } = await predictionGraph(request);
  refuseExisting(request.images, out);
  return { dir: out, checkpoint, events: runGraph(graph, request) };
}
