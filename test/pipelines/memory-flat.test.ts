/**
 * 200 training steps of the built-in conv-lora-binary at its small config (SMALL_SAM, 64 px,
 * batch 4, Conv-LoRA) in the tensor worker: the live tensor count and the process's RSS stay
 * flat once every expert has been routed to (the optimiser's moments appear then, two per
 * variable). bench/train.ts prints the same for vit_b at 512 px (`--flat`).
 */
import { lastValueFrom, tap, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/graph/compile.ts';
import { run } from '../../src/graph/run.ts';
import { TensorWorker } from '../../workers/host.ts';
import { convLoraBinary } from '../../pipelines/conv-lora-binary.ts';

describe('memory over 200 training steps at the small config', () => {
  it('keeps the tensor count and RSS flat', async () => {
    const graph = convLoraBinary({ train: 800, val: 0, epochs: 1, batchSize: 4 });
    const samples: { step: number; tensors: number; rss: number }[] = [];
    const events = await lastValueFrom(
      run(compile(graph), { executor: () => TensorWorker.start() }).pipe(
        tap((e) => {
          if (e.type === 'progress' && e.tensors !== undefined) samples.push({ step: e.items / 4, tensors: e.tensors, rss: process.memoryUsage().rss });
        }),
        toArray(),
      ),
    );
    expect(events.at(-1)).toMatchObject({ type: 'finished', items: 800 });
    const late = samples.filter((s) => s.step >= 100);
    expect(late.length).toBeGreaterThan(10);
    // Every expert of the 4 blocks has been routed to by step 100: no tensor appears after.
    expect(new Set(late.map((s) => s.tensors)).size, JSON.stringify(late.map((s) => s.tensors))).toBe(1);
    const grown = late.at(-1)!.rss - late[0]!.rss;
    expect(grown, `RSS ${late.map((s) => (s.rss / 2 ** 20).toFixed(0)).join(', ')} MiB`).toBeLessThan(48 * 2 ** 20);
  }, 240_000);
});
