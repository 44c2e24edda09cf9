/**
 * Writes a whole SAM model as a safetensors file with the official segment-anything names and
 * PyTorch layouts (linear weights [out, in], conv filters [out, in, kh, kw]), so the file loads
 * wherever SAM weights are taken: `--checkpoint` here (load.ts), and `safetensors.torch.load_file`
 * + `Sam.load_state_dict` in Python. Plain arrays in, no tensors: it runs on the main thread.
 * Tensors go in the official key order and the header holds only the given metadata, so the same
 * weights always give the same bytes. Written to a temporary name and renamed.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SamConfig } from '../config.ts';
import { officialShapes, tfShape } from '../params.ts';
import { encodeSafetensors } from './safetensors.ts';

export interface PlainTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** For each of our axes, the PyTorch axis it is: read off tfShape with distinct stand-in sizes. */
function axesFromTorch(key: string, rank: number): number[] {
  const probe = [2, 3, 5, 7, 11, 13].slice(0, rank);
  return tfShape(key, probe).map((size) => probe.indexOf(size));
}

/** Values in our layout (shape `ours`) -> C order in PyTorch's layout. */
function toTorchOrder(key: string, t: PlainTensor): Float32Array {
  const axes = axesFromTorch(key, t.shape.length);
  if (axes.every((a, i) => a === i)) return t.data;
  const torch = new Array<number>(t.shape.length);
  axes.forEach((a, i) => (torch[a] = t.shape[i]!));
  // Stride in our data of each PyTorch axis.
  const ourStrides = new Array<number>(t.shape.length).fill(1);
  for (let i = t.shape.length - 2; i >= 0; i--) ourStrides[i] = ourStrides[i + 1]! * t.shape[i + 1]!;
  const strides = torch.map((_, a) => ourStrides[axes.indexOf(a)]!);
  const out = new Float32Array(t.data.length);
  const index = new Array<number>(torch.length).fill(0);
  for (let n = 0; n < out.length; n++) {
    let at = 0;
    for (let d = 0; d < torch.length; d++) at += index[d]! * strides[d]!;
    out[n] = t.data[at]!;
    for (let d = torch.length - 1; d >= 0; d--) {
      if (++index[d]! < torch[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

/**
 * The file's bytes for a config's parameters (official keys, our layout). Every official key of
 * the config must be there with its shape; what is missing, extra or misshapen is listed.
 */
export function encodeSamCheckpoint(params: ReadonlyMap<string, PlainTensor>, config: SamConfig, metadata: Record<string, string> = {}): Buffer {
  const expected = officialShapes(config);
  const problems: string[] = [];
  for (const [key, torch] of expected) {
    const t = params.get(key);
    if (!t) problems.push(`missing ${key}`);
    else if (tfShape(key, torch).join() !== t.shape.join()) problems.push(`${key}: [${t.shape.join(', ')}], expected [${tfShape(key, torch).join(', ')}] (samflow layout)`);
  }
  for (const key of params.keys()) if (!expected.has(key)) problems.push(`unexpected ${key}`);
  if (problems.length) throw new Error(`SAM checkpoint writer: the parameters do not match the config (${problems.join('; ')})`);
  const out = new Map<string, PlainTensor>();
  for (const [key, torch] of expected) out.set(key, { shape: torch, data: toTorchOrder(key, params.get(key)!) });
  return encodeSafetensors(out, metadata);
}

/** Writes `path` (.safetensors) atomically: a temporary file in the same folder, then a rename. */
export function writeSamCheckpoint(path: string, params: ReadonlyMap<string, PlainTensor>, config: SamConfig, metadata: Record<string, string> = {}): void {
  if (!path.endsWith('.safetensors')) throw new Error(`${path}: a SAM checkpoint is written as .safetensors; name the file so`);
  const bytes = encodeSamCheckpoint(params, config, metadata);
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, bytes);
  renameSync(temp, path);
}
