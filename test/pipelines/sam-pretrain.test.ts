/**
 * The project's pretrained base (pipelines/sam-pretrain.ts, sam-pretrain-base.ts): pre-training lowers the loss and lifts the centre-point IoU on held-out scenes
 * above the untrained model's; the result is an ordinary SAM checkpoint holding exactly the
 * run's last weights; a second request comes from the cache; the same seed gives the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunEvent } from '../../src/graph/events.ts';
import { RunFolder } from '../../src/api/run-folder.ts';
import { readAdapterCheckpoint } from '../../src/nodes/adapters/checkpoint.ts';
import { loadSamCheckpoint } from '../../src/nodes/sam/checkpoint/load.ts';
import { officialShapes } from '../../src/nodes/sam/params.ts';
import { baseKey, cacheRoot, codeFiles, pretrainedBase } from '../../pipelines/sam-pretrain-base.ts';
import { PRETRAIN_SAM, samPretrain } from '../../pipelines/sam-pretrain.ts';
import { tempDir } from '../fixtures/datasets.ts';
import { TINY_SAM } from '../fixtures/sam-configs.ts';

// The built-in base architecture on simpler scenes than the default (1 to 3 larger objects) for
// 320 steps: the smallest run measured to get past the empty-mask plateau (the tiny test config
// does not within a minute).
const LEARN = { epochs: 4, train: 640, val: 8, batchSize: 8, lr: 2e-3, warmupSteps: 0, objects: [1, 3] as [number, number], minScale: 0.15 };

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('sam-pretrain', () => {
  it('learns: the training loss falls and the zero-shot point IoU on held-out scenes beats the untrained model', async () => {
    const cache = tempDir('samflow-cache-');
    const events: RunEvent[] = [];
    const base = await pretrainedBase({ options: LEARN, test: 32, cacheDir: cache, onEvent: (phase, e) => phase === 'pretrain' && events.push(e) });
    expect(base.cached).toBe(false);
    const losses = events.flatMap((e) => (e.type === 'metric' && e.name === 'loss' && e.split === 'train' ? [e.value] : []));
    const steps = LEARN.epochs * (LEARN.train / LEARN.batchSize);
    expect(losses).toHaveLength(steps);
    // The first updates against the last epoch's.
    expect(mean(losses.slice(-steps / LEARN.epochs))).toBeLessThan(0.8 * mean(losses.slice(0, 10)));
    const { pretrained, untrained } = base.quality;
    expect(pretrained.pointIou, JSON.stringify(base.quality)).toBeGreaterThan(untrained.pointIou + 0.04);
    expect(JSON.parse(readFileSync(join(base.dir, 'quality.json'), 'utf8'))).toEqual(base.quality);
    expect(JSON.parse(readFileSync(base.arch, 'utf8'))).toEqual(PRETRAIN_SAM);
    // An ordinary SAM checkpoint: strict load for the arch, holding the run's last weights exactly.
    const { params, report } = await loadSamCheckpoint(base.path, PRETRAIN_SAM);
    expect(report).toMatchObject({ format: 'safetensors', naming: 'official', loaded: officialShapes(PRETRAIN_SAM).size, missing: [], mismatched: [] });
    const run = RunFolder.open(join(base.dir, 'run'));
    const last = await readAdapterCheckpoint(join(run.checkpointDir(run.resolveCheckpoint('last')), 'peft'));
    for (const [key, t] of params) expect(t.dataSync(), key).toEqual(last.tensors.get(`base.${key}`)!.data);
    for (const t of params.values()) t.dispose();
    // Asked again: from the cache, without training.
    const again = await pretrainedBase({ options: LEARN, test: 32, cacheDir: cache, onEvent: () => expect.unreachable('a cached base runs nothing') });
    expect(again).toMatchObject({ cached: true, path: base.path, quality: base.quality });
  }, 240_000);

  it('is deterministic: the same seed gives the same checkpoint bytes, another seed other weights', async () => {
    const options = { arch: TINY_SAM, epochs: 1, train: 8, val: 0, batchSize: 4, prompts: 2 };
    const bytes: Buffer[] = [];
    for (const extra of [{}, {}, { seed: 1 }]) {
      const base = await pretrainedBase({ options: { ...options, ...extra }, test: 4, cacheDir: tempDir('samflow-cache-') });
      bytes.push(readFileSync(base.path));
    }
    const [a, b, c] = bytes;
    expect(a!.equals(b!)).toBe(true);
    expect(a!.equals(c!)).toBe(false);
  }, 120_000);

  it('keys the cache by options, seed and code, under $XDG_CACHE_HOME/samflow', () => {
    expect(cacheRoot({ XDG_CACHE_HOME: '/x' })).toBe('/x/samflow');
    expect(cacheRoot({ HOME: '/h' })).toMatch(/\.cache\/samflow$/);
    const key = baseKey({ options: LEARN }).key;
    expect(baseKey({ options: { ...LEARN } }).key).toBe(key);
    expect(baseKey({ options: { ...LEARN, seed: 1 } }).key).not.toBe(key);
    expect(baseKey({ options: { ...LEARN, epochs: 7 } }).key).not.toBe(key);
    // The code is what the pipeline, its nodes and the worker import, not every file of the repository.
    const files = codeFiles();
    for (const f of ['src/nodes/sam/pretrain-node.ts', 'src/nodes/losses/focal.ts', 'src/nodes/data/synthetic-generic.ts', 'src/nodes/train/adam.ts', 'workers/segment-runner.ts']) expect(files).toContain(f);
    expect(files.filter((f) => f.startsWith('src/nodes/report/') || f.endsWith('/index.ts'))).toEqual([]);
  });

  it('refuses a config without the multimask output', () => {
    expect(() => samPretrain({ arch: { ...TINY_SAM, num_multimask_outputs: 0 } })).toThrow(/needs the multimask output/);
  });
});
