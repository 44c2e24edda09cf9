/**
 * Turns what a user typed (`toy-segmentation`, `my-graph.json`) into a validated Graph, with
 * an error that says which pipeline, file or option was wrong.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Graph } from '../graph/graph.ts';
import { defaultRegistry } from '../graph/registry.ts';
import { findPipeline, pipelineNames } from '../../pipelines/index.ts';
import '../nodes/index.ts';

/** Parses `key=value` pairs; values are JSON when they parse as JSON, else strings. */
export function parseSettings(pairs: readonly string[]): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--set expects key=value, got '${pair}'`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: keep the string, and let the schema say whether a string is acceptable
    }
    settings[pair.slice(0, eq)] = value;
  }
  return settings;
}

export async function loadPipeline(spec: string, settings: Record<string, unknown> = {}): Promise<Graph> {
  const entry = findPipeline(spec);
  if (entry) {
    const parsed = entry.options.safeParse(settings);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `'${i.path.join('.') || '(options)'}': ${i.message}`).join('; ');
      throw new Error(`pipeline '${spec}': bad option ${problems}. Options: ${Object.keys(entry.options.shape).join(', ')}`);
    }
    return entry.build(parsed.data);
  }
  if (!spec.endsWith('.json') || !existsSync(spec)) {
    throw new Error(`unknown pipeline '${spec}': not a built-in pipeline (${pipelineNames().join(', ')}) nor a graph JSON file that exists`);
  }
  if (Object.keys(settings).length) throw new Error(`${spec}: --set applies to built-in pipelines only; edit the graph's params instead`);
  let json: { modules?: unknown };
  try {
    json = JSON.parse(readFileSync(spec, 'utf8')) as { modules?: unknown };
  } catch (error) {
    throw new Error(`${spec}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  // Module paths in a graph file are relative to the file; the worker needs absolute URLs.
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
