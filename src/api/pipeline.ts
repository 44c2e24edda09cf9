/**
 * What a pipeline is, and how what a user typed becomes one: a built-in name
 * (`conv-lora-binary`), a module of the user's own (`my-pipeline.ts`, exporting a pipeline as
 * `default` or `pipeline`), or a graph JSON file (what every run writes as graph.json).
 *
 * A pipeline is a function from options to a Graph, with the options' schema, so `--set` and
 * the `train` flags are checked the same way node params are; it may also say how to
 * evaluate and predict with what it trained, and the training control it defaults to.
 *
 * ```ts
 * export default definePipeline({
 *   name: 'mine',
 *   description: 'synthetic shapes -> patch MLP',
 *   options: z.object({ epochs: z.number().int().min(1).default(2) }).strict(),
 *   build: (o) => myGraph(o),
 * });
 * ```
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { Graph } from '../graph/graph.ts';
import { defaultRegistry } from '../graph/registry.ts';
import type { TrainControl } from '../nodes/train/model-selection.ts';
import '../nodes/index.ts';

/** What an evaluation graph reads: a data set folder (and split), and the checkpoint folder to load. */
export interface EvaluateTarget {
  readonly data: string;
  readonly split?: string;
  readonly checkpoint: string;
  readonly metrics?: readonly string[];
  /** Keep this many of the split's first images with truth and prediction (a gallery log event), for a picture of the evaluation. */
  readonly gallery?: number;
}

/** What a prediction graph reads and writes. */
export interface PredictTarget {
  readonly images: string;
  readonly out: string;
  readonly checkpoint: string;
  /** Binary masks: write probabilities (0..255) instead of 0/255. */
  readonly probs: boolean;
  /** Class masks: also write a colour PNG per image. */
  readonly palette?: boolean;
}

export interface PipelineEntry {
  readonly name: string;
  readonly description: string;
  readonly options: z.ZodObject;
  /** The training graph. */
  build(options: Record<string, unknown>): Graph;
  /** Defaults for the run's training control: which metric picks the best checkpoint, patience, ... */
  readonly control?: Partial<TrainControl>;
  /** The graph that scores a trained checkpoint on a data set (its metric events are the result). */
  evaluate?(options: Record<string, unknown>, target: EvaluateTarget): Graph;
  /** The graph that writes a trained checkpoint's predicted masks for a folder of images. */
  predict?(options: Record<string, unknown>, target: PredictTarget): Graph;
}

/** Checks a pipeline's shape (for modules of users' own, whose mistakes should read well). */
export function definePipeline<P extends PipelineEntry>(entry: P): P {
  const problems = [
    typeof entry?.name === 'string' && entry.name ? '' : "'name' (a string)",
    typeof entry?.build === 'function' ? '' : "'build' (options => Graph)",
    entry?.options && typeof (entry.options as { safeParse?: unknown }).safeParse === 'function' && 'shape' in entry.options ? '' : "'options' (a zod object schema)",
  ].filter(Boolean);
  if (problems.length) throw new Error(`a pipeline needs ${problems.join(', ')}`);
  return entry;
}

/** A module path the user gave: a .ts/.js/.mjs file that exists. */
function isModulePath(spec: string): boolean {
  return ['.ts', '.mts', '.js', '.mjs'].includes(extname(spec));
}

/** The package.json Node consults for a file's module type: the nearest one above it. */
function nearestPackageJson(file: string): string | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Node (and tsx) read a .ts or .js file as CommonJS unless the nearest package.json says
 * "type": "module"; a pipeline module imports samflow's ES modules, which CommonJS cannot do
 * here, so say how to make it ESM instead of failing deep inside the import.
 */
