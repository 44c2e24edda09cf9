import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { NodeEvent } from '../../../src/graph/events.ts';
import { parseAdapterConfig } from '../../../src/nodes/adapters/config.ts';
import { injectAdapter } from '../../../src/nodes/adapters/inject.ts';
import { orthogonalityLoss } from '../../../src/nodes/adapters/ta-lora/inject.ts';
import { crossEntropy } from '../../../src/nodes/losses/cross-entropy.ts';
import { depthL1 } from '../../../src/nodes/losses/depth-l1.ts';
import { normalCosine } from '../../../src/nodes/losses/normal-cosine.ts';
import { weightedSum } from '../../../src/nodes/losses/weighted-sum.ts';
import { imageEncoder } from '../../../src/nodes/sam/image-encoder.ts';
import { maskDecoder } from '../../../src/nodes/sam/mask-decoder.ts';
import { createSamModel, hooksOf, trainableVariables, type SamModel } from '../../../src/nodes/sam/model.ts';
import { MsamNode, MsamParams } from '../../../src/nodes/sam/msam-node.ts';
import { createMsamHeads, disposeMsamHeads, isIdleDecoderKey, type MsamHeads } from '../../../src/nodes/sam/msam/decoders.ts';
import { decodeTask, msamForward, msamInput } from '../../../src/nodes/sam/msam/forward.ts';
import { NYUV2_TASKS, parseTasks, taskOffsets } from '../../../src/nodes/sam/msam/tasks.ts';
import { randomSamParams } from '../../../src/nodes/sam/params.ts';
import { densePositionalEncoding, promptEncoder } from '../../../src/nodes/sam/prompt-encoder.ts';
import { PIXEL_MEAN, PIXEL_STD } from '../../../src/nodes/sam/transforms.ts';
import { TINY_SAM } from '../../fixtures/sam-configs.ts';
import { maxAbsDiff, useBackend } from '../../fixtures/tensors.ts';

