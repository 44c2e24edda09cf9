import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { compile } from '../../src/graph/compile.ts';
import { run } from '../../src/graph/run.ts';
import { SAM_PRESETS } from '../../src/nodes/sam/config.ts';
import { TensorWorker } from '../../workers/host.ts';
import { join } from 'node:path';
import { convLoraBinary, convLoraBinaryEvaluate, convLoraBinaryPredict } from '../../pipelines/conv-lora-binary.ts';
import { tempDir, writeKvasir, writeNyu } from '../fixtures/datasets.ts';
import { TINY_SAM } from '../fixtures/sam-configs.ts';

describe('Conv-LoRA binary pipeline', () => {
  it('learns on held-out images, reports what trains, routes through experts, and keeps tensors flat', async () => {
    const graph = convLoraBinary({ arch: TINY_SAM, epochs: 4, train: 24, val: 8, lr: 1e-2 });
    // data, resize, flip, batch, the worker segment, metrics, the report's gallery.
    expect(compile(graph).stages.map((s) => s.type)).toEqual(['source', 'main', 'main', 'main', 'worker', 'main', 'main']);
    const events = await lastValueFrom(run(compile(graph), { executor: () => TensorWorker.start() }).pipe(toArray()));
    expect(events.at(-1)).toMatchObject({ type: 'finished', items: 4 * 32 });
    const mean = (name: string, split: string, epoch: number) => {
      const v = events.flatMap((e) => (e.type === 'metric' && e.name === name && e.split === split && e.epoch === epoch ? [e.value] : []));
      return v.reduce((a, b) => a + b, 0) / v.length;
    };
    expect(mean('loss', 'val', 3)).toBeLessThan(0.8 * mean('loss', 'val', 0));
    expect(mean('iou', 'val', 3)).toBeGreaterThan(mean('iou', 'val', 0) + 0.2);
    const report = events.find((e) => e.type === 'log' && e.node === 'peft');
    expect(report).toMatchObject({ message: expect.stringContaining('conv-lora adapters') });
    // One usage report per (split, epoch), summing every routed window of every adapted layer.
    const usage = events.filter((e) => e.type === 'log' && e.message.startsWith('expert usage'));
    expect(usage).toHaveLength(4 * 2);
    expect(usage[0]).toMatchObject({ message: expect.stringMatching(/^expert usage \(train, epoch 1\), scales 1\.\.8 over 2 layers: (\d+ ){7}\d+$/) });
    // 24 training images a epoch: 4 windows each in block 0 (8x8 grid, window 4) + the whole grid in block 1;
    // the set-up pass before the first optimiser step is not counted.
    const routed = (usage[0] as { message: string }).message.split(': ')[1]!.split(' ').map(Number);
    expect(routed.reduce((a, b) => a + b, 0)).toBe(24 * 4 + 24);
    const counts = (usage[0] as { data: { usage: Record<string, number[]> } }).data.usage;
    expect(Object.keys(counts)).toEqual(['image_encoder.blocks.0.attn.qkv', 'image_encoder.blocks.1.attn.qkv']);
    // Flat over the last epoch; before that, only the optimiser's moments may appear (two per
    // variable, created the first time an expert is routed to): 2 layers x (4 + 2 x 8 experts) variables.
    const progress = events.flatMap((e) => (e.type === 'progress' && e.tensors !== undefined ? [e] : []));
    const tensors = progress.map((e) => e.tensors!);
    expect(new Set(progress.filter((e) => e.epoch === 3).map((e) => e.tensors))).toEqual(new Set([tensors.at(-1)]));
    expect(Math.max(...tensors) - tensors[0]!).toBeLessThanOrEqual(2 * 2 * (4 + 2 * 8));
  });
});

