/**
 * Which base weights a run fine-tuned: the id an adapter checkpoint's manifest records
 * (`sha256:…` of the weights file, or `random:…` for seeded random weights). Read from the
 * checkpoint folder's files, so the report needs nothing from the worker.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdapterManifest } from '../adapters/checkpoint.ts';

// A type-only import: the manifest's format string, without loading the tensor library here.
const ADAPTER_FORMAT: AdapterManifest['format'] = 'samflow-adapter@1';

/** The base id of the first adapter manifest in `checkpointDir`, or undefined if it holds none (or is gone). */
export function baseCheckpointId(checkpointDir: string): string | undefined {
  let files: string[];
  try {
    files = readdirSync(checkpointDir).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return undefined;
  }
  for (const file of files) {
    try {
      const manifest = JSON.parse(readFileSync(join(checkpointDir, file), 'utf8')) as Partial<AdapterManifest>;
      if (manifest.format === ADAPTER_FORMAT && typeof manifest.baseId === 'string') return manifest.baseId;
    } catch {
      // not a manifest (run-state.json, optimiser state): look further
    }
  }
  return undefined;
}
