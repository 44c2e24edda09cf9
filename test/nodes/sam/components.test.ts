import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadSamCheckpoint } from '../../../src/nodes/sam/checkpoint/load.ts';
import { encoderAttention } from '../../../src/nodes/sam/image-encoder.ts';
import { upscaleEmbeddings } from '../../../src/nodes/sam/mask-decoder.ts';
import { bmm, layerNorm } from '../../../src/nodes/sam/ops.ts';
import type { SamParams } from '../../../src/nodes/sam/params.ts';
import { relativePositionMatrix } from '../../../src/nodes/sam/relative-position.ts';
import { twoWayTransformer } from '../../../src/nodes/sam/transformer.ts';
import { windowPartition, windowUnpartition } from '../../../src/nodes/sam/windows.ts';
import { BACKENDS, FIXTURES, fixture, maxAbsDiff, nhwc, tinyConfig, useBackend } from './fixtures.ts';

describe.each(BACKENDS)('SAM components against PyTorch on %s', (backend) => {
  let params: SamParams;
  beforeAll(async () => {
    await useBackend(backend);
    params = (await loadSamCheckpoint(`${FIXTURES}tiny.pth`, tinyConfig())).params;
  });

  it('window partition pads to a multiple of the window and unpartition inverts it', () => {
    const x = fixture('comp_window_in') as tf.Tensor4D;
    const { windows, padded } = windowPartition(x, 3);
    expect(padded).toEqual([9, 9]);
    expect(maxAbsDiff(windows, fixture('comp_window_out'))).toBe(0);
    expect(maxAbsDiff(windowUnpartition(windows, 3, padded, [8, 8]), x)).toBe(0);
  });

  it('encoder attention with relative positions interpolated from 5 to 7 rows', () => {
    const p: SamParams = new Map([
      ['a.qkv.weight', fixture('comp_attn_qkv.weight').transpose()],
      ['a.qkv.bias', fixture('comp_attn_qkv.bias')],
      ['a.proj.weight', fixture('comp_attn_proj.weight').transpose()],
      ['a.proj.bias', fixture('comp_attn_proj.bias')],
      ['a.rel_pos_h', fixture('comp_attn_rel_pos_h')],
      ['a.rel_pos_w', fixture('comp_attn_rel_pos_w')],
    ]);
    const out = encoderAttention(fixture('comp_attn_in') as tf.Tensor4D, p, 'a', 2);
    expect(maxAbsDiff(out, fixture('comp_attn_out'))).toBeLessThan(1e-5);
  });

  it('LayerNorm2d normalises over channels with eps 1e-6', () => {
    const p: SamParams = new Map([
      ['ln.weight', fixture('comp_ln2d_weight')],
      ['ln.bias', fixture('comp_ln2d_bias')],
    ]);
    expect(maxAbsDiff(layerNorm(nhwc('comp_ln2d_in'), p, 'ln', 1e-6), nhwc('comp_ln2d_out'))).toBeLessThan(1e-5);
  });

  it('the two-way transformer matches on the tiny model', () => {
    const c = tinyConfig();
    const image = nhwc('comp_twoway_image').reshape([1, 64, c.prompt_embed_dim]) as tf.Tensor3D;
    const pe = nhwc('dense_pe').reshape([1, 64, c.prompt_embed_dim]) as tf.Tensor3D;
    const { queries, keys } = twoWayTransformer(image, pe, fixture('comp_twoway_tokens') as tf.Tensor3D, params, c);
    expect(maxAbsDiff(queries, fixture('comp_twoway_queries'))).toBeLessThan(1e-4);
    expect(maxAbsDiff(keys, fixture('comp_twoway_keys'))).toBeLessThan(1e-4);
  });

  it('the transposed-conv upscaler (k2 s2 as a matMul) matches ConvTranspose2d', () => {
    expect(maxAbsDiff(upscaleEmbeddings(nhwc('comp_upscale_in'), params), nhwc('comp_upscale_out'))).toBeLessThan(1e-5);
  });
});

describe('bmm on wasm', () => {
  it('loops large entries through rank-2 matMuls and agrees with the batched kernel', async () => {
    await useBackend('wasm');
    const a = tf.randomNormal([3, 128, 96], 0, 1, 'float32', 1) as tf.Tensor3D;
    const b = tf.randomNormal([3, 96, 128], 0, 1, 'float32', 2) as tf.Tensor3D;
    expect(maxAbsDiff(bmm(a, b), tf.matMul(a, b))).toBeLessThan(1e-4);
    const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => bmm(x as tf.Tensor3D, y as tf.Tensor3D).sum())([a, b]);
    const reference = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y).sum())([a, b]);
    expect(maxAbsDiff(grads[0]!, reference[0]!)).toBeLessThan(1e-4);
    expect(maxAbsDiff(grads[1]!, reference[1]!)).toBeLessThan(1e-4);
  });
});

describe('relative position matrix', () => {
  it('picks table row q - k + (k - 1) when sizes match (hand-derived)', () => {
    const m = relativePositionMatrix(3, 3, 5);
    const rowOf = (q: number, k: number) => [...m.subarray((q * 3 + k) * 5, (q * 3 + k + 1) * 5)].indexOf(1);
    expect([rowOf(0, 0), rowOf(0, 2), rowOf(2, 0), rowOf(1, 1)]).toEqual([2, 0, 4, 2]);
  });

  it('interpolates linearly with half-pixel centres when the table is shorter (hand-derived)', () => {
    // 2 rows stretched to 3: output 0 -> src max(2/3·0.5 − 0.5, 0) = 0; output 1 -> 0.5; output 2 -> 1.
    const m = relativePositionMatrix(2, 2, 2);
    const row = (q: number, k: number) => [...m.subarray((q * 2 + k) * 2, (q * 2 + k + 1) * 2)];
    expect(row(0, 1)).toEqual([1, 0]); // offset -1 -> output row 0
    expect(row(0, 0)).toEqual([0.5, 0.5]); // offset 0 -> output row 1
    expect(row(1, 0)).toEqual([0, 1]); // offset +1 -> output row 2
  });
});
