/**
 * Conv-LoRA's multi-class decoder against the official decoder rebuilt in torch with Q copies of
 * mask token 0, hypernetwork MLP 0 shared and a linear class head
 * (test/fixtures/sam/make_multiclass_fixtures.py); what trains and what a checkpoint holds; errors.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadAdapterCheckpoint, readAdapterCheckpoint, saveAdapterCheckpoint } from '../../../src/nodes/adapters/checkpoint.ts';
import { parseAdapterConfig } from '../../../src/nodes/adapters/config.ts';
import { injectAdapter } from '../../../src/nodes/adapters/inject.ts';
import { parameterReport } from '../../../src/nodes/adapters/report.ts';
import { CLASS_HEAD } from '../../../src/nodes/sam/class-head.ts';
import { loadSamCheckpoint } from '../../../src/nodes/sam/checkpoint/load.ts';
import { MASK_TOKENS } from '../../../src/nodes/sam/mask-tokens.ts';
import { createSamModel, trainableVariables, type SamModel } from '../../../src/nodes/sam/model.ts';
import { SamMulticlass } from '../../../src/nodes/sam/multiclass-node.ts';
import { SamSemantic } from '../../../src/nodes/sam/semantic-node.ts';
import { BACKENDS, FIXTURES, fixture, maxAbsDiff, tinyConfig, useBackend } from './fixtures.ts';

const ctx = { node: 'segment', kind: 'sam/multiclass', seed: 1, emit: () => undefined };
const step = { meta: { index: 0, split: 'val', epoch: 0, groupEnd: false }, training: false, emit: () => undefined };
const config = parseAdapterConfig({ method: 'decoder-only', classes: 3, maskTokens: 5 });

async function multiclassModel(): Promise<SamModel> {
  const { params } = await loadSamCheckpoint(`${FIXTURES}tiny.pth`, tinyConfig());
  const model = createSamModel(tinyConfig(), params, 'tiny');
  injectAdapter(model, config);
  // The fixture's class head (PyTorch [out, in]; samflow keeps linear weights as [in, out]).
  (model.params.get(`${CLASS_HEAD}.weight`) as tf.Variable).assign(fixture('multiclass_head_weight').transpose());
  (model.params.get(`${CLASS_HEAD}.bias`) as tf.Variable).assign(fixture('multiclass_head_bias'));
  return model;
}

describe.each(BACKENDS)('the multi-class decoder against PyTorch on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('gives the reference mask and class logits within 1e-4', async () => {
    const model = await multiclassModel();
    const seg = await SamMulticlass.worker.create({}, ctx);
    const out = tf.tidy(() => seg.forward({ model, images: fixture('semantic_image').expandDims(0) as tf.Tensor4D }, step));
    expect(out.masks.shape).toEqual([1, 5, 32, 32]); // 4 · grid (the tiny config: 64 px, patch 8)
    expect(maxAbsDiff(out.masks, fixture('multiclass_masks'))).toBeLessThan(1e-4);
    expect(maxAbsDiff(out.classes, fixture('multiclass_classes'))).toBeLessThan(1e-4);
    tf.dispose([out.masks, out.classes, out.aux]);
  });
});

describe('what the multi-class decoder trains', () => {
  beforeAll(() => useBackend('cpu'));

  it('Q copies of token 0 and the class head train, not the IoU head nor MLPs 1..3; the report counts what the model holds; a checkpoint round-trips', async () => {
    const { params } = await loadSamCheckpoint(`${FIXTURES}tiny.pth`, tinyConfig());
    const token0 = params.get(MASK_TOKENS)!.slice([0, 0], [1, -1]).dataSync();
    const model = createSamModel(tinyConfig(), params, 'tiny');
    const report = injectAdapter(model, config);
    const e = tinyConfig().prompt_embed_dim;
    const table = model.params.get(MASK_TOKENS)!;
    expect(table.shape).toEqual([5, e]);
    for (let q = 0; q < 5; q++) expect(table.slice([q, 0], [1, -1]).dataSync()).toEqual(token0);
    const keys = [...model.unfrozen.keys()];
    expect(keys).toContain(`${CLASS_HEAD}.weight`);
    expect(keys.filter((k) => k.includes('iou_prediction_head') || /output_hypernetworks_mlps\.[1-9]/.test(k))).toEqual([]);
    expect(model.unfrozen.get(`${CLASS_HEAD}.weight`)!.shape).toEqual([e, 4]);
    const live = trainableVariables(model).reduce((n, v) => n + v.size, 0);
    expect(report.trainable).toBe(live);
    expect(parameterReport(tinyConfig(), config).trainable).toBe(live);

    const path = join(mkdtempSync(join(tmpdir(), 'multiclass-')), 'peft');
    saveAdapterCheckpoint(model, config, path);
    const saved = await readAdapterCheckpoint(path);
    expect(saved.tensors.get(`base.${CLASS_HEAD}.weight`)!.shape).toEqual([e, 4]);
    expect(saved.tensors.get(`base.${MASK_TOKENS}`)!.shape).toEqual([5, e]);
    const again = createSamModel(tinyConfig(), (await loadSamCheckpoint(`${FIXTURES}tiny.pth`, tinyConfig())).params, 'tiny');
    await loadAdapterCheckpoint(again, path);
    expect(maxAbsDiff(again.params.get(`${CLASS_HEAD}.weight`)!, model.params.get(`${CLASS_HEAD}.weight`)!)).toBe(0);
  });

  it('names the mismatch between the forward and the decoder', async () => {
    const { params } = await loadSamCheckpoint(`${FIXTURES}tiny.pth`, tinyConfig());
    const binary = createSamModel(tinyConfig(), params, 'tiny');
    injectAdapter(binary, parseAdapterConfig({ method: 'decoder-only' }));
    const images = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
    const multi = await SamMulticlass.worker.create({}, ctx);
    expect(() => multi.forward({ model: binary, images }, step)).toThrow("node 'segment': the model's decoder has no class head; give adapters/inject 'classes'");
    const model = await multiclassModel();
    const semantic = await SamSemantic.worker.create(SamSemantic.params.parse({}), ctx);
    expect(() => semantic.forward({ model, images }, step)).toThrow("the model's decoder has a class head (adapters/inject classes): use sam/multiclass");
    expect(() => injectAdapter(createSamModel(tinyConfig(), params, 'tiny'), parseAdapterConfig({ method: 'decoder-only', classes: 1 }))).toThrow('adapter config classes: 1 class is binary segmentation');
  });
});
