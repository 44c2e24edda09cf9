import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadSamCheckpoint } from '../../../src/nodes/sam/checkpoint/load.ts';
import { imageEncoder } from '../../../src/nodes/sam/image-encoder.ts';
import { maskDecoder } from '../../../src/nodes/sam/mask-decoder.ts';
import { createSamModel } from '../../../src/nodes/sam/model.ts';
import type { SamParams } from '../../../src/nodes/sam/params.ts';
import { densePositionalEncoding, promptEncoder, type SamPrompts } from '../../../src/nodes/sam/prompt-encoder.ts';
import { SamSemantic } from '../../../src/nodes/sam/semantic-node.ts';
import { normalizeAndPad } from '../../../src/nodes/sam/transforms.ts';
import { BACKENDS, FIXTURES, fixture, maxAbsDiff, tinyConfig, useBackend } from './fixtures.ts';

// Written by test/fixtures/sam/make_mask_token_fixtures.py: the official decoder rebuilt with one mask token.
const cases: Record<string, () => SamPrompts> = {
  none: () => ({}),
  points: () => ({ points: { coords: tf.tensor3d([[[10, 20], [30, 41]]]), labels: tf.tensor2d([[1, 0]]) } }),
};
const ctx = { node: 'segment', kind: 'sam/semantic', seed: 1, emit: () => undefined };
const step = { meta: { index: 0, split: 'val', epoch: 0, groupEnd: false }, training: false, emit: () => undefined };

describe.each(BACKENDS)('the 1-token mask decoder (Conv-LoRA binary) against PyTorch on %s', (backend) => {
  let params: SamParams;
  let embeddings: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend(backend);
    params = (await loadSamCheckpoint(`${FIXTURES}tiny.pth`, tinyConfig())).params;
    embeddings = imageEncoder(normalizeAndPad(fixture('image').expandDims(0) as tf.Tensor4D, 64), params, tinyConfig());
  });

  const decode = (name: string, tokens?: number) => {
    const c = tinyConfig();
    const { sparse, dense } = promptEncoder(cases[name]!(), 1, params, c);
    return maskDecoder(embeddings, densePositionalEncoding(params, c), sparse, dense, params, c, tokens);
  };

  it.each(Object.keys(cases))('prompt case %s: mask and IoU within 1e-4, and not what the 4-token decoder gives as mask 0', (name) => {
    const one = decode(name, 1);
    expect(one.masks.shape).toEqual([1, 1, 32, 32]);
    expect(maxAbsDiff(one.masks, fixture(`one_token_${name}_low_res_logits`))).toBeLessThan(1e-4);
    expect(maxAbsDiff(one.iou, fixture(`one_token_${name}_iou_predictions`))).toBeLessThan(1e-4);
    // The token attention sees 2 tokens (+ prompts) instead of 5: a different function.
    const all = decode(name);
    expect(maxAbsDiff(tf.slice(all.masks, [0, 0, 0, 0], [1, 1, 32, 32]), fixture(`one_token_${name}_low_res_logits`))).toBeGreaterThan(1e-2);
  });

  it('sam/semantic (maskTokens 1) gives the official promptless binary logits within 1e-4', async () => {
    const model = createSamModel(tinyConfig(), params, 'tiny');
    const seg = await SamSemantic.worker.create(SamSemantic.params.parse({}), ctx);
    const { logits } = seg.forward({ model, images: fixture('semantic_image').expandDims(0) as tf.Tensor4D }, step);
    expect(maxAbsDiff(logits.transpose([0, 3, 1, 2]), fixture('semantic_logits'))).toBeLessThan(1e-4);
    const whole = await SamSemantic.worker.create(SamSemantic.params.parse({ maskTokens: 4 }), ctx);
    const wholeLogits = whole.forward({ model, images: fixture('semantic_image').expandDims(0) as tf.Tensor4D }, step).logits;
    expect(maxAbsDiff(wholeLogits.transpose([0, 3, 1, 2]), fixture('semantic_logits'))).toBeGreaterThan(1e-2);
  });
});

describe('mask-token counts', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('the decoder and sam/semantic refuse a count the config does not have, naming the setting', async () => {
    const params = (await loadSamCheckpoint(`${FIXTURES}tiny.pth`, tinyConfig())).params;
    const c = tinyConfig();
    const { sparse, dense } = promptEncoder({}, 1, params, c);
    expect(() => maskDecoder(tf.zeros([1, 8, 8, 32]) as tf.Tensor4D, densePositionalEncoding(params, c), sparse, dense, params, c, 5)).toThrow(
      'mask decoder: 5 mask tokens, but the decoder has 1..4 (num_multimask_outputs + 1)',
    );
    const seg = await SamSemantic.worker.create(SamSemantic.params.parse({ maskTokens: 9 }), ctx);
    expect(() => seg.forward({ model: createSamModel(c, params, 'tiny'), images: tf.zeros([1, 64, 64, 3]) as tf.Tensor4D }, step)).toThrow(
      "node 'segment' param 'maskTokens': 9 mask tokens, but the decoder has 1..4",
    );
  });
});
