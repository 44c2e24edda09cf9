/**
 * Loads a SAM checkpoint (official .pth or Hugging Face safetensors) onto the parameter tree
 * of a config. Strict by default: every problem (missing, unexpected and shape-mismatched
 * keys) is listed in one error before any weight is read. With `allowPartial`, what matches is
 * loaded and the rest keeps its random initialisation, and the report says which.
 */
import * as tf from '@tensorflow/tfjs';
import type { SamConfig } from '../config.ts';
import { officialShapes, randomSamParams, toTfLayout, type SamParams } from '../params.ts';
import { isHuggingFaceNaming, officialName } from './hf-names.ts';
import { openPytorchCheckpoint } from './pytorch.ts';
import { openSafetensors } from './safetensors.ts';
import type { CheckpointFile } from './tensor-entry.ts';

export interface LoadReport {
  readonly path: string;
  readonly format: CheckpointFile['format'];
  readonly naming: 'official' | 'huggingface';
  readonly loaded: number;
  readonly missing: readonly string[];
  readonly unexpected: readonly string[];
  readonly mismatched: readonly string[];
  /** With allowPartial: the model's tensors that kept their random initialisation (missing or of another shape). */
  readonly random: readonly string[];
}

/** How the caller's user asks for a partial load, for the mismatch error's last line. */
export const ALLOW_PARTIAL_HINT = 'Check --arch against the checkpoint, or pass --allow-partial to load what matches.';

export async function openCheckpoint(path: string): Promise<CheckpointFile> {
  if (path.endsWith('.safetensors')) return openSafetensors(path);
  if (path.endsWith('.pth') || path.endsWith('.pt') || path.endsWith('.bin')) return openPytorchCheckpoint(path);
  throw new Error(`${path}: unknown checkpoint type (expected .pth/.pt from torch.save or .safetensors)`);
}

export async function loadSamCheckpoint(
  path: string,
  config: SamConfig,
  options: { allowPartial?: boolean; seed?: number; hint?: string } = {},
): Promise<{ params: SamParams; report: LoadReport }> {
  const file = await openCheckpoint(path);
  try {
    const hf = isHuggingFaceNaming(file.entries.keys());
    const byOfficial = new Map<string, string>();
    for (const name of file.entries.keys()) {
      const official = hf ? officialName(name, config.iou_head_depth) : name;
      // transformers saves the Fourier matrix twice (tied); keep the first.
      if (!byOfficial.has(official)) byOfficial.set(official, name);
    }
    const expected = officialShapes(config);
    const missing = [...expected.keys()].filter((k) => !byOfficial.has(k));
    const unexpected = [...byOfficial.keys()].filter((k) => !expected.has(k) && k !== 'pixel_mean' && k !== 'pixel_std');
    const mismatched: string[] = [];
    for (const [official, stored] of byOfficial) {
      const want = expected.get(official);
      const got = file.entries.get(stored)!.shape;
      if (want && want.join() !== got.join()) mismatched.push(`${official}: checkpoint [${got.join(', ')}], model [${want.join(', ')}]`);
    }
    const random = [...expected.keys()].filter((k) => !byOfficial.has(k) || mismatched.some((m) => m.startsWith(`${k}:`)));
    const report: LoadReport = { path, format: file.format, naming: hf ? 'huggingface' : 'official', loaded: 0, missing, unexpected, mismatched, random };
    if (!options.allowPartial && (missing.length || unexpected.length || mismatched.length)) {
      throw new Error(describeProblems(report, expected.size, options.hint ?? ALLOW_PARTIAL_HINT));
    }
    // Start from a random tree so a partial load leaves the rest initialised, then replace tensor by tensor.
    const params = options.allowPartial ? randomSamParams(config, options.seed ?? 0) : new Map<string, tf.Tensor>();
    let loaded = 0;
    for (const [official, shape] of expected) {
      const stored = byOfficial.get(official);
      if (!stored || random.includes(official)) continue;
      const values = await file.entries.get(stored)!.read();
      const tensor = toTfLayout(official, tf.tensor(values, shape, 'float32'));
      params.get(official)?.dispose();
      params.set(official, tensor);
      loaded++;
    }
    return { params, report: { ...report, loaded } };
  } finally {
    await file.close();
  }
}

/** 'kept random (3): a, b, c' for a partial load, with the first `shown` names; '' when everything loaded. */
export function describeRandom(report: LoadReport, shown = 20): string {
  if (!report.random.length) return '';
  const names = report.random.slice(0, shown).join(', ');
  return `kept random (${report.random.length}): ${names}${report.random.length > shown ? `, … and ${report.random.length - shown} more` : ''}`;
}

function describeProblems(r: LoadReport, expectedCount: number, hint: string): string {
  const lines = [`${r.path}: checkpoint does not match the SAM config (${expectedCount} tensors expected; ${r.naming} names):`];
  const list = (title: string, items: readonly string[]) => {
    if (!items.length) return;
    const shown = items.slice(0, 20).map((i) => `    ${i}`);
    if (items.length > 20) shown.push(`    … and ${items.length - 20} more`);
    lines.push(`  ${title} (${items.length}):`, ...shown);
  };
  list('missing', r.missing);
  list('unexpected', r.unexpected);
  list('shape mismatch', r.mismatched);
  lines.push(`  ${hint}`);
  return lines.join('\n');
}