function requireEsm(path: string, file: string): void {
  if (['.mts', '.mjs'].includes(extname(file))) return;
  const pkg = nearestPackageJson(file);
  let type: unknown;
  try {
    type = pkg ? (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type : undefined;
  } catch {
    type = undefined;
  }
  if (type !== 'module') {
    throw new Error(
      `${path}: Node reads this file as CommonJS (${pkg ? `${pkg} does not say "type": "module"` : 'no package.json above it says "type": "module"'}), but a pipeline module is an ES module: rename it to ${extname(file) === '.js' ? '.mjs' : '.mts'}, or add "type": "module" to ${pkg ?? join(dirname(file), 'package.json')}`,
    );
  }
}

/** Imports a user's pipeline module; errors name the file and what export was expected. */
export async function importPipeline(path: string): Promise<PipelineEntry & { readonly module: string }> {
  const file = resolve(path);
  if (!existsSync(file)) throw new Error(`${path}: no such pipeline module`);
  requireEsm(path, file);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${path}: cannot import the pipeline module: ${error instanceof Error ? error.message : String(error)}`);
  }
  const candidate = exports.default ?? exports.pipeline;
  if (candidate === undefined) {
    const names = Object.keys(exports);
    throw new Error(`${path}: exports no pipeline; expected \`export default definePipeline({ name, description, options, build })\` or \`export const pipeline = …\`${names.length ? ` (it exports: ${names.join(', ')})` : ''}`);
  }
  try {
    return { ...definePipeline(candidate as PipelineEntry), module: file };
  } catch (error) {
    throw new Error(`${path}: its ${exports.default !== undefined ? 'default export' : "'pipeline' export"} is not a pipeline: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A built-in pipeline by name or a user's module by path. */
export async function resolvePipeline(spec: string): Promise<PipelineEntry & { readonly module?: string }> {
  const { findPipeline, pipelineNames } = await import('../../pipelines/index.ts');
  const entry = findPipeline(spec);
  if (entry) return entry;
  if (isModulePath(spec)) return importPipeline(spec);
  throw new Error(`unknown pipeline '${spec}': not a built-in pipeline (${pipelineNames().join(', ')}), a pipeline module (.ts, .js) nor a graph .json file`);
}

/** Checks options against a pipeline's schema; the error names the pipeline, the option and every option there is. */
export function parseOptions(entry: PipelineEntry, settings: Record<string, unknown>): Record<string, unknown> {
  const parsed = entry.options.safeParse(settings);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `'${i.path.join('.') || '(options)'}': ${i.message}`).join('; ');
    throw new Error(`pipeline '${entry.name}': bad option ${problems}. Options: ${Object.keys(entry.options.shape).join(', ')}`);
  }
  return parsed.data as Record<string, unknown>;
}

/**
 * Builds a pipeline's graph; a module's graph lists the module, so the tensor worker imports it
 * too and node kinds defined there work in worker segments.
 */
export function buildGraph(entry: PipelineEntry & { readonly module?: string }, make: () => Graph): Graph {
  const graph = make();
  if (!entry.module) return graph;
  const href = pathToFileURL(entry.module).href;
  const json = graph.toJson();
  return json.modules.includes(href) ? graph : Graph.fromJson({ ...json, modules: [...json.modules, href] }, graph.registry, entry.module);
}

/** A graph JSON file (what each run writes as graph.json); module paths in it are relative to the file. */
export async function loadGraphFile(spec: string): Promise<Graph> {
  if (!existsSync(spec)) throw new Error(`${spec}: no such graph file`);
  let json: { modules?: unknown };
  try {
    json = JSON.parse(readFileSync(spec, 'utf8')) as { modules?: unknown };
  } catch (error) {
    throw new Error(`${spec}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  // The worker needs absolute URLs.
  const modules = Array.isArray(json.modules)
    ? json.modules.map((m) => (typeof m === 'string' && m.startsWith('.') ? pathToFileURL(resolve(dirname(spec), m)).href : m))
    : json.modules;
  for (const module of Array.isArray(modules) ? modules : []) {
    try {
      await import(String(module));
    } catch (error) {
      throw new Error(`${spec}: cannot import module '${String(module)}': ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return Graph.fromJson({ ...json, ...(modules !== undefined ? { modules } : {}) }, defaultRegistry, spec);
}

/** What `run` and `graph` take: a pipeline (built-in or module) with settings, or a graph JSON file. */
export async function loadPipeline(spec: string, settings: Record<string, unknown> = {}): Promise<Graph> {
  if (spec.endsWith('.json')) {
    if (Object.keys(settings).length) throw new Error(`${spec}: --set applies to pipelines only; edit the graph's params instead`);
    return loadGraphFile(spec);
  }
  const entry = await resolvePipeline(spec);
  const options = parseOptions(entry, settings);
  return buildGraph(entry, () => entry.build(options));
}