const TASKS = parseTasks(
  [
    { name: 'seg', kind: 'segmentation', channels: 3 },
    { name: 'depth', kind: 'depth', channels: 1 },
    { name: 'normal', kind: 'normals', channels: 3, weight: 4 },
  ],
  'test',
);
const OPTIONS = { normalize: false, batched: false };
const model = (seed = 1): SamModel => createSamModel(TINY_SAM, randomSamParams(TINY_SAM, seed), `random:${seed}`);
/** A model with TA-LoRA on every qkv (G random, so the tasks' embeddings differ) and no trainable own decoder. */
function taLoraModel(): SamModel {
  const m = model();
  injectAdapter(m, parseAdapterConfig({ method: 'ta-lora', tasks: 3, tuckerRanks: [4, 4, 2], trainDecoder: false }));
  tf.tidy(() => {
    let s = 50;
    for (const v of m.adapters[0]!.weights.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.2, 'float32', s++)));
  });
  return m;
}
const images = (b: number, h = 32, w = 32, seed = 3) => tf.randomUniform([b, h, w, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
/** SAM's promptless decoder on the base parameters with a given dense embedding, mask token 0: [B, 4g, 4g]. */
function plainDecoder(m: SamModel, emb: tf.Tensor4D, dense?: tf.Tensor4D): tf.Tensor3D {
  const b = emb.shape[0];
  const prompts = promptEncoder({}, b, m.params, m.config);
  const out = maskDecoder(emb, densePositionalEncoding(m.params, m.config), prompts.sparse, dense ?? prompts.dense, m.params, m.config);
  return tf.slice(out.masks, [0, 0, 0, 0], [b, 1, 32, 32]).reshape([b, 32, 32]);
}
const channel = (low: tf.Tensor4D, c: number) => tf.slice(low, [0, c, 0, 0], [low.shape[0], 1, 32, 32]).reshape([low.shape[0], 32, 32]);

describe('mSAM tasks as data', () => {
  it('parses the NYUv2 preset and refuses task lists it cannot run, naming the task', () => {
    const nyu = parseTasks(NYUV2_TASKS, 'nyu');
    expect(nyu.map((t) => [t.name, t.kind, t.channels, t.loss, t.weight])).toEqual([
      ['seg', 'segmentation', 13, 'cross-entropy', 1],
      ['depth', 'depth', 1, 'depth-l1', 1],
      ['normal', 'normals', 3, 'normal-cosine', 4],
    ]);
    // Rows 0-12 segmentation, 13 depth, 14-16 normals (spec §2.3).
    expect(taskOffsets(nyu)).toEqual([0, 13, 14]);
    expect(() => parseTasks([{ name: 'n', kind: 'normals', channels: 2 }], 'node m param tasks')).toThrow("node m param tasks: task 'n' is normals with 2 channels, expected 3");
    expect(() => parseTasks([{ name: 'a', kind: 'depth', channels: 1 }, { name: 'a', kind: 'binary', channels: 1 }], 'x')).toThrow("task 1 is named 'a' like an earlier one");
    expect(() => parseTasks([{ name: 'd', kind: 'depth', channels: 1, loss: 'cross-entropy' }], 'x')).toThrow("task 'd' (depth) takes the depth-l1 loss, not cross-entropy");
    expect(() => parseTasks([], 'x')).toThrow('x:');
  });
});

describe('mSAM forward on a tiny SAM', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('starts with every channel of every task equal to SAM\'s promptless decoder (mask token 0, no prompt tokens)', () => {
    const m = model();
    const heads = createMsamHeads(m, TASKS);
    const emb = imageEncoder(images(2), m.params, m.config);
    const pe = densePositionalEncoding(m.params, m.config);
    const reference = plainDecoder(m, emb);
    TASKS.forEach((task, t) => {
      const low = decodeTask(m, heads, t, emb, pe);
      expect(low.shape).toEqual([2, task.channels, 32, 32]);
      for (let c = 0; c < task.channels; c++) expect(maxAbsDiff(channel(low, c), reference), `${task.name} channel ${c}`).toBeLessThan(1e-5);
    });
    // Σ C_t rows, each the checkpoint's no-mask embedding; the idle decoder parts are not copied.
    expect(heads.noMask.shape).toEqual([7, 32]);
    expect(maxAbsDiff(heads.noMask, tf.tile(m.params.get('prompt_encoder.no_mask_embed.weight')!, [7, 1]))).toBe(0);
    expect([...heads.decoders[0]!.keys()].some(isIdleDecoderKey)).toBe(false);
    expect(heads.decoders[0]!.get('mask_decoder.mask_tokens.weight')!.shape).toEqual([4, 32]);
    disposeMsamHeads(heads);
  });

  it('channel c of task t decodes with row offset_t + c of the table, through task t\'s own decoder copy', () => {
    const m = model();
    const heads = createMsamHeads(m, TASKS);
    tf.tidy(() => heads.noMask.assign(tf.add(heads.noMask, tf.randomNormal([7, 32], 0, 1, 'float32', 9))));
    const emb = imageEncoder(images(2), m.params, m.config);
    const pe = densePositionalEncoding(m.params, m.config);
    const row = (r: number) => tf.broadcastTo(tf.slice(heads.noMask, [r, 0], [1, 32]).reshape([1, 1, 1, 32]), [2, 8, 8, 32]) as tf.Tensor4D;
    const normals = decodeTask(m, heads, 2, emb, pe);
    for (let c = 0; c < 3; c++) expect(maxAbsDiff(channel(normals, c), plainDecoder(m, emb, row(4 + c))), `normal channel ${c}`).toBeLessThan(1e-5);
    const before = TASKS.map((_, t) => decodeTask(m, heads, t, emb, pe));
    const key = 'mask_decoder.output_hypernetworks_mlps.0.layers.2.weight';
    const baseWeight = m.params.get(key)!.dataSync().slice();
    tf.tidy(() => heads.decoders[1]!.get(key)!.assign(tf.randomNormal(heads.decoders[1]!.get(key)!.shape, 0, 1, 'float32', 4)));
    const after = TASKS.map((_, t) => decodeTask(m, heads, t, emb, pe));
    expect(maxAbsDiff(after[0]!, before[0]!)).toBe(0);
    expect(maxAbsDiff(after[2]!, before[2]!)).toBe(0);
    expect(maxAbsDiff(after[1]!, before[1]!)).toBeGreaterThan(1e-3);
    expect(m.params.get(key)!.dataSync()).toEqual(baseWeight);
    disposeMsamHeads(heads);
  });

  it('returns each task\'s head at the label size: upsample to image_size, crop to the resized input, resize', () => {
    const m = model();
    const heads = createMsamHeads(m, TASKS);
    tf.tidy(() => heads.noMask.assign(tf.add(heads.noMask, tf.randomNormal([7, 32], 0, 1, 'float32', 9))));
    // 12×16 labels: the input is resized to 24×32 and padded to 32×32.
    const x = images(2, 12, 16);
    const [seg, depth, normals] = msamForward(m, heads, x, OPTIONS) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    expect([seg.shape, depth.shape, normals.shape]).toEqual([[2, 12, 16, 3], [2, 12, 16, 1], [2, 12, 16, 3]]);
    const { input, resized } = msamInput(x, m.config, false);
    expect(resized).toEqual([24, 32]);
    expect(maxAbsDiff(tf.slice(input, [0, 0, 0, 0], [2, 24, 32, 3]), tf.image.resizeBilinear(x, [24, 32], false, true))).toBe(0);
    expect(tf.max(tf.abs(tf.slice(input, [0, 24, 0, 0], [2, 8, 32, 3]))).dataSync()[0]).toBe(0);
    const emb = imageEncoder(input, m.params, m.config);
    const pe = densePositionalEncoding(m.params, m.config);
    const post = (t: number) => {
      const low = decodeTask(m, heads, t, emb, pe).transpose([0, 2, 3, 1]) as tf.Tensor4D;
      const full = tf.image.resizeBilinear(low, [32, 32], false, true);
      return tf.image.resizeBilinear(tf.slice(full, [0, 0, 0, 0], [2, 24, 32, -1]), [12, 16], false, true);
    };
    expect(maxAbsDiff(depth, post(1))).toBeLessThan(1e-5);
    expect(maxAbsDiff(seg, tf.logSoftmax(post(0)))).toBeLessThan(1e-5);
    expect(maxAbsDiff(tf.sum(tf.exp(seg), -1), tf.onesLike(tf.sum(seg, -1)))).toBeLessThan(1e-5);
    const n = post(2);
    expect(maxAbsDiff(normals, tf.div(n, tf.norm(n, 2, -1, true)))).toBeLessThan(1e-5);
    // SAM's pixel statistics when asked for.
    const normed = msamInput(x, m.config, true).input;
    const expected = tf.div(tf.sub(tf.mul(tf.image.resizeBilinear(x, [24, 32], false, true), 255), [...PIXEL_MEAN]), [...PIXEL_STD]);
    expect(maxAbsDiff(tf.slice(normed, [0, 0, 0, 0], [2, 24, 32, 3]), expected)).toBeLessThan(1e-4);
    disposeMsamHeads(heads);
  });

  it('runs the encoder once per task with that task\'s TA-LoRA update; the batched path agrees for B = 2', () => {
    const m = taLoraModel();
    const heads = createMsamHeads(m, TASKS);
    const batches: number[] = [];
    hooksOf(m).linear.push((name, input, output) => {
      if (name === 'image_encoder.blocks.1.attn.qkv') batches.push(input.shape[0]!); // the global block sees whole images
      return output;
    });
    const x = images(2);
    const perTask = msamForward(m, heads, x, OPTIONS);
    expect(batches).toEqual([2, 2, 2]);
    batches.length = 0;
    const batched = msamForward(m, heads, x, { ...OPTIONS, batched: true });
    expect(batches).toEqual([6]);
    TASKS.forEach((task, t) => expect(maxAbsDiff(batched[t]!, perTask[t]!), task.name).toBeLessThan(1e-4));
    // Image 1 is not image 0 (the regrouping is per image), and the tasks' embeddings differ.
    expect(maxAbsDiff(tf.slice(perTask[1]!, [0], [1]), tf.slice(perTask[1]!, [1], [1]))).toBeGreaterThan(1e-4);
    const emb = (t: number) => {
      m.adapters[0]!.setTasks!([t]);
      return imageEncoder(msamInput(x, m.config, false).input, m.params, m.config);
    };
    expect(maxAbsDiff(emb(0), emb(2))).toBeGreaterThan(1e-4);
    // A ta-lora adapter with another task count is refused.
    const two = createMsamHeads(m, TASKS.slice(0, 2));
    expect(() => msamForward(m, two, x, OPTIONS)).toThrow("mSAM runs 2 tasks, but the model's ta-lora adapter has 3 (adapters/inject 'tasks')");
    disposeMsamHeads(two);
    disposeMsamHeads(heads);
  });

  it('trains TA-LoRA, the blocks\' LayerNorms, each task\'s decoder copy and the no-mask rows; nothing else changes; no tensor leaks', () => {
    const m = taLoraModel();
    const heads: MsamHeads = createMsamHeads(m, TASKS);
    const frozen = new Map([...m.params].filter(([k]) => !m.unfrozen.has(k)).map(([k, v]) => [k, v.dataSync().slice()]));
    const vars = [...trainableVariables(m), ...heads.variables.values()];
    const labels = tf.randomUniform([2, 32, 32, 1], -1, 3, 'int32', 1) as tf.Tensor4D;
    const depthGt = tf.relu(tf.randomNormal([2, 32, 32, 1], 1, 1, 'float32', 2)) as tf.Tensor4D;
    const normalGt = tf.tidy(() => {
      const n = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 3);
      return tf.div(n, tf.norm(n, 2, -1, true)) as tf.Tensor4D;
    });
    const optimizer = tf.train.adam(1e-3);
    const step = (seed: number) => {
      m.adapters[0]!.beginStep!(true, seed);
      const { value, grads } = tf.variableGrads(() => {
        const [seg, depth, normals] = msamForward(m, heads, images(2, 32, 32, seed), OPTIONS) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const losses = [crossEntropy(seg, labels), depthL1(depth, depthGt), normalCosine(normals, normalGt)];
        return weightedSum({ losses, weights: TASKS.map((t) => t.weight), normalize: true, orth: orthogonalityLoss(m), orthWeight: 1 });
      }, vars);
      optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      const names = new Set(Object.keys(grads));
      tf.dispose([value, ...Object.values(grads)]);
      return names;
    };
    const withGrad = step(0);
    for (const [key, v] of heads.variables) expect(withGrad.has(v.name), `${key} got no gradient`).toBe(true);
    for (const v of trainableVariables(m)) expect(withGrad.has(v.name), `${v.name} got no gradient`).toBe(true);
    const before = tf.memory().numTensors;
    step(1);
    step(2);
    expect(tf.memory().numTensors).toBe(before);
    for (const [k, values] of frozen) expect(m.params.get(k)!.dataSync(), k).toEqual(values);
    optimizer.dispose();
    disposeMsamHeads(heads);
  });
});

