import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { parseAdapterConfig } from '../../../src/nodes/adapters/config.ts';
import { injectAdapter } from '../../../src/nodes/adapters/inject.ts';
import { lstDims } from '../../../src/nodes/adapters/lst/dims.ts';
import { topIndices } from '../../../src/nodes/adapters/lst/prune.ts';
import { parameterReport } from '../../../src/nodes/adapters/report.ts';
import { SAM_PRESETS } from '../../../src/nodes/sam/config.ts';
import { encoderBlock, imageEncoder } from '../../../src/nodes/sam/image-encoder.ts';
import { createSamModel, makeTrainable, trainableVariables, type SamModel } from '../../../src/nodes/sam/model.ts';
import { conv1x1, layerNorm, linear, patchConv } from '../../../src/nodes/sam/ops.ts';
import { randomSamParams } from '../../../src/nodes/sam/params.ts';
import { samForward } from '../../../src/nodes/sam/sam.ts';
import { maxAbsDiff, tinyConfig, useBackend } from '../sam/fixtures.ts';

const tinyModel = (seed = 1): SamModel => createSamModel(tinyConfig(), randomSamParams(tinyConfig(), seed), `random:${seed}`);
const image = () => tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
const loss = (m: SamModel) => tf.tidy(() => tf.sum(tf.square(samForward(image(), {}, m.params, m.config).masks)) as tf.Scalar);
function perturb(m: SamModel): void {
  let s = 100;
  for (const a of m.adapters) for (const w of a.weights.values()) w.assign(tf.add(w, tf.randomNormal(w.shape, 0, 0.05, 'float32', s++)));
}