describe('Conv-LoRA binary pipeline on a data folder', () => {
  it('reads a Kvasir-style folder with the paired-folders reader, holding out 20 % as val', async () => {
    const root = await writeKvasir(tempDir(), 5);
    const node = convLoraBinary({ arch: TINY_SAM, data: root }).node('data');
    expect(node.kind).toBe('data/paired-folders');
    expect(node.params).toMatchObject({ root, holdout: 0.2, epochs: 3 });
  });

  it('passes the reader options to training; evaluation reads one whole split in file order with the file options, prediction skips corrupt images', async () => {
    const root = await writeKvasir(tempDir(), 6);
    const options = { arch: TINY_SAM, data: root, skipUnpaired: true, skipCorrupt: true, resizeMasks: true, maskThreshold: 0, limit: 5, holdout: 0.4, splits: ['train', 'val'] };
    expect(convLoraBinary(options).node('data').params).toMatchObject({ root, skipUnpaired: true, skipCorrupt: true, resizeMasks: true, maskThreshold: 0, limit: 5, holdout: 0.4, splits: ['train', 'val'] });
    const evaluation = convLoraBinaryEvaluate(options, { data: root, checkpoint: '/run/checkpoints/epoch-1' }).node('data').params;
    expect(evaluation).toMatchObject({ root, skipUnpaired: true, skipCorrupt: true, resizeMasks: true, maskThreshold: 0, splits: ['train'], shuffle: false, holdout: 0 });
    expect(evaluation).not.toHaveProperty('limit');
    const prediction = convLoraBinaryPredict(options, { images: join(root, 'images'), out: tempDir(), checkpoint: '/run/checkpoints/epoch-1', probs: false }).node('images').params;
    expect(prediction).toMatchObject({ root: join(root, 'images'), skipCorrupt: true });
    // splits without 'val' hold nothing out by default; a given holdout replaces the default 0.2.
    expect(convLoraBinary({ arch: TINY_SAM, data: root, splits: ['train'] }).node('data').params).toMatchObject({ holdout: 0 });
    expect(convLoraBinary({ arch: TINY_SAM, data: root, holdout: 0.5 }).node('data').params).toMatchObject({ holdout: 0.5 });
  });

  it('checks the checkpoint file when the graph is built', () => {
    const dir = tempDir();
    expect(() => convLoraBinary({ arch: TINY_SAM, checkpoint: join(dir, 'sam.pth') })).toThrow(
      new Error(`option 'checkpoint': ${join(dir, 'sam.pth')}: no such file (expected SAM weights: an official .pth or a Hugging Face .safetensors)`),
    );
    expect(() => convLoraBinary({ arch: TINY_SAM, checkpoint: dir })).toThrow(new Error(`option 'checkpoint': ${dir}: not a file (expected SAM weights: an official .pth or a Hugging Face .safetensors)`));
  });

  it('refuses a data set without binary masks', () => {
    const root = writeNyu(tempDir());
    expect(() => convLoraBinary({ arch: TINY_SAM, data: root })).toThrow(`${root}: a nyuv2-mtan data set has no binary masks; conv-lora-binary needs binary segmentation data`);
  });
});

describe('Conv-LoRA binary pipeline input size', () => {
  it('takes imageSize as another input size of the same arch, and names the option when the config cannot take it', () => {
    const graph = convLoraBinary({ arch: 'vit_b', imageSize: 512 });
    expect(graph.node('sam').params).toMatchObject({ arch: { ...SAM_PRESETS.vit_b, image_size: 512 } });
    expect(graph.node('resize').params).toMatchObject({ size: 512 });
    expect(() => convLoraBinary({ imageSize: 30 })).toThrow(/^option 'imageSize' \(30\): /);
  });
});

describe('Conv-LoRA binary pipeline adapter settings', () => {
  it("passes a method's own settings to adapters/inject, which checks them", () => {
    expect(convLoraBinary({ arch: TINY_SAM, method: 'lst', adapter: { sideReduction: 4 } }).node('peft').params).toMatchObject({ method: 'lst', sideReduction: 4 });
    expect(() => convLoraBinary({ arch: TINY_SAM, method: 'lst', adapter: { sideReduction: 'four' } })).toThrow(/peft.*sideReduction/s);
  });
});
