/**
 * 200 training steps at conv-lora-binary's small config (SMALL_SAM, 64 px, batch 4, Conv-LoRA:
 * the sam/semantic forward, the structure + balance loss, AdamW) in a process of their own
 * (bench/train-step.ts, under --expose-gc: RSS measured after a full collection, since without one
 * RSS is a sawtooth of ~160 MiB with a period of ~150 steps), so that its RSS is its own: the live tensor
 * count and the RSS stay flat once every expert has been routed to (the optimiser's moments
 * appear then, two per variable). bench/train.ts prints the same for vit_b at 512 px (`--flat`).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const STEP = fileURLToPath(new URL('../../bench/train-step.ts', import.meta.url));

describe('memory over 200 training steps at the small config', () => {
  it('keeps the tensor count and RSS flat', () => {
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', STEP, 'small', '64', '4', 'conv-lora', '200'], { encoding: 'utf8', maxBuffer: 1 << 24 });
    expect(child.status, child.stderr).toBe(0);
    const { rss, tensors } = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { rss: number[]; tensors: number[] };
    expect(tensors).toHaveLength(200);
    // Every expert of the 4 blocks has been routed to by step 100: no tensor appears after.
    expect(new Set(tensors.slice(100)).size, JSON.stringify(tensors.slice(100))).toBe(1);
    // RSS after a full collection at each step (--expose-gc): the highest of the last 50 steps against that of steps 100-150.
    const high = (from: number, to: number) => Math.max(...rss.slice(from, to));
    const mib = rss.slice(100).map((b) => (b / 2 ** 20).toFixed(0)).join(', ');
    expect(high(150, 200) - high(100, 150), `RSS ${mib} MiB`).toBeLessThan(32 * 2 ** 20);
  }, 300_000);
});
