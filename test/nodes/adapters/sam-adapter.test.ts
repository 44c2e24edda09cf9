import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { parseAdapterConfig } from '../../../src/nodes/adapters/config.ts';
import { injectAdapter } from '../../../src/nodes/adapters/inject.ts';
import { parameterReport } from '../../../src/nodes/adapters/report.ts';
import { samAdapterDims } from '../../../src/nodes/adapters/sam-adapter/config.ts';
import { createHighPassOperator, fftHighPass, lowFrequencyHalfWidth } from '../../../src/nodes/adapters/sam-adapter/fft-highpass.ts';
import { blockPrompt, createPromptGenerator, promptFeatures } from '../../../src/nodes/adapters/sam-adapter/prompt-generator.ts';
import { SAM_PRESETS } from '../../../src/nodes/sam/config.ts';
import { encoderBlock, imageEncoder } from '../../../src/nodes/sam/image-encoder.ts';
import { createSamModel, type SamModel } from '../../../src/nodes/sam/model.ts';
import { conv1x1, layerNorm, patchConv } from '../../../src/nodes/sam/ops.ts';
import { randomSamParams } from '../../../src/nodes/sam/params.ts';
import { npyFixtures } from '../../fixtures/tensors.ts';
import { BACKENDS, maxAbsDiff, tinyConfig, useBackend } from '../sam/fixtures.ts';

const { fixture } = npyFixtures(new URL('../../fixtures/sam-adapter/', import.meta.url).pathname);

const HIGH_PASS = [
  ['even32_r025', 0.25],
  ['even32_r01', 0.1],
  ['odd21_r025', 0.25],
  ['even64_r05', 0.5],
] as const;

describe('the FFT high-pass half width', () => {
  it('is EVP\'s int(sqrt(h * w * rate) // 2)', () => {
    expect(lowFrequencyHalfWidth(1024, 0.25)).toBe(256);
    expect(lowFrequencyHalfWidth(32, 0.1)).toBe(5);
    expect(lowFrequencyHalfWidth(21, 0.25)).toBe(5);
    expect(() => createHighPassOperator(8, 0)).toThrow('FFT high-pass: rate 0 must be in (0, 1]');
  });
});

describe.each(BACKENDS)('FFT high-pass as matMuls against torch.fft on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it.each(HIGH_PASS)('%s', (name, rate) => {
    const x = fixture(`highpass_${name}_x`) as tf.Tensor4D;
    const op = createHighPassOperator(x.shape[1], rate);
    const got = fftHighPass(x, op);
    // float32 matMuls over n terms of O(1) values: errors of a few 1e-6
    expect(maxAbsDiff(got, fixture(`highpass_${name}`))).toBeLessThan(2e-5);
    // and the low frequencies were really there to remove
    expect(maxAbsDiff(got, tf.abs(x))).toBeGreaterThan(0.5);
    tf.dispose([x, got, op.along, op.across]);
  });
});

