import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadAdapterCheckpoint, readAdapterCheckpoint, saveAdapterCheckpoint } from '../../../src/nodes/adapters/checkpoint.ts';
import { parseAdapterConfig } from '../../../src/nodes/adapters/config.ts';
import { injectAdapter } from '../../../src/nodes/adapters/inject.ts';
import { FROZEN_MASK_TOKENS, MASK_TOKENS, firstMaskTokens } from '../../../src/nodes/sam/mask-tokens.ts';
import { createSamModel, trainableVariables, type SamModel } from '../../../src/nodes/sam/model.ts';
import { randomSamParams } from '../../../src/nodes/sam/params.ts';
import { samForward } from '../../../src/nodes/sam/sam.ts';
import { SamSemantic } from '../../../src/nodes/sam/semantic-node.ts';
import { maxAbsDiff, tinyConfig, useBackend } from '../sam/fixtures.ts';

const base = (): SamModel => createSamModel(tinyConfig(), randomSamParams(tinyConfig(), 3), 'random:3');
const ctx = { node: 'segment', kind: 'sam/semantic', seed: 1, emit: () => undefined };
const step = (training: boolean) => ({ meta: { index: 0, split: training ? 'train' : 'val', epoch: 0, groupEnd: false }, training, emit: () => undefined });
const images = () => tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
const unusedMlp = /^mask_decoder\.output_hypernetworks_mlps\.[123]\./;

describe('Conv-LoRA binary decoder: one mask token trains', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('tokens 1..3 and MLPs 1..3 never change, are not trainable, and are not in a saved adapter checkpoint', async () => {
    const m = base();
    const e = m.config.prompt_embed_dim;
    const tableBefore = m.params.get(MASK_TOKENS)!.dataSync().slice();
    const mlpsBefore = new Map([...m.params].filter(([k]) => unusedMlp.test(k)).map(([k, v]) => [k, v.dataSync().slice()]));
    expect(mlpsBefore.size).toBe(3 * 6);
    const config = parseAdapterConfig({ method: 'conv-lora' });
    const report = injectAdapter(m, config);
    expect(report.groups.find((g) => g.name === 'mask decoder')!.trainable).toBe([...m.unfrozen.values()].reduce((n, v) => n + v.size, 0));
    expect(m.unfrozen.get(MASK_TOKENS)!.shape).toEqual([1, e]);
    expect([...m.unfrozen.keys()].filter((k) => unusedMlp.test(k) || k.includes('iou_prediction_head'))).toEqual([]);

    // A few steps of SGD with decoupled weight decay, through sam/semantic's forward.
    const seg = await SamSemantic.worker.create(SamSemantic.params.parse({}), ctx);
    const vars = trainableVariables(m);
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
        const out = seg.forward({ model: m, images: images() }, step(true));
        return tf.add(tf.mean(tf.square(tf.sub(out.logits, 1))), out.aux) as tf.Scalar;
      }), vars);
      for (const v of vars) if (grads[v.name]) v.assign(tf.tidy(() => tf.sub(tf.mul(v, 1 - 0.1 * 0.1), tf.mul(grads[v.name]!, 0.1))));
      tf.dispose([value, ...Object.values(grads)]);
    }
    const table = firstMaskTokens(m.params, 4).dataSync();
    expect(table.slice(e)).toEqual(tableBefore.slice(e));
    expect(maxAbsDiff(tf.tensor(table.slice(0, e)), tf.tensor(tableBefore.slice(0, e)))).toBeGreaterThan(1e-4);
    for (const [k, before] of mlpsBefore) expect(m.params.get(k)!.dataSync(), k).toEqual(before);
    expect(maxAbsDiff(m.params.get('mask_decoder.output_hypernetworks_mlps.0.layers.0.weight')!, base().params.get('mask_decoder.output_hypernetworks_mlps.0.layers.0.weight')!)).toBeGreaterThan(1e-4);

    const path = join(mkdtempSync(join(tmpdir(), 'mask-tokens-')), 'run');
    saveAdapterCheckpoint(m, config, path);
    const saved = await readAdapterCheckpoint(path);
    expect(saved.tensors.get(`base.${MASK_TOKENS}`)!.shape).toEqual([1, e]);
    const decoderKeys = [...saved.tensors.keys()].filter((k) => k.startsWith('base.mask_decoder.'));
    expect(decoderKeys.filter((k) => unusedMlp.test(k.slice(5)) || k.includes(FROZEN_MASK_TOKENS) || k.includes('iou_prediction_head'))).toEqual([]);
    expect(decoderKeys.filter((k) => k.includes('output_hypernetworks_mlps.0.'))).toHaveLength(6);

    // Onto a fresh base: the same binary outputs, and SAM's whole decoder still runs (tokens 1..3 from the base).
    const restored = base();
    await loadAdapterCheckpoint(restored, path);
    const logits = (model: SamModel) => seg.forward({ model, images: images() }, step(false)).logits;
    expect(maxAbsDiff(logits(restored), logits(m))).toBe(0);
    const whole = samForward(images().slice([0, 0, 0, 0], [1, 64, 64, 3]), {}, restored.params, restored.config);
    expect(whole.masks.shape).toEqual([1, 4, 32, 32]);
  });

  it('sam/semantic refuses to run another token count than the decoder trains', async () => {
    const m = base();
    injectAdapter(m, parseAdapterConfig({ method: 'decoder-only', maskTokens: 4 }));
    expect(m.params.has(FROZEN_MASK_TOKENS)).toBe(false);
    const seg = await SamSemantic.worker.create(SamSemantic.params.parse({}), ctx);
    expect(() => seg.forward({ model: m, images: images() }, step(false))).toThrow(
      "node 'segment' runs 1 mask tokens (param 'maskTokens'), but the model's decoder trains 4 (adapters/inject maskTokens): set both to the same count",
    );
  });
});
