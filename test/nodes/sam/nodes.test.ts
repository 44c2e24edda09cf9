import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { InjectAdapter } from '../../../src/nodes/adapters/inject-node.ts';
import { AdapterConfigSchema } from '../../../src/nodes/adapters/config.ts';
import { SamModelNode } from '../../../src/nodes/sam/model-node.ts';
import { SamSemantic } from '../../../src/nodes/sam/semantic-node.ts';
import { FIXTURES, tinyConfig, useBackend } from './fixtures.ts';

const ctx = (node: string) => ({ node, kind: 'k', seed: 1, emit: () => undefined });
const step = (split = 'val') => ({ meta: { index: 0, split, epoch: 0, groupEnd: false }, training: split === 'train', emit: () => undefined });

describe('SAM worker nodes', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('sam/model loads a checkpoint, ids the base by its hash, and names itself in config errors', async () => {
    const events: unknown[] = [];
    const node = await SamModelNode.worker.create(
      SamModelNode.params.parse({ arch: tinyConfig(), checkpoint: `${FIXTURES}tiny.pth` }),
      { ...ctx('sam'), emit: (e) => events.push(e) },
    );
    const { model } = node.forward({}, step());
    expect(model.baseId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(model.params.size).toBe(174);
    expect(events).toEqual([expect.objectContaining({ type: 'log', message: expect.stringContaining('loaded 174 tensors') })]);
    await expect(SamModelNode.worker.create(SamModelNode.params.parse({ arch: { ...tinyConfig(), window_size: 99 } }), ctx('sam'))).rejects.toThrow(
      "node 'sam' param 'arch': impossible config: window_size 99 is larger than the 8x8 token grid",
    );
  });

  it('sam/semantic refuses images that are not image_size squares, saying what to do', async () => {
    const sam = await SamModelNode.worker.create(SamModelNode.params.parse({ arch: tinyConfig() }), ctx('sam'));
    const seg = await SamSemantic.worker.create(SamSemantic.params.parse({}), ctx('segment'));
    const { model } = sam.forward({}, step());
    expect(() => seg.forward({ model, images: tf.zeros([1, 48, 64, 3]) as tf.Tensor4D }, step())).toThrow(
      "node 'segment': images are 48x64, but the SAM config takes 64x64: resize to a square of image_size first (augment/resize-square)",
    );
    const out = seg.forward({ model, images: tf.zeros([2, 64, 64, 3]) as tf.Tensor4D }, step());
    expect(out.logits.shape).toEqual([2, 64, 64, 1]);
    expect(out.aux.dataSync()[0]).toBe(0);
  });

  it('adapters/inject injects once and refuses a second, different model', async () => {
    const a = (await SamModelNode.worker.create(SamModelNode.params.parse({ arch: tinyConfig(), seed: 1 }), ctx('a'))).forward({}, step()).model;
    const b = (await SamModelNode.worker.create(SamModelNode.params.parse({ arch: tinyConfig(), seed: 2 }), ctx('b'))).forward({}, step()).model;
    const inject = await InjectAdapter.worker.create(AdapterConfigSchema.parse({ method: 'lora' }), ctx('peft'));
    expect(inject.variables!()).toEqual([]);
    inject.forward({ model: a }, step());
    inject.forward({ model: a }, step());
    expect(a.adapters).toHaveLength(1);
    expect(inject.variables!().length).toBeGreaterThan(0);
    expect(() => inject.forward({ model: b }, step())).toThrow('received a different SAM model than on the first item; a model is injected once');
  });
});