describe('sam/msam node', () => {
  const ctx = (node: string) => ({ node, kind: 'sam/msam', seed: 1, emit: () => undefined });
  const stepInfo = { meta: { index: 0, split: 'val', epoch: 0, groupEnd: false }, training: false, emit: () => undefined };
  const params = MsamParams.parse({ tasks: TASKS });

  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('puts each task on its kind\'s port with R_orth on orth, and restores its heads from a checkpoint', async () => {
    const m = taLoraModel();
    const logs: string[] = [];
    const node = await MsamNode.worker.create(params, { ...ctx('msam'), emit: (e: NodeEvent) => void (e.type === 'log' && logs.push(e.message)) });
    const out = node.forward({ model: m, images: images(2, 12, 16) }, stepInfo);
    // Per task every learnable decoder tensor of the checkpoint, plus 7 rows × 32 of no-mask embeddings.
    const perTask = [...m.params].filter(([k]) => k.startsWith('mask_decoder.') && !isIdleDecoderKey(k)).reduce((n, [, v]) => n + v.size, 0);
    expect(logs).toEqual([`mSAM: 3 task decoders and 7 no-mask embedding rows, ${(3 * perTask + 7 * 32).toLocaleString('en-US')} trainable parameters (seg: segmentation × 3, depth: depth × 1, normal: normals × 3)`]);
    expect(out.seg.shape).toEqual([2, 12, 16, 3]);
    expect(out.depth.shape).toEqual([2, 12, 16, 1]);
    expect(out.normals.shape).toEqual([2, 12, 16, 3]);
    expect(out.binary).toBeUndefined();
    expect(out.orth.dataSync()[0]).toBeCloseTo(orthogonalityLoss(m).dataSync()[0]!, 5);
    expect(node.variables!()).toHaveLength(3 * heads(m) + 1);
    tf.tidy(() => node.variables!().forEach((v, i) => (v as tf.Variable).assign(tf.add(v as tf.Variable, tf.randomNormal((v as tf.Variable).shape, 0, 0.05, 'float32', i)))));
    const trained = node.forward({ model: m, images: images(2, 12, 16) }, stepInfo);
    const dir = mkdtempSync(join(tmpdir(), 'msam-'));
    node.state!.save(dir);
    const again = await MsamNode.worker.create(params, ctx('msam'));
    await again.state!.restore(dir);
    const restored = again.forward({ model: m, images: images(2, 12, 16) }, stepInfo);
    for (const port of ['seg', 'depth', 'normals'] as const) expect(maxAbsDiff(restored[port], trained[port]), port).toBe(0);
    const other = await MsamNode.worker.create(MsamParams.parse({ tasks: TASKS.slice(0, 2) }), ctx('msam'));
    await expect(other.state!.restore(dir)).rejects.toThrow('was saved with other tasks');
  });

  it('refuses two tasks of one kind and a model whose own decoder trains', async () => {
    await expect(
      MsamNode.worker.create(MsamParams.parse({ tasks: [{ name: 'a', kind: 'depth', channels: 1 }, { name: 'b', kind: 'depth', channels: 1 }] }), ctx('m')),
    ).rejects.toThrow("node 'm' param 'tasks': tasks 'a' and 'b' are both depth, but the node has one output port per kind ('depth')");
    const m = model();
    injectAdapter(m, parseAdapterConfig({ method: 'ta-lora', tasks: 3 }));
    const node = await MsamNode.worker.create(params, ctx('m'));
    expect(() => node.forward({ model: m, images: images(1) }, stepInfo)).toThrow("node 'm' trains one mask decoder per task, but the model's own decoder is trainable too");
  });
});

/** Decoder tensors a task copies (the official keys less the idle ones), for the variable count. */
function heads(m: SamModel): number {
  return [...m.params.keys()].filter((k) => k.startsWith('mask_decoder.') && !isIdleDecoderKey(k)).length;
}
