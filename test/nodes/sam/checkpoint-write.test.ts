/**
 * The SAM checkpoint writer: a model written with official names and PyTorch layouts loads back
 * (loadSamCheckpoint, what sam/model runs) to the same tensors and the same forward outputs, and
 * a parameter set that does not fit the config is refused with every problem named.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadSamCheckpoint } from '../../../src/nodes/sam/checkpoint/load.ts';
import { openSafetensors } from '../../../src/nodes/sam/checkpoint/safetensors.ts';
import { encodeSamCheckpoint, writeSamCheckpoint, type PlainTensor } from '../../../src/nodes/sam/checkpoint/write.ts';
import { disposeParams, officialShapes, randomSamParams, toTorchLayout } from '../../../src/nodes/sam/params.ts';
import { samForward } from '../../../src/nodes/sam/sam.ts';
import { tempDir } from '../../fixtures/datasets.ts';
import { TINY_SAM } from '../../fixtures/sam-configs.ts';
import { useBackend } from './fixtures.ts';

const plain = (params: Map<string, tf.Tensor>) => new Map<string, PlainTensor>([...params].map(([k, t]) => [k, { shape: t.shape, data: t.dataSync() as Float32Array }]));

describe('SAM checkpoint writer', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('round-trips: the file loads to identical tensors and identical masks and IoU', async () => {
    const before = tf.memory().numTensors;
    const params = randomSamParams(TINY_SAM, 5);
    // Non-zero position embeddings and rel-pos tables, so every layout is exercised.
    for (const key of ['image_encoder.pos_embed', 'image_encoder.blocks.0.attn.rel_pos_h']) {
      const zeros = params.get(key)!;
      params.set(key, tf.randomNormal(zeros.shape, 0, 1, 'float32', 3));
      zeros.dispose();
    }
    const path = join(tempDir('samflow-write-'), 'sam.safetensors');
    writeSamCheckpoint(path, plain(params), TINY_SAM, { format: 'test' });
    const file = await openSafetensors(path);
    // Official layout on disk: a linear weight is [out, in], a conv filter [out, in, kh, kw].
    expect(file.entries.get('image_encoder.blocks.0.attn.qkv.weight')!.shape).toEqual([3 * 32, 32]);
    expect(file.entries.get('image_encoder.patch_embed.proj.weight')!.shape).toEqual([32, 3, 4, 4]);
    const torch = tf.tidy(() => toTorchLayout('mask_decoder.output_upscaling.0.weight', params.get('mask_decoder.output_upscaling.0.weight')!).dataSync());
    expect(await file.entries.get('mask_decoder.output_upscaling.0.weight')!.read()).toEqual(torch);
    await file.close();
    const { params: loaded, report } = await loadSamCheckpoint(path, TINY_SAM);
    expect(report).toMatchObject({ loaded: officialShapes(TINY_SAM).size, missing: [], unexpected: [], mismatched: [] });
    for (const [key, t] of params) expect(loaded.get(key)!.dataSync(), key).toEqual(t.dataSync());
    const [a, b] = [params, loaded].map((p) =>
      tf.tidy(() => {
        const prompts = { points: { coords: tf.tensor3d([[[5, 9]], [[20, 3]]]), labels: tf.tensor2d([[1], [1]]) } };
        const out = samForward(tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D, prompts, p, TINY_SAM);
        return [out.masks.dataSync(), out.iou.dataSync()];
      }),
    );
    expect(b).toEqual(a);
    // Same weights, same bytes.
    const again = join(tempDir('samflow-write-'), 'sam.safetensors');
    writeSamCheckpoint(again, plain(params), TINY_SAM, { format: 'test' });
    expect(readFileSync(again).equals(readFileSync(path))).toBe(true);
    disposeParams(params);
    disposeParams(loaded);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names what is missing, extra or misshapen, and wants a .safetensors name', () => {
    const params = randomSamParams(TINY_SAM, 1);
    const tensors = plain(params);
    disposeParams(params);
    tensors.delete('mask_decoder.iou_token.weight');
    tensors.set('image_encoder.extra', { shape: [1], data: new Float32Array(1) });
    tensors.set('prompt_encoder.no_mask_embed.weight', { shape: [1, 7], data: new Float32Array(7) });
    expect(() => encodeSamCheckpoint(tensors, TINY_SAM)).toThrow(
      'SAM checkpoint writer: the parameters do not match the config (prompt_encoder.no_mask_embed.weight: [1, 7], expected [1, 32] (samflow layout); missing mask_decoder.iou_token.weight; unexpected image_encoder.extra)',
    );
    expect(() => writeSamCheckpoint('/tmp/x.pth', tensors, TINY_SAM)).toThrow('/tmp/x.pth: a SAM checkpoint is written as .safetensors; name the file so');
  });
});
