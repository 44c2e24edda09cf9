/**
 * The ta-lora-multitask pipeline: learning on the synthetic scenes (each task's val metric
 * against the untrained model's, on val images never trained on), the batched and per-task
 * encoder paths inside a real graph run, the LoRA-STL / LoRA-HPS baselines (what trains), and an
 * MTAN NYUv2-layout fixture through train → eval (with Δm against a baseline run) → predict → resume.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom, tap, toArray } from 'rxjs';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, predict } from '../../src/api/inference.ts';
import { runGraph } from '../../src/api/run-graph.ts';
import { resume, train } from '../../src/api/training.ts';
import type { RunEvent } from '../../src/graph/events.ts';
import { openSafetensors } from '../../src/nodes/sam/checkpoint/safetensors.ts';
import { loraDelta, taskLoraDelta, createLoraWeights } from '../../src/nodes/adapters/lora/layer.ts';
import { adapterParams, taLoraMultitask, taLoraMultitaskSyntheticScore } from '../../pipelines/ta-lora-multitask.ts';
import { tempDir, writeNyu } from '../fixtures/datasets.ts';
import { TINY_SAM } from '../fixtures/sam-configs.ts';
import { maxAbsDiff, useBackend } from '../fixtures/tensors.ts';

const finalMetrics = (events: readonly RunEvent[], split: string) => {
  const out: Record<string, number> = {};
  for (const e of events) if (e.type === 'metric' && e.split === split && e.name.includes('/')) out[e.name] = e.value;
  return out;
};
const drain = async (events: Awaited<ReturnType<typeof train>>['events']) => {
  const all = await lastValueFrom(events.pipe(toArray()));
  const end = all.at(-1)!;
  if (end.type !== 'finished') throw new Error(`run did not finish: ${JSON.stringify(end)}`);
  return all;
};
async function tensorsOf(file: string): Promise<Map<string, Float32Array>> {
  const st = await openSafetensors(file);
  try {
    const out = new Map<string, Float32Array>();
    for (const [k, e] of st.entries) out.set(k, await e.read());
    return out;
  } finally {
    await st.close();
  }
}

describe('ta-lora-multitask on the synthetic scenes', () => {
  const dir = tempDir('samflow-mtl-');
  const arch = join(dir, 'tiny.json');
  const options = { arch, train: 24, val: 12, epochs: 10, batchSize: 2, lr: 5e-3 };
  let events: RunEvent[];
  let run: string;

  beforeAll(async () => {
    writeFileSync(arch, JSON.stringify(TINY_SAM));
    run = join(dir, 'run');
    events = await drain((await train({ pipeline: 'ta-lora-multitask', options, out: run })).events);
  }, 120_000);

  it('improves every task over the untrained model on val images it never trained on; tensors stay flat', async () => {
    const score = async (checkpoint?: string) => finalMetrics(await lastValueFrom(runGraph(taLoraMultitaskSyntheticScore(options, checkpoint)).pipe(toArray())), 'val');
    const untrained = await score();
    const trained = await score(join(run, 'checkpoints', JSON.parse(readFileSync(join(run, 'checkpoints', 'last.json'), 'utf8')).checkpoint));
    expect(trained['seg/miou']).toBeGreaterThan(untrained['seg/miou']! + 0.05);
    expect(trained['seg/pixel_accuracy']).toBeGreaterThan(untrained['seg/pixel_accuracy']! + 0.05);
    expect(trained['depth/abs_err']).toBeLessThan(0.8 * untrained['depth/abs_err']!);
    expect(trained['normal/mean']).toBeLessThan(untrained['normal/mean']! - 1);
    // What the run reports is what the score graph computes from the same checkpoint.
    expect(finalMetrics(events, 'val')['depth/abs_err']).toBeCloseTo(trained['depth/abs_err']!, 4);
    const tensors = events.flatMap((e) => (e.type === 'progress' && e.tensors !== undefined && e.epoch === 9 ? [e.tensors] : []));
    expect(new Set(tensors).size).toBe(1);
  });

  it('gives the same outputs with the batched all-tasks encoder pass inside a graph run (batch 2)', async () => {
    const checkpoint = join(run, 'checkpoints', JSON.parse(readFileSync(join(run, 'checkpoints', 'last.json'), 'utf8')).checkpoint);
    const metrics = async (batchedTasks: boolean) => finalMetrics(await lastValueFrom(runGraph(taLoraMultitaskSyntheticScore({ ...options, batchedTasks }, checkpoint)).pipe(toArray())), 'val');
    const [perTask, batched] = [await metrics(false), await metrics(true)];
    for (const [name, value] of Object.entries(perTask)) expect(batched[name], name).toBeCloseTo(value, 4);
    // The tasks' encoder passes differ after training (G left 0), so agreement is not trivial.
    const peft = await tensorsOf(join(checkpoint, 'peft.safetensors'));
    expect(Math.max(...[...peft].filter(([k]) => k.endsWith('td_core')).map(([, v]) => Math.max(...v.map(Math.abs))))).toBeGreaterThan(1e-3);
  });
});

describe('LoRA-STL and LoRA-HPS baselines', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('per-task LoRA computes s·x·A_t·B_t on each task-major group', () => {
    const w = [0, 1, 2].map((t) => createLoraWeights(6, 5, 2, 10 + t));
    tf.tidy(() => w.forEach((x, t) => x.b.assign(tf.randomNormal([2, 5], 0, 1, 'float32', t))));
    const x = tf.randomNormal([6, 4, 6], 0, 1, 'float32', 7);
    const grouped = taskLoraDelta(x, [w[2]!, w[0]!, w[1]!], 0.5, 0, false, 0);
    const ref = tf.concat([2, 0, 1].map((t, g) => tf.mul(tf.matMul(tf.matMul(tf.slice(x, [2 * g], [2]).reshape([8, 6]), w[t]!.a), w[t]!.b), 0.5).reshape([2, 4, 5])));
    expect(maxAbsDiff(grouped, ref)).toBeLessThan(1e-5);
    expect(maxAbsDiff(taskLoraDelta(x, [w[1]!], 0.5, 0, false, 0), loraDelta(x, w[1]!, 0.5, 0, false, 0))).toBe(0);
  });

  it('changes only the peft node between the methods', () => {
    const nodes = (method: 'ta-lora' | 'lora-stl' | 'lora-hps') => taLoraMultitask({ arch: TINY_SAM, method, train: 2, val: 2, epochs: 1 }).toJson().nodes;
    const [ta, stl, hps] = [nodes('ta-lora'), nodes('lora-stl'), nodes('lora-hps')];
    const differing = (a: typeof ta, b: typeof ta) => a.filter((n, i) => JSON.stringify(n) !== JSON.stringify(b[i])).map((n) => n.name);
    expect(differing(stl, hps)).toEqual(['peft']);
    // TA-LoRA also feeds its regulariser to the loss.
    expect(differing(ta, stl)).toEqual(['peft', 'loss']);
    expect(adapterParams({ method: 'lora-stl' }, 3)).toMatchObject({ method: 'lora', tasks: 3, rank: 4, alpha: 4, trainDecoder: false });
    expect(adapterParams({ method: 'lora-hps' }, 3)).toMatchObject({ method: 'lora', tasks: 1 });
  });

  it.each(['lora-stl', 'lora-hps'] as const)('%s trains its LoRA(s) and mSAM heads, nothing else', async (method) => {
    const dir = tempDir('samflow-mtl-base-');
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_SAM));
    const run = join(dir, 'run');
    const events = await drain((await train({ pipeline: 'ta-lora-multitask', options: { arch: join(dir, 'tiny.json'), method, train: 4, val: 2, epochs: 1, batchSize: 2 }, out: run })).events);
    expect(events.some((e) => e.type === 'metric' && e.name === 'grad_norm')).toBe(true);
    const checkpoint = join(run, 'checkpoints', 'epoch-1');
    const peft = await tensorsOf(join(checkpoint, 'peft.safetensors'));
    const blocks = TINY_SAM.encoder_depth;
    const suffixes = method === 'lora-stl' ? ['lora_A.0', 'lora_A.1', 'lora_A.2', 'lora_B.0', 'lora_B.1', 'lora_B.2'] : ['lora_A', 'lora_B'];
    const expected = Array.from({ length: blocks }, (_, b) => suffixes.map((s) => `adapter.image_encoder.blocks.${b}.attn.qkv.${s}`)).flat();
    // No base parameter is unfrozen: neither the encoder norms nor the model's own decoder.
    expect([...peft.keys()].sort()).toEqual(expected.sort());
    // Every B started at 0 and moved: each task's LoRA got gradients.
    for (const [k, v] of peft) if (k.includes('lora_B')) expect(Math.max(...v.map(Math.abs)), k).toBeGreaterThan(0);
    const heads = await tensorsOf(join(checkpoint, 'msam.safetensors'));
    expect([...heads.keys()].filter((k) => !k.startsWith('task.')).sort()).toEqual(['no_mask_embed']);
    expect(new Set([...heads.keys()].filter((k) => k.startsWith('task.')).map((k) => k.split('.')[1]))).toEqual(new Set(['seg', 'depth', 'normal']));
  }, 60_000);
});

describe('ta-lora-multitask on an MTAN NYUv2-layout folder', () => {
  const dir = tempDir('samflow-mtl-nyu-');
  const nyu = join(dir, 'nyuv2');
  const arch = join(dir, 'tiny.json');

  beforeAll(() => {
    writeFileSync(arch, JSON.stringify(TINY_SAM));
    writeNyu(nyu, { train: 4, val: 2 });
  });

  it('trains, evaluates (with Δm against a LoRA-STL run), predicts per-task PNGs and refuses a run that ended', async () => {
    const runs = { ta: join(dir, 'ta'), stl: join(dir, 'stl') };
    for (const [name, method] of [['ta', 'ta-lora'], ['stl', 'lora-stl']] as const) {
      await drain((await train({ pipeline: 'ta-lora-multitask', options: { arch, data: nyu, method, epochs: 2, batchSize: 2 }, out: runs[name] })).events);
    }
    const evaluation = async (run: string, baseline?: string) => {
      const started = await evaluate({ run, data: nyu, ...(baseline ? { baseline } : {}) });
      await lastValueFrom(started.events.pipe(toArray()));
      return JSON.parse(readFileSync(join(started.dir, 'metrics.json'), 'utf8')) as { split: string; metrics: Record<string, number> };
    };
    const base = await evaluation(runs.stl);
    // MTAN's val is the benchmark's test split, evaluated by default.
    expect(base.split).toBe('val');
    expect(Object.keys(base.metrics).sort()).toEqual(['depth/abs_err', 'depth/rel_err', 'normal/mean', 'normal/median', 'normal/within_11.25', 'normal/within_22.5', 'normal/within_30', 'seg/miou', 'seg/pixel_accuracy']);
    await expect(evaluate({ run: runs.ta, data: nyu, split: 'train', baseline: runs.stl, name: 'x' })).rejects.toThrow(`--baseline ${runs.stl}: it has no evaluation on ${nyu} split 'train'`);
    const ours = await evaluation(runs.ta, runs.stl);
    // Δm by hand (LibMTL's task-averaged form): per task the mean of signed relative changes.
    // Metrics the baseline scores 0 have no relative change and are left out.
    const task = (terms: [string, boolean][]) => {
      const rel = terms.filter(([k]) => base.metrics[k] !== 0).map(([k, higher]) => ((higher ? 1 : -1) * (ours.metrics[k]! - base.metrics[k]!)) / base.metrics[k]!);
      return rel.reduce((a, b) => a + b, 0) / rel.length;
    };
    const seg = task([['seg/miou', true], ['seg/pixel_accuracy', true]]);
    const depth = task([['depth/abs_err', false], ['depth/rel_err', false]]);
    const normal = task([['normal/mean', false], ['normal/median', false], ['normal/within_11.25', true], ['normal/within_22.5', true], ['normal/within_30', true]]);
    expect(ours.metrics.delta_m).toBeCloseTo((100 * (seg + depth + normal)) / 3, 6);

    // Prediction: the val images as PNGs (12×9), one PNG per task and image.
    const images = join(dir, 'images');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(images);
    for (const id of ['a', 'b']) await sharp(Buffer.alloc(12 * 9 * 3, id === 'a' ? 90 : 200), { raw: { width: 12, height: 9, channels: 3 } }).png().toFile(join(images, `${id}.png`));
    const out = join(dir, 'pred');
    await lastValueFrom((await predict({ run: runs.ta, images, out })).events.pipe(toArray()));
    expect(readdirSync(out).sort()).toEqual(['depth', 'normal', 'seg']);
    const seg16 = await sharp(join(out, 'seg', 'a.png')).metadata();
    expect([seg16.width, seg16.height, seg16.channels, seg16.depth]).toEqual([12, 9, 1, 'uchar']);
    const depthPng = await sharp(join(out, 'depth', 'a.png')).metadata();
    expect([depthPng.channels, depthPng.depth]).toEqual([1, 'ushort']);
    const normalPng = await sharp(join(out, 'normal', 'b.png')).metadata();
    expect([normalPng.channels, normalPng.depth]).toEqual([3, 'uchar']);
    await expect(predict({ run: runs.ta, images, out })).rejects.toThrow('predict never overwrites');
    // Both epochs done: nothing to resume.
    await expect(resume(runs.ta)).rejects.toThrow('the run has ended');
    // A run stopped after its first epoch resumes (the msam heads, adapter and optimiser restored) and ends where an uninterrupted one does.
    const stopped = new AbortController();
    const cut = join(dir, 'cut');
    const first = await train({ pipeline: 'ta-lora-multitask', options: { arch, data: nyu, epochs: 2, batchSize: 2 }, out: cut, signal: stopped.signal });
    const firstEvents = await lastValueFrom(first.events.pipe(tap((e) => e.type === 'checkpoint' && stopped.abort()), toArray()));
    expect(firstEvents.filter((e) => e.type === 'checkpoint')).toHaveLength(1);
    const resumed = await drain((await resume(cut)).events);
    expect(resumed.filter((e) => e.type === 'checkpoint').map((e) => (e as { epoch: number }).epoch)).toEqual([1]);
    const [a, b] = [await tensorsOf(join(cut, 'checkpoints', 'epoch-2', 'msam.safetensors')), await tensorsOf(join(runs.ta, 'checkpoints', 'epoch-2', 'msam.safetensors'))];
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [k, v] of a) expect(Math.max(...v.map((x, i) => Math.abs(x - b.get(k)![i]!))), k).toBeLessThan(1e-5);
    // The report's per-task gallery has the normals too.
    expect(readFileSync(join(runs.ta, 'report.html'), 'utf8')).toContain('alt="val 2: normal prediction"');
  }, 120_000);
});
