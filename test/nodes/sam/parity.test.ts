import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadSamCheckpoint } from '../../../src/nodes/sam/checkpoint/load.ts';
import type { SamParams } from '../../../src/nodes/sam/params.ts';
import type { SamPrompts } from '../../../src/nodes/sam/prompt-encoder.ts';
import { samForward } from '../../../src/nodes/sam/sam.ts';
import { normalizeAndPad } from '../../../src/nodes/sam/transforms.ts';
import { BACKENDS, FIXTURES, fixture, maxAbsDiff, tinyConfig, useBackend } from './fixtures.ts';

const cases: Record<string, () => SamPrompts> = {
  none: () => ({}),
  points: () => ({ points: { coords: tf.tensor3d([[[10, 20], [30, 41]]]), labels: tf.tensor2d([[1, 0]]) } }),
  box: () => ({ boxes: tf.tensor2d([[5, 6, 40, 50]]) }),
  points_box: () => ({ points: { coords: tf.tensor3d([[[12, 22]]]), labels: tf.tensor2d([[1]]) }, boxes: tf.tensor2d([[5, 6, 40, 50]]) }),
  mask: () => ({ masks: fixture('case_mask_input').transpose([0, 2, 3, 1]) as tf.Tensor4D }),
};

describe.each(BACKENDS)('full SAM forward against PyTorch on %s', (backend) => {
  let params: SamParams;
  let images: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend(backend);
    params = (await loadSamCheckpoint(`${FIXTURES}tiny.pth`, tinyConfig())).params;
    // a 64x48 uint8 image: normalised, then padded on the right to 64x64
    images = normalizeAndPad(fixture('image').expandDims(0) as tf.Tensor4D, 64);
  });

  it.each(Object.keys(cases))('prompt case %s: embeddings, all mask logits and IoU within 1e-4', (name) => {
    const out = samForward(images, cases[name]!(), params, tinyConfig());
    expect(maxAbsDiff(out.imageEmbeddings.transpose([0, 3, 1, 2]), fixture(`case_${name}_image_embeddings`))).toBeLessThan(1e-4);
    expect(maxAbsDiff(out.masks, fixture(`case_${name}_low_res_logits`))).toBeLessThan(1e-4);
    expect(maxAbsDiff(out.iou, fixture(`case_${name}_iou_predictions`))).toBeLessThan(1e-4);
  });

  it('the Hugging Face safetensors file loads to the same tree as the .pth', async () => {
    const hf = await loadSamCheckpoint(`${FIXTURES}tiny.safetensors`, tinyConfig());
    expect(hf.report).toMatchObject({ format: 'safetensors', naming: 'huggingface', loaded: params.size, missing: [], unexpected: [], mismatched: [] });
    for (const [key, tensor] of params) expect(maxAbsDiff(hf.params.get(key)!, tensor), key).toBe(0);
  });
});
