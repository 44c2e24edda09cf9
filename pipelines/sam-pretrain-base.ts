/**
 * The pretrained small base, made by the project: `sam-pretrain` run once into a cache, exported
 * as an ordinary SAM checkpoint (official names and layouts, safetensors) that every pipeline
 * takes with `--checkpoint`, with its zero-shot quality next to it (`quality.json`: centre-point
 * IoU on held-out scenes, of the base and of its untrained initialisation).
 *
 * Cached, not shipped: the weights are a function of the code (kernels, initialisation, data
 * generator, loss) and of the backend that ran it, so a file committed to the repository would
 * silently drift from what its rebuild command makes after any change to those, and a binary
 * blob would have to be re-committed with each. A cache keyed by the options, the seed, the
 * backend asked for and a hash of every source file that can change the numbers is rebuilt
 * exactly when it must be, and a build is deterministic (same key, same bytes; tested).
 *
 * Location: `$XDG_CACHE_HOME/samflow/sam-pretrain/<key>/` (default `~/.cache/samflow`). A build
 * happens in a temporary folder beside it that is renamed into place when complete, so a killed
 * build leaves nothing that looks finished, and two concurrent builds cannot mix files.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunEvent } from '../src/graph/events.ts';
import { collectRun, runGraph } from '../src/api/run-graph.ts';
import { RunFolder } from '../src/api/run-folder.ts';
import { train } from '../src/api/training.ts';
import { readAdapterCheckpoint } from '../src/nodes/adapters/checkpoint.ts';
import { writeSamCheckpoint, type PlainTensor } from '../src/nodes/sam/checkpoint/write.ts';
import type { SamConfig } from '../src/nodes/sam/config.ts';
import { pretrainSettings, samPretrainEvaluate, type SamPretrainOptions } from './sam-pretrain.ts';

export const BASE_FORMAT = 'samflow-pretrained-sam@1';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where the code that makes the base starts: the pipeline and its nodes, the runner, the tensor
 * worker's segment runner and backends. Their static import closure is hashed, so an edit
 * elsewhere (another pipeline's loss, the report) keeps the cache, and any edit that can change
 * the numbers rebuilds it. Registration lists (index.ts) are not followed: they name every
 * node kind, used or not; nor the report nodes (they write files, never weights). The native
 * kernels' sources count whole.
 */
const ENTRIES = ['pipelines/sam-pretrain.ts', 'pipelines/sam-pretrain-base.ts', 'src/graph/run.ts', 'workers/tensor-worker.ts', 'workers/segment-runner.ts', 'workers/backend.ts'];
const NATIVE = 'native/src';
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g;

function importClosure(): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file) || !existsSync(join(ROOT, file))) return;
    seen.add(file);
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const match of text.matchAll(IMPORT)) {
      const target = relative(ROOT, join(ROOT, dirname(file), match[1]!));
      if (/(^|\/)index\.ts$/.test(target) || target.startsWith('src/nodes/report/')) continue;
      visit(target);
    }
  };
  ENTRIES.forEach(visit);
  const native = existsSync(join(ROOT, NATIVE)) ? readdirSync(join(ROOT, NATIVE)).sort().map((name) => join(NATIVE, name)) : [];
  return [...[...seen].sort(), ...native.filter((f) => statSync(join(ROOT, f)).isFile())];
}

/** SHA-256 over the paths and contents of the sources that make the base. */
export function codeHash(): string {
  const hash = createHash('sha256');
  for (const file of importClosure()) hash.update(`${file}\0`).update(readFileSync(join(ROOT, file))).update('\0');
  return hash.digest('hex');
}

/** The files the key covers (for the doc and the test). */
export const codeFiles = importClosure;

export interface BaseQuality {
  readonly format: typeof BASE_FORMAT;
  readonly key: string;
  readonly settings: Record<string, unknown>;
  /** Held-out test scenes scored with one centre point each. */
  readonly testScenes: number;
  /** Mean IoU / Dice of the mask SAM returns (highest predicted IoU) for a centre point. */
  readonly pretrained: { readonly pointIou: number; readonly pointDice: number };
  readonly untrained: { readonly pointIou: number; readonly pointDice: number };
  readonly trainSeconds: number;
  readonly backend?: string;
}

export interface PretrainedBase {
  /** The SAM checkpoint (.safetensors, official names). */
  readonly path: string;
  /** Its architecture as a config file (what `--arch` takes). */
  readonly arch: string;
  readonly quality: BaseQuality;
  /** True when it came from the cache, false when it was built now. */
  readonly cached: boolean;
  readonly dir: string;
}

export interface BaseRequest {
  readonly options?: SamPretrainOptions;
  /** Held-out scenes for the quality figures (default 64). */
  readonly test?: number;
  /** The cache's root (default $XDG_CACHE_HOME/samflow or ~/.cache/samflow). */
  readonly cacheDir?: string;
  /** Build even when the cache has it (the new build replaces it). */
  readonly force?: boolean;
  readonly backend?: string;
  /** Every event of the pre-training run ('pretrain') and the evaluations ('eval-untrained', 'eval-pretrained'). */
  readonly onEvent?: (phase: string, event: RunEvent) => void;
  readonly log?: (line: string) => void;
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_CACHE_HOME ? join(env.XDG_CACHE_HOME, 'samflow') : join(homedir(), '.cache', 'samflow');
}

