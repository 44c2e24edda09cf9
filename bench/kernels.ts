/**
 * The native kernels against wasm, plain cpu and PyTorch, in one invocation:
 *   - GEMM GFLOP/s on [4096x768]·[768x768] and [4096x768]·[768x3072] (and B transposed), native
 *     with OpenBLAS, native with the blocked fallback, wasm, cpu;
 *   - one SAM ViT block with global attention and a rank-4 LoRA on qkv (bench/vit-block.ts):
 *     forward, and forward + backward (gradients for the input and LoRA), at 32x32 tokens x 256,
 *     32x32 x 768 and 64x64 x 768, with peak RSS;
 *   - the same work in PyTorch (bench/reference/vit_block.py, Debian's python3-torch + OpenBLAS,
 *     as many threads as cores), run here, and the ratio samflow native / PyTorch.
 * Every measurement runs in its own child process, so one backend's memory (or a wasm abort)
 * does not touch the next.
 *
 *   npm run bench:kernels
 *   npm run bench:kernels -- --quick      # fewer runs, skips the slowest plain-cpu cases
 *   npm run bench:kernels -- --only gemm  # or --only blocks
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import { loadAddon } from '../workers/native/addon.ts';
import { selectBackend, type BackendChoice } from '../workers/backend.ts';
import { makeBlock, type BlockShape } from './vit-block.ts';
import { timeIt } from './timing.ts';

type Gemm = { m: number; k: number; n: number; transposeB: boolean };
type Job =
  | { kind: 'gemm'; backend: BackendChoice; blocked?: boolean; gemm: Gemm; runs: number }
  | { kind: 'block'; backend: BackendChoice; block: BlockShape; runs: number; train: boolean };
type Result = { ok: true; ms: number; peakRssMiB: number } | { ok: false; error: string; peakRssMiB: number };



/** Runs one job in this process (the child side). */
async function runJob(job: Job): Promise<number> {
  await selectBackend(job.backend);
  if (job.kind === 'gemm') {
    if (job.blocked) {
      const load = loadAddon();
      if (!load.ok) throw new Error(load.reason);
      load.addon.setGemm('blocked');
    }
    const { m, k, n, transposeB } = job.gemm;
    const a = tf.randomNormal([m, k], 0, 1, 'float32', 1);
    const b = tf.randomNormal(transposeB ? [n, k] : [k, n], 0, 1, 'float32', 2);
    // Kernels on cpu, native and wasm are synchronous: no read-back inside the timed loop (a read
    // takes the output out of the native pool, so each run would fault in a fresh array).
    const ms = timeIt(job.runs, () => tf.tidy(() => void tf.matMul(a, b, false, transposeB)));
    const check = tf.tidy(() => tf.matMul(a, b, false, transposeB).sum().dataSync()[0]!);
    if (!Number.isFinite(check)) throw new Error('the product is not finite');
    tf.dispose([a, b]);
    return ms;
  }
  const block = makeBlock(job.block);
  const ms = timeIt(job.runs, job.train ? block.trainStep : block.forward);
  block.dispose();
  return ms;
}

function spawnJob(job: Job): Result {
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', JSON.stringify(job)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = child.stdout.split('\n').find((l) => l.startsWith('{"result"'));
  if (line) return (JSON.parse(line) as { result: Result }).result;
  const why = (child.stderr.split('\n').find((l) => /Error|Abort|memory/i.test(l)) ?? `exit ${child.status ?? child.signal}`).trim();
  return { ok: false, error: why.slice(0, 120), peakRssMiB: NaN };
}

interface TorchReport {
  torch: string;
  threads: number;
  gemm: { m: number; k: number; n: number; ms: number; ms_transposed_b: number }[];
  blocks: { grid: number; dim: number; forward_ms: number; train_ms: number }[];
}

function runTorch(blocks: BlockShape[], runs: number): TorchReport | string {
  const script = fileURLToPath(new URL('./reference/vit_block.py', import.meta.url));
  const threads = String(os.cpus().length);
  const python = process.env.SAMFLOW_TORCH_PYTHON ?? '/usr/bin/python3';
  const child = spawnSync(python, [script, '--threads', threads, '--runs', String(runs), '--blocks', blocks.map((b) => `${b.grid}x${b.dim}`).join(',')], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: threads, OMP_NUM_THREADS: threads },
  });
  if (child.status !== 0) return `PyTorch reference did not run (${python}): ${(child.stderr || child.error?.message || '').trim().split('\n').at(-1)}`;
  return JSON.parse(child.stdout) as TorchReport;
}

const GEMMS: Gemm[] = [
  { m: 4096, k: 768, n: 768, transposeB: false },
  { m: 4096, k: 768, n: 3072, transposeB: false },
  { m: 4096, k: 768, n: 768, transposeB: true },
];
const BLOCKS: BlockShape[] = [
  { grid: 32, dim: 256 },
  { grid: 32, dim: 768 },
  { grid: 64, dim: 768 },
];

const cell = (r: Result | undefined, value: (ms: number) => string) => (!r ? 'skipped' : r.ok ? value(r.ms) : `failed: ${r.error}`);
const gflops = (g: Gemm, ms: number) => (2 * g.m * g.k * g.n) / ms / 1e6;

