/** The binary pipeline with each PEFT method that brings its own module: learns, reports what trains, keeps tensors flat. */
import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { compile } from '../../src/graph/compile.ts';
import { run } from '../../src/graph/run.ts';
import { TensorWorker } from '../../workers/host.ts';
import { convLoraBinary } from '../../pipelines/conv-lora-binary.ts';
import type { AdapterMethodName } from '../../src/nodes/adapters/config.ts';
import { TINY_SAM } from '../fixtures/sam-configs.ts';

const METHODS: { method: AdapterMethodName; parameters: number }[] = [
  // d 32 / r 8 = 4 channels (2 heads of 2, MLP 16): ladders 3 × (32·4 + 4), gates 2, side blocks
  // 2 × 244, rel-pos 2·7·2 (window 4) + 2·15·2 (global, grid 8), up-projection 4·32 + 32
  { method: 'lst', parameters: 396 + 2 + 488 + 28 + 60 + 160 },
  // d 32 / scaleFactor 32 = 1 channel: 32·1 + 1, 4·4·3·1 + 1, 2 × (1 + 1), 1·32 + 32
  { method: 'sam-adapter', parameters: 33 + 49 + 4 + 64 },
];

describe.each(METHODS)('the binary pipeline with method $method', ({ method, parameters }) => {
  it('learns on held-out images, reports what trains, and keeps tensors flat', async () => {
    const graph = convLoraBinary({ arch: TINY_SAM, method, epochs: 4, train: 24, val: 8, lr: 1e-2 });
    const events = await lastValueFrom(run(compile(graph), { executor: () => TensorWorker.start() }).pipe(toArray()));
    expect(events.at(-1)).toMatchObject({ type: 'finished', items: 4 * 32 });
    const mean = (name: string, split: string, epoch: number) => {
      const v = events.flatMap((e) => (e.type === 'metric' && e.name === name && e.split === split && e.epoch === epoch ? [e.value] : []));
      return v.reduce((a, b) => a + b, 0) / v.length;
    };
    expect(mean('loss', 'val', 3)).toBeLessThan(0.8 * mean('loss', 'val', 0));
    expect(mean('iou', 'val', 3)).toBeGreaterThan(mean('iou', 'val', 0) + 0.2);
    const count = parameters.toLocaleString('en-US');
    expect(events.find((e) => e.type === 'log' && e.node === 'peft')).toMatchObject({ message: expect.stringMatching(new RegExp(`${method} adapters +${count} params, +${count} trainable`)) });
    const progress = events.flatMap((e) => (e.type === 'progress' && e.tensors !== undefined ? [e] : []));
    expect(new Set(progress.filter((e) => e.epoch === 3).map((e) => e.tensors)).size).toBe(1);
  });
});
