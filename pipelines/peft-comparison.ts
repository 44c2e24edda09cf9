/**
 * The main job (`npm start`, `samflow compare`): PEFT methods compared the way the papers do,
 * from one pretrained base. The base is the project's own pretrained small SAM (sam-pretrain,
 * cached) or real SAM weights (`checkpoint`); the data a domain-shifted synthetic binary set
 * written to disk as paired folders (reddish blobs among blue-green distractors over textured,
 * hue-shifted backgrounds: another look and another task than the generic scenes the base was
 * pre-trained on) or a real data set folder (`data`). Each method is fine-tuned with
 * conv-lora-binary at the same budget and seed into its own run folder; each run's best
 * checkpoint and the base without fine-tuning (its promptless forward) are evaluated on the
 * held-out test split; one table and one report compare them, linking each run's report.
 *
 * Everything is checked before the first run starts (the output folder, the data folder's layout,
 * the base checkpoint, the methods), and nothing is overwritten: the comparison's folder must be new.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { evaluate, evaluateGraph } from '../src/api/inference.ts';
import { RunFolder, writeAtomically } from '../src/api/run-folder.ts';
import { collectRun } from '../src/api/run-graph.ts';
import { train } from '../src/api/training.ts';
import type { RunEvent } from '../src/graph/events.ts';
import { ADAPTER_METHODS, type AdapterMethodName } from '../src/nodes/adapters/config.ts';
import { detectLayout } from '../src/nodes/data/detect-layout.ts';
import { writeSyntheticFolders, type SyntheticFolderSettings } from '../src/nodes/data/synthetic-folders.ts';
import type { BinaryMetricName } from '../src/nodes/metrics/binary-metrics.ts';
import { galleriesOf, type GalleryRecord } from '../src/nodes/report/gallery-data.ts';
import { comparisonHtml, comparisonTable, type ComparedRow } from '../src/nodes/report/comparison-report.ts';
import { samConfigFromArg } from '../src/nodes/sam/config.ts';
import { convLoraBinaryEvaluateBase, requireCheckpointFile } from './conv-lora-binary.ts';
import { pretrainedBase, type BaseQuality } from './sam-pretrain-base.ts';
import type { SamPretrainOptions } from './sam-pretrain.ts';

/** Conv-LoRA against the baselines its paper compares first. */
export const DEFAULT_METHODS: readonly AdapterMethodName[] = ['conv-lora', 'lora', 'decoder-only'];

/** The metrics of the table: the Conv-LoRA paper's binary benchmarks. */
export const COMPARED_METRICS: readonly BinaryMetricName[] = ['iou', 'dice', 'sm', 'em', 'wfm', 'mae'];

/**
 * The built-in job's data: 64 px like the base, another look (textures, a hue turn, rougher
 * outlines) and another task (only the reddish kind of object, not every object).
 */
export const SYNTHETIC_TARGET: SyntheticFolderSettings = {
  size: 64,
  splits: { train: 160, val: 32, test: 64 },
  seed: 7,
  domain: { texture: 0.6, colour: 0.35, shape: 0.4 },
};

/**
 * The fine-tuning budget on the built-in base, the same for every method: conv-lora-binary's small
 * recipe (constant lr, batch 4) at a rate that suits pretrained weights. With real weights
 * (`checkpoint`) the paper's recipe applies unless the request says otherwise.
 */
export const BUILT_IN_BUDGET = { recipe: 'small', epochs: 8, lr: 2e-3, batchSize: 4 } as const;

/** Images of the test split shown per method in the report. */
const GALLERY = 6;

export interface ComparisonRequest {
  /** The comparison's folder (default runs/compare-<time>); it must not exist. */
  readonly out?: string;
  /** A binary data set folder; default: the built-in domain-shifted synthetic set, written to <out>/data. */
  readonly data?: string;
  /** Base SAM weights; default: the project's pretrained small base (built on first use, cached). */
  readonly checkpoint?: string;
  /** The checkpoint's architecture (a preset or an arch .json); default: arch.json beside the checkpoint. */
  readonly arch?: string;
  readonly methods?: readonly AdapterMethodName[];
  /** Other conv-lora-binary options for every run (epochs, lr, batchSize, seed, imageSize, reader options, ...). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** The built-in set's sizes and look, instead of SYNTHETIC_TARGET's. */
  readonly synthetic?: Partial<SyntheticFolderSettings>;
  /** The built-in base's pre-training options (tests use a quicker one). */
  readonly pretrain?: SamPretrainOptions;
  readonly cacheDir?: string;
  readonly backend?: string;
  /** Lines for a person: what starts, what ended, where it is. */
  readonly log?: (line: string) => void;
  /** Every event of every phase: 'pretrain', a method's name, 'eval <name>'. */
  readonly onEvent?: (phase: string, event: RunEvent) => void;
}

export interface ComparisonOutcome {
  readonly out: string;
  readonly rows: readonly ComparedRow[];
  readonly table: string;
  readonly report: string;
}

