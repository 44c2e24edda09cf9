/**
 * The files a worker node's state takes in a checkpoint folder: `<dir>/<node>.safetensors`
 * (float32 tensors) and `<dir>/<node>.json` (everything else). The checkpoint folder as a
 * whole is made atomic by whoever writes it (a temporary folder renamed when complete).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { encodeSafetensors, openSafetensors } from '../sam/checkpoint/safetensors.ts';

export interface SavedTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export function writeNodeState(dir: string, node: string, tensors: ReadonlyMap<string, tf.Tensor>, json: unknown): void {
  mkdirSync(dir, { recursive: true });
  const data = new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: t.dataSync() as Float32Array }]));
  writeFileSync(join(dir, `${node}.safetensors`), encodeSafetensors(data, { format: 'samflow-node-state@1', node }));
  writeFileSync(join(dir, `${node}.json`), `${JSON.stringify(json, null, 2)}\n`);
}

export async function readNodeState<J>(dir: string, node: string): Promise<{ tensors: Map<string, SavedTensor>; json: J }> {
  const jsonPath = join(dir, `${node}.json`);
  let json: J;
  try {
    json = JSON.parse(readFileSync(jsonPath, 'utf8')) as J;
  } catch (error) {
    throw new Error(`${jsonPath}: cannot read node '${node}''s saved state (${error instanceof Error ? error.message : String(error)})`);
  }
  const file = await openSafetensors(join(dir, `${node}.safetensors`));
  try {
    const tensors = new Map<string, SavedTensor>();
    for (const [key, entry] of file.entries) tensors.set(key, { shape: entry.shape, data: await entry.read() });
    return { tensors, json };
  } finally {
    await file.close();
  }
}
