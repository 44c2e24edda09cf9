/**
 * Training-step time and peak memory against PyTorch, in one invocation: conv-lora-binary's step
 * (bench/train-step.ts) and the same model + adapter + loss + optimiser in PyTorch
 * (bench/reference/train_step.py: the architecture the SAM fixtures rebuild from torch ops,
 * Debian's python3-torch, OMP_WAIT_POLICY=PASSIVE), each case in a fresh process of its own so
 * its peak RSS is its own; median seconds per step after one warm-up step. Cases: the small config
 * (SMALL_SAM, 64 px, batch 4) and vit_b at 512 px (batch 1) for Conv-LoRA, LoRA and decoder-only;
 * `--large` adds vit_b at 1024 px, the paper's setting (about 12 more minutes); `--flat` prints
 * samflow's RSS and live tensors after each of 10 vit_b 512 Conv-LoRA steps.
 *
 *   npm run bench:train [-- --large] [-- --flat]
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { median } from './timing.ts';

interface Figures {
  readonly steps: number[];
  readonly rss: number[];
  readonly peak_rss: number;
  readonly tensors?: number[];
}

interface Case {
  readonly config: 'small' | 'vit_b';
  readonly size: number;
  readonly batch: number;
  readonly method: 'conv-lora' | 'lora' | 'decoder-only';
  readonly steps: number;
}

const METHODS = ['conv-lora', 'lora', 'decoder-only'] as const;
const large = process.argv.includes('--large');
const flat = process.argv.includes('--flat');
const threads = String(os.cpus().length);

function parseLast(stdout: string): Figures {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Figures;
}

function samflow(c: Case): Figures | string {
  const script = fileURLToPath(new URL('./train-step.ts', import.meta.url));
  const child = spawnSync(process.execPath, ['--import', 'tsx', script, c.config, String(c.size), String(c.batch), c.method, String(c.steps)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (child.status !== 0) return `failed (${child.signal ?? `status ${child.status}`}): ${(child.stderr || '').trim().split('\n').at(-1) ?? ''}`;
  return parseLast(child.stdout);
}

function pytorch(c: Case): Figures | string {
  const script = fileURLToPath(new URL('./reference/train_step.py', import.meta.url));
  const python = process.env.SAMFLOW_TORCH_PYTHON ?? '/usr/bin/python3';
  const child = spawnSync(python, [script, '--config', c.config, '--size', String(c.size), '--batch', String(c.batch), '--method', c.method, '--steps', String(c.steps), '--threads', threads], {
    encoding: 'utf8',
    env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OPENBLAS_NUM_THREADS: threads, OMP_NUM_THREADS: threads },
  });
  if (child.status !== 0) return `PyTorch reference did not run (${python}): ${(child.stderr || child.error?.message || '').trim().split('\n').at(-1)}`;
  return parseLast(child.stdout);
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

const cases: Case[] = [
  ...METHODS.map((method): Case => ({ config: 'small', size: 64, batch: 4, method, steps: 10 })),
  ...METHODS.map((method): Case => ({ config: 'vit_b', size: 512, batch: 1, method, steps: 3 })),
  ...(large ? METHODS.map((method): Case => ({ config: 'vit_b', size: 1024, batch: 1, method, steps: 2 })) : []),
];

console.log(`training step: samflow (worker backend) vs PyTorch ${threads} threads; median s/step after a warm-up step, peak RSS of the process\n`);
const header = ['config', 'method', 'PyTorch s/step', 'samflow s/step', 'ratio', 'PyTorch RSS', 'samflow RSS', 'ratio'];
const rows: string[][] = [];
for (const c of cases) {
  const [theirs, ours] = [pytorch(c), samflow(c)];
  const name = c.config === 'small' ? `small (${c.size} px, batch ${c.batch})` : `vit_b ${c.size} px, batch ${c.batch}`;
  const t = typeof theirs === 'string' ? undefined : theirs;
  const o = typeof ours === 'string' ? undefined : ours;
  rows.push([
    name,
    c.method,
    t ? median(t.steps).toFixed(2) : String(theirs),
    o ? median(o.steps).toFixed(2) : String(ours),
    t && o ? ratio(median(o.steps), median(t.steps)) : '-',
    t ? gib(t.peak_rss) : '-',
    o ? gib(o.peak_rss) : '-',
    t && o ? ratio(o.peak_rss, t.peak_rss) : '-',
  ]);
  console.log(rows.at(-1)!.join('  |  '));
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: readonly string[]) => r.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}`);

if (flat) {
  const run = samflow({ config: 'vit_b', size: 512, batch: 1, method: 'conv-lora', steps: 10 });
  if (typeof run === 'string') console.log(`\nvit_b 512 over 10 steps: ${run}`);
  else console.log(`\nvit_b 512 Conv-LoRA over 10 steps (samflow): RSS ${run.rss.map(gib).join(', ')}; live tensors ${run.tensors!.join(', ')}`);
}