interface Base {
  readonly path: string;
  readonly arch: string;
  readonly quality?: BaseQuality;
  readonly cached?: boolean;
}

/** The arch a checkpoint is read with: the one given, else the arch.json written beside it (samflow pretrain's). */
function archOf(checkpoint: string, arch: string | undefined): string {
  if (arch) {
    samConfigFromArg(arch); // a bad preset name or config file fails now, not in the first run's worker
    return arch;
  }
  const beside = join(dirname(checkpoint), 'arch.json');
  if (existsSync(beside)) return beside;
  throw new Error(`--checkpoint ${checkpoint}: say which architecture it is with --arch (vit_b, vit_l, vit_h or an arch .json); there is no arch.json beside it`);
}

/** A data folder the comparison can use: binary masks, a split to train on. */
function checkData(data: string): void {
  if (!existsSync(data) || !statSync(data).isDirectory()) throw new Error(`--data ${data}: no such folder (expected a binary segmentation data set: Kvasir-style images/ + masks/, ISIC 2017, AutoGluon CSVs)`);
  const listing = detectLayout(data);
  if (!['paired-folders', 'isic2017', 'autogluon-csv'].includes(listing.layout)) {
    throw new Error(`--data ${data}: a ${listing.layout} data set has no binary masks; the comparison fine-tunes binary segmentation`);
  }
  if (!listing.splits.some((s) => s.name === 'train')) {
    throw new Error(`--data ${data}: no 'train' split to fine-tune on (its splits: ${listing.splits.map((s) => s.name).join(', ')})`);
  }
}

/**
 * The splits the table scores: the folder's test splits (PraNet's several), else its val split,
 * else the part of train that training holds out as val.
 */
export function scoredSplits(data: string): { splits: string[]; note?: string } {
  const names = detectLayout(data).splits.map((s) => s.name);
  const tests = names.filter((n) => n.startsWith('test'));
  if (tests.length) return { splits: tests };
  return {
    splits: ['val'],
    note: `${data} has no test split: the table scores 'val'${names.includes('val') ? '' : " (20 % of 'train', held out by a seeded draw)"}, the split that also picked each run's best epoch, so its figures are optimistic`,
  };
}

const metricsOf = (events: readonly RunEvent[]) => Object.fromEntries(events.flatMap((e) => (e.type === 'metric' && e.split !== 'train' ? [[e.name, e.value] as const] : [])));

/** The trainable-parameter count the adapter node logs (adapters/report.ts's ParameterReport). */
function trainableOf(events: readonly RunEvent[]): number | undefined {
  for (const e of events) {
    if (e.type === 'log' && typeof e.data === 'object' && e.data !== null && 'trainable' in e.data && 'groups' in e.data) return (e.data as { trainable: number }).trainable;
  }
  return undefined;
}

const evalName = (split: string) => `compare-${split.replaceAll('/', '-')}`;