describe('LST (ladder side-tuning) on a tiny SAM', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('is the ladder side network of the paper: σ(α/T) gates, side blocks at width d/r, up-projected into the frozen neck', () => {
    for (const layers of [undefined, [1]]) {
      const m = tinyModel();
      const config = parseAdapterConfig({ method: 'lst', ...(layers ? { layers } : {}) });
      injectAdapter(m, config);
      perturb(m);
      const got = tf.tidy(() => samForward(image(), {}, m.params, m.config).imageEmbeddings);
      // Explicitly: the plain encoder's block outputs feed the side stream through gated ladders.
      const c = m.config;
      const p = m.params;
      const w = m.adapters[0]!.weights;
      const side = new Map(w);
      const expected = tf.tidy(() => {
        let x = patchConv(image(), p.get('image_encoder.patch_embed.proj.weight')!, p.get('image_encoder.patch_embed.proj.bias')!);
        x = tf.add(x, p.get('image_encoder.pos_embed')!) as tf.Tensor4D;
        let z = linear(x, side, 'image_encoder.lst.first_downsample') as tf.Tensor4D;
        for (let i = 0; i < c.encoder_depth; i++) {
          const window = c.encoder_global_attn_indexes.includes(i) ? 0 : c.window_size;
          x = encoderBlock(x, p, `image_encoder.blocks.${i}`, c.encoder_num_heads, window);
          if (layers && !layers.includes(i)) continue;
          const gate = 1 / (1 + Math.exp(-w.get(`image_encoder.lst.gates.${i}`)!.dataSync()[0]! / 0.1));
          const mixed = tf.add(tf.mul(gate, z), tf.mul(1 - gate, linear(x, side, `image_encoder.lst.downsamples.${i}`))) as tf.Tensor4D;
          z = encoderBlock(mixed, side, `image_encoder.lst.side_blocks.${i}`, c.encoder_num_heads, window);
        }
        let y = conv1x1(linear(z, side, 'image_encoder.lst.final_upsample') as tf.Tensor4D, p.get('image_encoder.neck.0.weight')!);
        y = layerNorm(y, p, 'image_encoder.neck.1', 1e-6) as tf.Tensor4D;
        y = tf.conv2d(y, p.get('image_encoder.neck.2.weight') as tf.Tensor4D, 1, 'same');
        return layerNorm(y, p, 'image_encoder.neck.3', 1e-6);
      });
      expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5);
      // d 32 / r 8 = 4 channels, 2 heads of width 2, MLP 16; block 0 windowed (3), block 1 global (grid 8)
      const blocks = layers ?? [0, 1];
      expect(w.get('image_encoder.lst.side_blocks.1.attn.qkv.weight')!.shape).toEqual([4, 12]);
      expect(w.get('image_encoder.lst.side_blocks.1.attn.rel_pos_h')!.shape).toEqual([15, 2]);
      expect(w.get('image_encoder.lst.final_upsample.weight')!.shape).toEqual([4, 32]);
      expect([...w.keys()].filter((k) => k.includes('.gates.'))).toEqual(blocks.map((i) => `image_encoder.lst.gates.${i}`));
      tf.dispose([got, expected]);
    }
  });

  it('no gradient reaches the backbone: its blocks run off the tape (unlike LoRA)', () => {
    const backbone = ['image_encoder.blocks.0.attn.qkv.weight', 'image_encoder.blocks.1.mlp.lin2.weight', 'image_encoder.blocks.1.norm1.weight'];
    const embedding = ['image_encoder.patch_embed.proj.weight', 'image_encoder.pos_embed'];
    const gradsFor = (method: 'lst' | 'lora') => {
      const m = tinyModel();
      injectAdapter(m, parseAdapterConfig({ method }));
      perturb(m);
      makeTrainable(m, [...backbone, ...embedding]);
      const { value, grads } = tf.variableGrads(() => loss(m), trainableVariables(m));
      value.dispose();
      const of = (key: string) => grads[m.unfrozen.get(key)!.name];
      return { m, grads, of };
    };
    const lst = gradsFor('lst');
    for (const key of backbone) expect(lst.of(key), key).toBeUndefined();
    // The patch embedding only reaches the side network through a detached copy: a zero gradient at most.
    for (const key of embedding) if (lst.of(key)) expect(tf.max(tf.abs(lst.of(key)!)).dataSync()[0], key).toBe(0);
    for (const [key, v] of lst.m.adapters[0]!.weights) expect(lst.grads[v.name], key).toBeDefined();
    // The decoder and the frozen neck between it and the side network are backpropagated.
    expect(lst.grads[lst.m.unfrozen.get('mask_decoder.output_upscaling.0.weight')!.name]).toBeDefined();
    const lora = gradsFor('lora');
    for (const key of [...backbone, ...embedding]) expect(tf.max(tf.abs(lora.of(key)!)).dataSync()[0], key).toBeGreaterThan(0);
    tf.dispose([...Object.values(lst.grads), ...Object.values(lora.grads)]);
  });

  it("holds far less memory in a training step than LoRA: the backbone's activations are never saved for backward", async () => {
    const c = { ...tinyConfig(), encoder_depth: 4, encoder_global_attn_indexes: [3] };
    const peak = async (method: 'lst' | 'lora') => {
      const m = createSamModel(c, randomSamParams(c, 1), 'random:1');
      injectAdapter(m, parseAdapterConfig({ method, trainDecoder: false }));
      const vars = trainableVariables(m);
      const start = tf.memory().numBytes;
      const profile = await tf.profile(() =>
        tf.tidy(() => void tf.variableGrads(() => tf.sum(tf.square(imageEncoder(image(), m.params, c))) as tf.Scalar, vars)),
      );
      return profile.peakBytes - start;
    };
    // about 1.3 MB against 2.9 MB (bench/adapters.ts measures vit_b)
    expect(await peak('lst')).toBeLessThan(0.5 * (await peak('lora')));
  });

  it('a training step and an inference pass leave no tensors behind', () => {
    const m = tinyModel();
    injectAdapter(m, parseAdapterConfig({ method: 'lst' }));
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => loss(m), trainableVariables(m));
    tf.dispose([value, ...Object.values(grads)]);
    tf.tidy(() => void samForward(image(), {}, m.params, m.config).masks.dataSync());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('prunes the side blocks from the backbone: the channels of largest weight L1 norm, in backbone order', () => {
    expect(topIndices([0.5, 3, 1, 3, 2], 3)).toEqual([1, 3, 4]);
    const m = tinyModel();
    const strong = [3, 7, 12, 30];
    // Make residual channels `strong` the heaviest in every block: rows of qkv and lin1, columns of proj and lin2.
    const boost = (d: number, axisLength: number, axis: 0 | 1) => {
      const f = new Float32Array(d).map((_, j) => (strong.includes(j) ? 100 : 1));
      return tf.tensor(f, axis === 0 ? [d, 1] : [1, d]).tile(axis === 0 ? [1, axisLength] : [axisLength, 1]);
    };
    for (const i of [0, 1]) {
      for (const [suffix, axis] of [['attn.qkv.weight', 0], ['mlp.lin1.weight', 0], ['attn.proj.weight', 1], ['mlp.lin2.weight', 1]] as const) {
        const key = `image_encoder.blocks.${i}.${suffix}`;
        const t = m.params.get(key)!;
        m.params.set(key, tf.mul(t, boost(32, t.shape[axis === 0 ? 1 : 0]!, axis)));
      }
      for (const norm of ['norm1', 'norm2']) m.params.set(`image_encoder.blocks.${i}.${norm}.bias`, tf.randomNormal([32], 0, 1, 'float32', 40 + i));
    }
    injectAdapter(m, parseAdapterConfig({ method: 'lst' }));
    const w = m.adapters[0]!.weights;
    const gathered = (key: string) => tf.gather(m.params.get(key)!, strong);
    for (const i of [0, 1]) {
      for (const suffix of ['norm1.bias', 'norm2.bias', 'attn.proj.bias', 'mlp.lin2.bias']) {
        expect(maxAbsDiff(w.get(`image_encoder.lst.side_blocks.${i}.${suffix}`)!, gathered(`image_encoder.blocks.${i}.${suffix}`)), suffix).toBe(0);
      }
      // Each column of the side qkv is a column of the backbone's qkv on the kept rows.
      const rows = gathered(`image_encoder.blocks.${i}.attn.qkv.weight`).transpose().arraySync() as number[][];
      const columns = w.get(`image_encoder.lst.side_blocks.${i}.attn.qkv.weight`)!.transpose().arraySync() as number[][];
      for (const col of columns) expect(rows.some((r) => r.every((v, j) => v === col[j]))).toBe(true);
    }
    const fresh = tinyModel();
    injectAdapter(fresh, parseAdapterConfig({ method: 'lst', sideInit: 'random' }));
    const fw = fresh.adapters[0]!.weights;
    expect(fw.get('image_encoder.lst.side_blocks.0.norm1.weight')!.dataSync()).toEqual(new Float32Array(4).fill(1));
    expect(tf.max(tf.abs(fw.get('image_encoder.lst.side_blocks.1.attn.rel_pos_h')!)).dataSync()[0]).toBe(0);
  });

  it('names sideReduction when it does not divide the encoder width or leaves a width the heads cannot split', () => {
    expect(() => injectAdapter(tinyModel(), parseAdapterConfig({ method: 'lst', sideReduction: 3 }))).toThrow(
      'adapter config: sideReduction 3 does not divide encoder_embed_dim 32',
    );
    expect(() => lstDims(tinyConfig(), parseAdapterConfig({ method: 'lst', sideReduction: 32 }))).toThrow(
      'adapter config: sideReduction 32 gives a side width of 1, which encoder_num_heads 2 does not divide',
    );
    expect(() => parameterReport(SAM_PRESETS.vit_b, parseAdapterConfig({ method: 'lst', sideReduction: 5 }))).toThrow('sideReduction 5 does not divide encoder_embed_dim 768');
    expect(() => lstDims(tinyConfig(), parseAdapterConfig({ method: 'lst', layers: [2] }))).toThrow('layers has 2, but the encoder has 2 blocks (0..1)');
  });

  it('counts its parameters on vit_b (r = 8: width 96, 12 heads of 8, MLP 384)', () => {
    const report = parameterReport(SAM_PRESETS.vit_b, parseAdapterConfig({ method: 'lst', trainDecoder: false }));
    // ladders: (1 + 12) × (768·96 + 96) = 959,712; gates 12; up-projection 96·768 + 768 = 74,496;
    // side blocks: 12 × (norms 384 + qkv 27,936 + proj 9,312 + lin1 37,248 + lin2 36,960) = 1,342,080,
    // rel-pos tables 2 × (2s − 1) × 8: 8 windowed (s 14) × 432 + 4 global (s 64) × 2,032 = 11,584
    expect(report.trainable).toBe(959_712 + 12 + 74_496 + 1_342_080 + 11_584); // 2,387,884
    expect(parameterReport(SAM_PRESETS.vit_b, parseAdapterConfig({ method: 'lst', trainDecoder: false, sideReduction: 16 })).trainable).toBeLessThan(report.trainable / 2);
  });
});