function reportGemm(torch: TorchReport | undefined, runs: number, quick: boolean): void {
  console.log('\nGEMM, GFLOP/s (median of runs)');
  console.log(`  ${'shape'.padEnd(26)} ${'native'.padStart(8)} ${'blocked'.padStart(8)} ${'wasm'.padStart(8)} ${'cpu'.padStart(8)} ${'torch'.padStart(8)}  native/torch`);
  for (const g of GEMMS) {
    const native = spawnJob({ kind: 'gemm', backend: 'native', gemm: g, runs: 4 * runs + 1 });
    const blocked = spawnJob({ kind: 'gemm', backend: 'native', blocked: true, gemm: g, runs: 4 * runs + 1 });
    const wasm = spawnJob({ kind: 'gemm', backend: 'wasm', gemm: g, runs });
    // Plain cpu runs at ~1 GFLOP/s: one product of the smallest shape says enough.
    const cpu = !quick && g.n === 768 && !g.transposeB ? spawnJob({ kind: 'gemm', backend: 'cpu', gemm: g, runs: 1 }) : undefined;
    const t = torch?.gemm.find((x) => x.m === g.m && x.k === g.k && x.n === g.n);
    const torchMs = t ? (g.transposeB ? t.ms_transposed_b : t.ms) : undefined;
    const f = (ms: number) => gflops(g, ms).toFixed(1);
    const ratio = native.ok && torchMs ? `${((gflops(g, native.ms) / gflops(g, torchMs)) * 100).toFixed(0)} %` : '-';
    const name = `${g.m}x${g.k} · ${g.transposeB ? `(${g.n}x${g.k})ᵀ` : `${g.k}x${g.n}`}`;
    console.log(`  ${name.padEnd(26)} ${cell(native, f).padStart(8)} ${cell(blocked, f).padStart(8)} ${cell(wasm, f).padStart(8)} ${cell(cpu, f).padStart(8)} ${(torchMs ? f(torchMs) : '-').padStart(8)}  ${ratio}`);
  }
}

function reportBlocks(torch: TorchReport | undefined, runs: number, quick: boolean): void {
  console.log('\nViT block (global attention, LoRA r=4 on qkv), ms (median of runs), peak RSS of the process');
  console.log(`  ${'tokens x dim, pass'.padEnd(28)} ${'native'.padStart(16)} ${'wasm'.padStart(16)} ${'cpu'.padStart(10)} ${'torch'.padStart(8)}  native/torch`);
  for (const block of BLOCKS) {
    const t = torch?.blocks.find((x) => x.grid === block.grid && x.dim === block.dim);
    for (const train of [false, true]) {
      // The small block takes a fifth of a second: more runs steady its median.
      const native = spawnJob({ kind: 'block', backend: 'native', block, runs: block.dim === 256 ? 3 * runs : runs, train });
      const wasm = spawnJob({ kind: 'block', backend: 'wasm', block, runs: Math.max(1, runs - 1), train });
      // Plain cpu: 5-60 s for the smallest block, far longer for the others.
      const cpu = !quick && block.dim === 256 ? spawnJob({ kind: 'block', backend: 'cpu', block, runs: 1, train }) : undefined;
      const torchMs = t ? (train ? t.train_ms : t.forward_ms) : undefined;
      const withRss = (r: Result) => (ms: number) => `${ms.toFixed(0)} (${(r.peakRssMiB / 1024).toFixed(1)}G)`;
      const ratio = native.ok && torchMs ? `${(native.ms / torchMs).toFixed(2)}x` : '-';
      const name = `${block.grid * block.grid} x ${block.dim}, ${train ? 'fwd+bwd' : 'fwd'}`;
      console.log(
        `  ${name.padEnd(28)} ${cell(native, withRss(native)).padStart(16)} ${cell(wasm, withRss(wasm)).padStart(16)} ${cell(cpu, (ms) => ms.toFixed(0)).padStart(10)} ${(torchMs?.toFixed(0) ?? '-').padStart(8)}  ${ratio}`,
      );
    }
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
  if (only !== undefined && only !== 'gemm' && only !== 'blocks') throw new Error(`--only: expected 'gemm' or 'blocks', got '${only}'`);
  const runs = quick ? 1 : 3;
  const load = loadAddon();
  console.log('samflow kernel benchmark');
  console.log(`  node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores`);
  console.log(`  native: ${load.ok ? load.addon.info().description : load.reason}\n`);

  process.stdout.write('PyTorch reference ... ');
  const torch = runTorch(only === 'gemm' ? [] : BLOCKS, runs);
  console.log(typeof torch === 'string' ? torch : `torch ${torch.torch}, ${torch.threads} threads`);
  const reference = typeof torch === 'string' ? undefined : torch;
  if (only !== 'blocks') reportGemm(reference, runs, quick);
  if (only !== 'gemm') reportBlocks(reference, runs, quick);
  if (typeof torch === 'string') console.log(`\n${torch}`);
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  const job = JSON.parse(process.argv[childAt + 1]!) as Job;
  let result: Result;
  try {
    result = { ok: true, ms: await runJob(job), peakRssMiB: process.resourceUsage().maxRSS / 1024 };
  } catch (error) {
    result = { ok: false, error: (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 120), peakRssMiB: process.resourceUsage().maxRSS / 1024 };
  }
  console.log(JSON.stringify({ result }));
} else {
  await main();
}
