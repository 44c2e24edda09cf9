/**
 * SAM image-encoder forward time per image on one backend (default wasm), with achieved
 * GFLOP/s from an analytic FLOP count and the process's peak RSS.
 *
 *   npm run bench:sam                 # small config and vit_b at 1024 on wasm
 *   npm run bench:sam -- cpu small    # backend and which configs (small, vit_b)
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { gridSize, SAM_PRESETS, type SamConfig } from '../src/nodes/sam/config.ts';
import { imageEncoder } from '../src/nodes/sam/image-encoder.ts';
import { disposeParams, randomSamParams } from '../src/nodes/sam/params.ts';
import { selectBackend, type BackendChoice } from '../workers/backend.ts';

const SMALL: SamConfig = {
  ...SAM_PRESETS.vit_b,
  image_size: 256,
  encoder_embed_dim: 256,
  encoder_depth: 4,
  encoder_num_heads: 8,
  encoder_global_attn_indexes: [3],
  window_size: 8,
};

/** Multiply-adds ×2 of every matMul and convolution in the encoder (elementwise work left out). */
export function encoderFlops(c: SamConfig): number {
  const g = gridSize(c);
  const n = g * g;
  const d = c.encoder_embed_dim;
  const mlp = d * c.mlp_ratio;
  const headDim = d / c.encoder_num_heads;
  let flops = 2 * n * (3 * c.patch_size * c.patch_size) * d; // patch embedding
  for (let i = 0; i < c.encoder_depth; i++) {
    const global = c.encoder_global_attn_indexes.includes(i);
    const side = global ? g : c.window_size;
    const windows = global ? 1 : Math.ceil(g / side) ** 2;
    const t = side * side; // tokens per window (padded windows included)
    flops += 2 * n * d * (3 * d + d + 2 * mlp); // qkv, proj, MLP
    flops += windows * c.encoder_num_heads * (2 * 2 * t * t * headDim); // q·k and attn·v
    flops += windows * c.encoder_num_heads * (2 * 2 * t * side * headDim); // decomposed rel-pos terms
  }
  const e = c.prompt_embed_dim;
  flops += 2 * n * d * e + 2 * n * e * e * 9; // neck
  return flops;
}

async function time(c: SamConfig, runs: number): Promise<{ ms: number[]; flops: number }> {
  const params = randomSamParams(c, 1);
  const input = tf.randomNormal([1, c.image_size, c.image_size, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    tf.tidy(() => imageEncoder(input, params, c).dataSync());
    ms.push(performance.now() - t0);
  }
  input.dispose();
  disposeParams(params);
  return { ms, flops: encoderFlops(c) };
}

const backend = (process.argv[2] ?? 'wasm') as BackendChoice;
const which = (process.argv[3] ?? 'small,vit_b').split(',');
const report = await selectBackend(backend);
console.log('samflow SAM encoder benchmark');
console.log(`  node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores`);
console.log(`  backend ${report.selected}: ${report.attempts.at(-1)!.detail}\n`);
const configs: [string, SamConfig, number][] = [
  ['small (256 px, dim 256, depth 4, window 8)', SMALL, 4],
  ['vit_b (1024 px, dim 768, depth 12, window 14)', SAM_PRESETS.vit_b, 2],
];
for (const [name, c, runs] of configs) {
  if (!which.some((w) => name.startsWith(w))) continue;
  const { ms, flops } = await time(c, runs);
  const steady = ms.length > 1 ? ms.slice(1) : ms;
  const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
  console.log(`${name}`);
  console.log(`  forward     ${mean.toFixed(0)} ms/image (first run ${ms[0]!.toFixed(0)} ms, ${steady.length} timed)`);
  console.log(`  work        ${(flops / 1e9).toFixed(1)} GFLOP -> ${(flops / 1e9 / (mean / 1000)).toFixed(2)} GFLOP/s`);
  console.log(`  peak RSS    ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB so far\n`);
}