/** The cache key: settings, seed, test-set size, backend asked for, and the code. */
export function baseKey(request: Pick<BaseRequest, 'options' | 'test' | 'backend'>): { key: string; settings: Record<string, unknown> } {
  const settings = pretrainSettings(request.options ?? {}) as unknown as Record<string, unknown>;
  const backend = request.backend ?? process.env.SAMFLOW_BACKEND ?? 'auto';
  const key = createHash('sha256')
    .update(JSON.stringify({ settings, test: request.test ?? 64, backend, code: codeHash() }))
    .digest('hex')
    .slice(0, 20);
  return { key, settings };
}

function testScores(events: readonly RunEvent[]): { pointIou: number; pointDice: number } {
  const value = (name: string) => {
    const found = events.find((e) => e.type === 'metric' && e.name === name && e.split === 'test');
    if (found?.type !== 'metric') throw new Error(`the evaluation reported no test ${name}`);
    return found.value;
  };
  return { pointIou: value('iou'), pointDice: value('dice') };
}

/** The run's last checkpoint (a 'full' adapter: every base parameter) as a SAM checkpoint file. */
export async function exportBase(runDir: string, path: string, metadata: Record<string, string>): Promise<SamConfig> {
  const folder = RunFolder.open(runDir);
  const saved = await readAdapterCheckpoint(join(folder.checkpointDir(folder.resolveCheckpoint('last')), 'peft'));
  if (saved.manifest.method !== 'full') throw new Error(`${saved.path}: a ${saved.manifest.method} adapter; a base is exported from a 'full' training run`);
  const params = new Map<string, PlainTensor>();
  for (const [name, t] of saved.tensors) if (name.startsWith('base.')) params.set(name.slice('base.'.length), t);
  writeSamCheckpoint(path, params, saved.manifest.arch, metadata);
  return saved.manifest.arch;
}

function readQuality(dir: string): BaseQuality | undefined {
  try {
    const q = JSON.parse(readFileSync(join(dir, 'quality.json'), 'utf8')) as BaseQuality;
    return q.format === BASE_FORMAT && existsSync(join(dir, 'sam.safetensors')) && existsSync(join(dir, 'arch.json')) ? q : undefined;
  } catch {
    return undefined;
  }
}

/** The cached base for these options, built first if the cache does not have it. */
export async function pretrainedBase(request: BaseRequest = {}): Promise<PretrainedBase> {
  const { key, settings } = baseKey(request);
  const root = join(request.cacheDir ?? cacheRoot(), 'sam-pretrain');
  const dir = join(root, key);
  const have = readQuality(dir);
  if (have && !request.force) return { path: join(dir, 'sam.safetensors'), arch: join(dir, 'arch.json'), quality: have, cached: true, dir };

  mkdirSync(root, { recursive: true });
  const temp = join(root, `.build-${key}-${process.pid}-${Date.now()}`);
  try {
    request.log?.(`pre-training the base (key ${key}) in ${temp}`);
    const clock = performance.now();
    const run = await train({
      pipeline: 'sam-pretrain',
      options: { ...(request.options ?? {}) },
      out: join(temp, 'run'),
      ...(request.backend !== undefined ? { backend: request.backend } : {}),
    });
    const events = await collectRun('pretrain', run.events, request.onEvent);
    const trainSeconds = (performance.now() - clock) / 1000;
    const started = events.find((e) => e.type === 'started');
    const backend = started?.type === 'started' ? started.backend : undefined;
    const path = join(temp, 'sam.safetensors');
    const arch = await exportBase(run.dir, path, { format: BASE_FORMAT, key });
    // The config beside the weights: what --arch takes for a model that is not a preset.
    writeFileSync(join(temp, 'arch.json'), `${JSON.stringify(arch, null, 2)}\n`);
    // The untrained model is the run's initialisation; the pretrained one is read back from the file just written.
    const options = { ...(request.options ?? {}), test: request.test ?? 64 };
    const untrained = testScores(await collectRun('eval-untrained', runGraph(samPretrainEvaluate(options), request), request.onEvent));
    const pretrained = testScores(await collectRun('eval-pretrained', runGraph(samPretrainEvaluate({ ...options, checkpoint: path }), request), request.onEvent));
    const quality: BaseQuality = { format: BASE_FORMAT, key, settings, testScenes: options.test, pretrained, untrained, trainSeconds, ...(backend ? { backend } : {}) };
    writeFileSync(join(temp, 'quality.json'), `${JSON.stringify(quality, null, 2)}\n`);
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true }); // forced rebuild
    try {
      renameSync(temp, dir);
    } catch (error) {
      // Another build of the same key finished first: keep that one.
      const theirs = readQuality(dir);
      if (!theirs) throw error;
      rmSync(temp, { recursive: true, force: true });
      return { path: join(dir, 'sam.safetensors'), arch: join(dir, 'arch.json'), quality: theirs, cached: true, dir };
    }
    return { path: join(dir, 'sam.safetensors'), arch: join(dir, 'arch.json'), quality, cached: false, dir };
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
}
