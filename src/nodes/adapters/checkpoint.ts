/**
 * Adapter-only checkpoints: what fine-tuning produced (adapter weights and the base parameters
 * it unfroze, such as the mask decoder) as `<path>.safetensors`, plus `<path>.json`, a manifest
 * with the method, its config, the SAM architecture and the id of the base weights. Tensors are
 * stored in samflow's TF layout (linear weights [in, out]). Both files are written to temporary
 * names and renamed, the manifest last, so a killed save leaves no half-written checkpoint.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { openSafetensors, encodeSafetensors } from '../sam/checkpoint/safetensors.ts';
import type { SamConfig } from '../sam/config.ts';
import type { SamModel } from '../sam/model.ts';
import { parseAdapterConfig, type AdapterConfig } from './config.ts';
import { injectAdapter } from './inject.ts';

export const ADAPTER_FORMAT = 'samflow-adapter@1';

export interface AdapterManifest {
  readonly format: typeof ADAPTER_FORMAT;
  readonly method: string;
  readonly adapter: AdapterConfig;
  readonly arch: SamConfig;
  readonly baseId: string;
  readonly layout: 'tfjs';
  readonly tensors: readonly string[];
}

/** SHA-256 of a base checkpoint file, streamed (a vit_h file is 2.5 GB). */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** The tensors a fine-tuned model carries beyond its base: adapter weights and unfrozen base parameters. */
function trainedTensors(model: SamModel): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const adapter of model.adapters) for (const [k, v] of adapter.weights) out.set(`adapter.${k}`, v);
  for (const [k, v] of model.unfrozen) out.set(`base.${k}`, v);
  return out;
}

/**
 * Writes `<path>.safetensors` and `<path>.json`. Synchronous on purpose: the tensor worker saves
 * between two items, and the files must be complete before the next step changes the weights.
 */
export function saveAdapterCheckpoint(model: SamModel, adapter: AdapterConfig, path: string): AdapterManifest {
  const tensors = trainedTensors(model);
  const data = new Map([...tensors].map(([k, v]) => [k, { shape: v.shape, data: v.dataSync() as Float32Array }]));
  const manifest: AdapterManifest = {
    format: ADAPTER_FORMAT,
    method: adapter.method,
    adapter,
    arch: model.config,
    baseId: model.baseId,
    layout: 'tfjs',
    tensors: [...tensors.keys()],
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.safetensors.tmp`, encodeSafetensors(data, { format: ADAPTER_FORMAT }));
  writeFileSync(`${path}.json.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(`${path}.safetensors.tmp`, `${path}.safetensors`);
  renameSync(`${path}.json.tmp`, `${path}.json`);
  return manifest;
}

export interface AdapterCheckpoint {
  readonly path: string;
  readonly manifest: AdapterManifest;
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;
}

/** Reads a saved adapter (manifest and weights) without touching any model. */
export async function readAdapterCheckpoint(path: string): Promise<AdapterCheckpoint> {
  let manifest: AdapterManifest;
  try {
    manifest = JSON.parse(await readFile(`${path}.json`, 'utf8')) as AdapterManifest;
  } catch (error) {
    throw new Error(`${path}.json: cannot read the adapter manifest (${error instanceof Error ? error.message : String(error)})`);
  }
  if (manifest.format !== ADAPTER_FORMAT) throw new Error(`${path}.json: format '${String(manifest.format)}' is not ${ADAPTER_FORMAT}`);
  const file = await openSafetensors(`${path}.safetensors`);
  try {
    const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [key, entry] of file.entries) tensors.set(key, { shape: entry.shape, data: await entry.read() });
    return { path, manifest, tensors };
  } finally {
    await file.close();
  }
}

/** Injects a read adapter into a base model and sets its weights; the base must be the one it was trained on. */
export function applyAdapterCheckpoint(model: SamModel, checkpoint: AdapterCheckpoint): AdapterManifest {
  const { path, manifest } = checkpoint;
  if (JSON.stringify(manifest.arch) !== JSON.stringify(model.config)) {
    throw new Error(`${path}: the adapter was trained on another SAM architecture (${JSON.stringify(manifest.arch)}), not this one (${JSON.stringify(model.config)})`);
  }
  if (manifest.baseId !== model.baseId) {
    throw new Error(`${path}: the adapter was trained on base weights ${manifest.baseId}, but this model's base is ${model.baseId}; load it onto the same base checkpoint`);
  }
  injectAdapter(model, parseAdapterConfig(manifest.adapter, `${path}.json`));
  const expected = trainedTensors(model);
  const missing = [...expected.keys()].filter((k) => !checkpoint.tensors.has(k));
  const unexpected = [...checkpoint.tensors.keys()].filter((k) => !expected.has(k));
  const mismatched = [...expected].filter(([k, v]) => checkpoint.tensors.has(k) && checkpoint.tensors.get(k)!.shape.join() !== v.shape.join()).map(([k]) => k);
  if (missing.length || unexpected.length || mismatched.length) {
    throw new Error(`${path}.safetensors does not match its manifest: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}], shape mismatch [${mismatched.join(', ')}]`);
  }
  for (const [key, variable] of expected) {
    const saved = checkpoint.tensors.get(key)!;
    tf.tidy(() => (variable as tf.Variable).assign(tf.tensor(saved.data, [...saved.shape])));
  }
  return manifest;
}

/** Reads a saved adapter and applies it to a base model. */
export async function loadAdapterCheckpoint(model: SamModel, path: string): Promise<AdapterManifest> {
  return applyAdapterCheckpoint(model, await readAdapterCheckpoint(path));
}