describe('SAM-Adapter on a tiny SAM', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('the prompt generator matches the PyTorch reference: features and every block\'s prompt', () => {
    const config = { ...tinyConfig(), image_size: 32, patch_size: 8, encoder_embed_dim: 64, encoder_depth: 3, encoder_global_attn_indexes: [2] };
    const dims = samAdapterDims(config, parseAdapterConfig({ method: 'sam-adapter', scaleFactor: 8 }));
    expect(dims.hidden).toBe(8);
    const { weights, named } = createPromptGenerator(dims, 0);
    const set = (key: string, name: string) => named.get(`image_encoder.prompt_generator.${key}`)!.assign(fixture(name));
    set('embedding_generator.weight', 'prompt_embedding_weight');
    set('embedding_generator.bias', 'prompt_embedding_bias');
    set('prompt_generator.proj.weight', 'prompt_handcrafted_weight');
    set('prompt_generator.proj.bias', 'prompt_handcrafted_bias');
    set('shared_mlp.weight', 'prompt_shared_weight');
    set('shared_mlp.bias', 'prompt_shared_bias');
    for (const i of [0, 1, 2]) {
      set(`lightweight_mlp_${i}.0.weight`, `prompt_lightweight_${i}_weight`);
      set(`lightweight_mlp_${i}.0.bias`, `prompt_lightweight_${i}_bias`);
    }
    const op = createHighPassOperator(32, 0.25);
    const features = promptFeatures(weights, fixture('prompt_image') as tf.Tensor4D, fixture('prompt_patches') as tf.Tensor4D, op);
    expect(maxAbsDiff(features, fixture('prompt_features'))).toBeLessThan(1e-4);
    for (const i of [0, 1, 2]) expect(maxAbsDiff(blockPrompt(weights, features, i)!, fixture(`prompt_block_${i}`)), `block ${i}`).toBeLessThan(1e-4);
    expect(blockPrompt(weights, features, 3)).toBeUndefined();
  });

  it('feeds the features from the patch embedding before pos_embed, and adds each prompt to its block\'s input', () => {
    const c = tinyConfig();
    const params = randomSamParams(c, 1);
    // A non-zero pos_embed, so features taken after it would differ.
    params.get('image_encoder.pos_embed')!.dispose();
    params.set('image_encoder.pos_embed', tf.randomNormal([1, 8, 8, 32], 0, 1, 'float32', 3));
    const m = createSamModel(c, params, 'random:1');
    const config = parseAdapterConfig({ method: 'sam-adapter', scaleFactor: 4 });
    injectAdapter(m, config);
    const images = tf.randomNormal([2, 64, 64, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const got = imageEncoder(images, m.params, c);
    // By hand, with the generator's pieces: x0 = patches + pos, x_{i+1} = block_i(x_i + P_i), then the neck.
    const { weights, named } = createPromptGenerator(samAdapterDims(c, config), config.seed); // the same seeds: the same values
    for (const [k, v] of named) expect(maxAbsDiff(v, m.adapters[0]!.weights.get(k)!), k).toBe(0);
    const patches = patchConv(images, m.params.get('image_encoder.patch_embed.proj.weight')!, m.params.get('image_encoder.patch_embed.proj.bias')!);
    const features = promptFeatures(weights, images, patches, createHighPassOperator(64, 0.25));
    let x = tf.add(patches, m.params.get('image_encoder.pos_embed')!) as tf.Tensor4D;
    for (let i = 0; i < c.encoder_depth; i++) {
      x = encoderBlock(tf.add(x, blockPrompt(weights, features, i)!) as tf.Tensor4D, m.params, `image_encoder.blocks.${i}`, c.encoder_num_heads, i === 1 ? 0 : c.window_size);
    }
    let y = conv1x1(x, m.params.get('image_encoder.neck.0.weight')!);
    y = layerNorm(y, m.params, 'image_encoder.neck.1', 1e-6) as tf.Tensor4D;
    y = tf.conv2d(y, m.params.get('image_encoder.neck.2.weight') as tf.Tensor4D, 1, 'same');
    y = layerNorm(y, m.params, 'image_encoder.neck.3', 1e-6) as tf.Tensor4D;
    expect(maxAbsDiff(got, y)).toBeLessThan(1e-5);
    // and the prompts matter: the base encoder (same tensors, no hooks) gives something else
    expect(maxAbsDiff(got, imageEncoder(images, new Map(m.params), c))).toBeGreaterThan(1e-3);
  });

  it('survives injection inside a tidy (adapters/inject injects during the first step), and frees its constants with the adapter', () => {
    const m = createSamModel(tinyConfig(), randomSamParams(tinyConfig(), 1), 'random:1');
    const before = tf.memory().numTensors;
    tf.tidy(() => void injectAdapter(m, parseAdapterConfig({ method: 'sam-adapter', scaleFactor: 4, trainDecoder: false })));
    const images = tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    expect(() => tf.tidy(() => void imageEncoder(images, m.params, m.config).dataSync())).not.toThrow();
    m.adapters[0]!.dispose();
    images.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('prompts only the blocks in layers, and names impossible settings', () => {
    const m = createSamModel(tinyConfig(), randomSamParams(tinyConfig(), 1), 'random:1');
    const report = injectAdapter(m, parseAdapterConfig({ method: 'sam-adapter', scaleFactor: 4, layers: [1], trainDecoder: false }));
    const keys = [...m.adapters[0]!.weights.keys()];
    expect(keys.filter((k) => k.includes('lightweight_mlp'))).toEqual(['image_encoder.prompt_generator.lightweight_mlp_1.0.weight', 'image_encoder.prompt_generator.lightweight_mlp_1.0.bias']);
    // d 32, h 8, patch 8: embedding 32·8 + 8, handcrafted 8·8·3·8 + 8, one block 8·8 + 8, shared 8·32 + 32
    expect(report.trainable).toBe(264 + 1544 + 72 + 288);
    const without = parameterReport(tinyConfig(), parseAdapterConfig({ method: 'sam-adapter', scaleFactor: 4, handcraftedTune: false, trainDecoder: false }));
    expect(without.trainable).toBe(264 + 2 * 72 + 288);
    const bad = (raw: object) => () => injectAdapter(createSamModel(tinyConfig(), randomSamParams(tinyConfig(), 1), 'random:1'), parseAdapterConfig({ method: 'sam-adapter', ...raw }));
    expect(bad({ scaleFactor: 64 })).toThrow('adapter config: sam-adapter scaleFactor 64 leaves no channels (encoder_embed_dim 32 / 64 < 1)');
    expect(bad({ embeddingTune: false, handcraftedTune: false })).toThrow(/sam-adapter needs embeddingTune or handcraftedTune/);
    expect(bad({ layers: [2] })).toThrow('layers has 2, but the encoder has 2 blocks (0..1)');
    expect(() => parseAdapterConfig({ method: 'sam-adapter', freqNums: 1.5 })).toThrow(/'freqNums'/);
  });

  it('counts 63,312 parameters on vit_b at the public defaults', () => {
    const report = parameterReport(SAM_PRESETS.vit_b, parseAdapterConfig({ method: 'sam-adapter', trainDecoder: false }));
    // h = 768 / 32 = 24: embedding 768·24 + 24, handcrafted 16·16·3·24 + 24, 12 × (24·24 + 24), shared 24·768 + 768
    expect(report.trainable).toBe(18_456 + 18_456 + 12 * 600 + 19_200);
  });
});