export async function compareMethods(request: ComparisonRequest = {}): Promise<ComparisonOutcome> {
  const log = request.log ?? (() => undefined);
  const methods = request.methods ?? DEFAULT_METHODS;
  if (!methods.length) throw new Error('--methods: name at least one PEFT method');
  const unknown = methods.filter((m) => !(ADAPTER_METHODS as readonly string[]).includes(m));
  if (unknown.length) throw new Error(`--methods: unknown method ${unknown.join(', ')} (choose from ${ADAPTER_METHODS.join(', ')})`);
  if (new Set(methods).size !== methods.length) throw new Error(`--methods: ${methods.join(',')} names a method twice`);
  const out = resolve(request.out ?? join('runs', `compare-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  RunFolder.refuseExisting(out);
  if (request.data) checkData(request.data);
  if (request.checkpoint) requireCheckpointFile(request.checkpoint);
  if (!request.checkpoint && request.arch) throw new Error('--arch names the architecture of --checkpoint; without one the base is the built-in pretrained model, whose architecture is fixed');
  const given = request.checkpoint ? { path: resolve(request.checkpoint), arch: archOf(request.checkpoint, request.arch) } : undefined;

  // The base first: the longest step on a first run, and nothing is written before it exists.
  let base: Base;
  if (given) base = given;
  else {
    log('the base: the pretrained small SAM (samflow pretrain), from the cache or built now (about 3.5 minutes, once)');
    const built = await pretrainedBase({
      ...(request.pretrain ? { options: request.pretrain } : {}),
      ...(request.cacheDir ? { cacheDir: request.cacheDir } : {}),
      ...(request.backend !== undefined ? { backend: request.backend } : {}),
      log,
      ...(request.onEvent ? { onEvent: (phase: string, e: RunEvent) => request.onEvent!(phase === 'pretrain' ? 'pretrain' : `base ${phase}`, e) } : {}),
    });
    base = { path: built.path, arch: built.arch, quality: built.quality, cached: built.cached };
    log(`base ${built.cached ? 'from the cache' : 'built'}: ${built.path} (zero-shot point IoU ${(100 * built.quality.pretrained.pointIou).toFixed(1)} % on held-out generic scenes)`);
  }
  RunFolder.refuseExisting(out); // again: the pre-training took minutes
  mkdirSync(out, { recursive: true });
  const data = request.data ? resolve(request.data) : join(out, 'data');
  if (!request.data) {
    const settings = { ...SYNTHETIC_TARGET, ...request.synthetic };
    await writeSyntheticFolders(data, settings);
    log(`data: the domain-shifted synthetic set in ${data} (${Object.entries(settings.splits).map(([s, n]) => `${s} ${n}`).join(', ')})`);
  }
  const { splits, note } = scoredSplits(data);
  if (note) log(note);

  const shared: Record<string, unknown> = {
    ...(given ? {} : BUILT_IN_BUDGET),
    ...request.options,
    data,
    arch: base.arch,
    checkpoint: base.path,
  };
  const rows: ComparedRow[] = [];
  const galleries = new Map<string, Map<string, GalleryRecord>>(); // split -> row -> gallery

  const keepGallery = (split: string, row: string, events: readonly RunEvent[]) => {
    const found = galleriesOf(events).at(-1);
    if (!found) return;
    if (!galleries.has(split)) galleries.set(split, new Map());
    galleries.get(split)!.set(row, found);
  };

  // The base without fine-tuning: its own decoder, no prompt.
  {
    const scores: Record<string, Record<string, number>> = {};
    for (const split of splits) {
      const graph = convLoraBinaryEvaluateBase(shared as never, { data, split, metrics: COMPARED_METRICS, gallery: GALLERY });
      const dir = join(out, 'base', 'eval', evalName(split));
      const events = await collectRun(`eval base ${split}`, evaluateGraph(graph, { dir, data, subject: base.path, checkpoint: base.path, ...(request.backend !== undefined ? { backend: request.backend } : {}) }).events, request.onEvent);
      scores[split] = metricsOf(events);
      keepGallery(split, 'base', events);
    }
    rows.push({ name: 'base (no fine-tuning)', method: 'none', trainable: 0, trainSeconds: 0, scores, evalDirs: splits.map((s) => join(out, 'base', 'eval', evalName(s))) });
    log(`base without fine-tuning: ${splits.map((s) => `${s} iou ${scores[s]!.iou?.toFixed(4)}`).join(', ')}`);
  }

  for (const [i, method] of methods.entries()) {
    const dir = join(out, method);
    log(`run ${i + 1}/${methods.length}: ${method} into ${dir}`);
    const clock = performance.now();
    let trainEvents: RunEvent[];
    try {
      const run = await train({ pipeline: 'conv-lora-binary', options: { ...shared, method }, out: dir, ...(request.backend !== undefined ? { backend: request.backend } : {}) });
      trainEvents = await collectRun(method, run.events, request.onEvent);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      rows.push({ name: method, method, scores: {}, error: message, run: dir });
      log(`run ${i + 1}/${methods.length}: ${method} failed: ${message}`);
      continue;
    }
    const trainSeconds = (performance.now() - clock) / 1000;
    const scores: Record<string, Record<string, number>> = {};
    for (const split of splits) {
      const evaluation = await evaluate({ run: dir, data, split, metrics: COMPARED_METRICS, name: evalName(split), gallery: GALLERY, ...(request.backend !== undefined ? { backend: request.backend } : {}) });
      const events = await collectRun(`eval ${method} ${split}`, evaluation.events, request.onEvent);
      scores[split] = metricsOf(events);
      keepGallery(split, method, events);
    }
    const trainable = trainableOf(trainEvents);
    rows.push({ name: method, method, ...(trainable !== undefined ? { trainable } : {}), trainSeconds, scores, run: dir, evalDirs: splits.map((s) => join(dir, 'eval', evalName(s))) });
    log(`run ${i + 1}/${methods.length}: ${method} trained in ${trainSeconds.toFixed(0)} s; ${splits.map((s) => `${s} iou ${scores[s]!.iou?.toFixed(4)}`).join(', ')}`);
  }

  const context = {
    out,
    data,
    splits,
    ...(note ? { note } : {}),
    base: { path: base.path, arch: base.arch, ...(base.quality ? { quality: base.quality } : {}) },
    options: shared,
    metrics: COMPARED_METRICS,
  };
  const table = comparisonTable(rows, context);
  const report = join(out, 'report.html');
  writeAtomically(join(out, 'comparison.json'), `${JSON.stringify({ ...context, rows: rows.map((r) => ({ ...r, run: r.run && relative(out, r.run) })) }, null, 2)}\n`);
  writeAtomically(report, await comparisonHtml(rows, context, galleries));
  return { out, rows, table, report };
}

/** A comparison's record, for tests and tools. */
export function readComparison(out: string): { rows: ComparedRow[] } {
  return JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as { rows: ComparedRow[] };
}
