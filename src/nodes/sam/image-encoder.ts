/**
 * SAM's ViT image encoder (segment_anything/modeling/image_encoder.py): 16×16 patch embedding,
 * absolute position embedding, blocks of windowed or global attention with decomposed
 * relative positions, and the neck down to prompt_embed_dim channels. NHWC throughout.
 */
import * as tf from '@tensorflow/tfjs';
import { gridSize, type SamConfig } from './config.ts';
import { conv3x3 } from '../tensor/conv3x3.ts';
import { gelu } from '../tensor/fused.ts';
import { attend, conv1x1, layerNorm, linear, param, patchConv } from './ops.ts';
import type { SamParams } from './params.ts';
import { relativePositionBias, relativePositionTerms } from './relative-position.ts';
import { relPosAttention } from './relpos-attention.ts';
import { windowPartition, windowUnpartition } from './windows.ts';

/** Above this many tokens per window, attention runs one (batch·head) slice at a time to bound memory. */
const CHUNKED_ATTENTION_TOKENS = 1024;

/**
 * Multi-head attention over a [B, H, W, C] grid with decomposed relative positions; `name` is the
 * parameter prefix (`image_encoder.blocks.3.attn`). Rel-pos tables are interpolated when their length
 * does not match 2·H − 1.
 */
export function encoderAttention(x: tf.Tensor4D, params: SamParams, name: string, heads: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const hd = c / heads;
  const tokens = h * w;
  const qkv = linear(x, params, `${name}.qkv`).reshape([b, tokens, 3, heads, hd]).transpose([2, 0, 3, 1, 4]).reshape([3, b * heads, tokens, hd]);
  // split, not three slices: each slice's gradient would pad back to the whole qkv tensor.
  const [q, kPart, vPart] = tf.split(qkv, 3, 0).map((t) => t.reshape([b * heads, tokens, hd]) as tf.Tensor3D) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
  let k = kPart;
  let v = vPart;
  const tableH = param(params, `${name}.rel_pos_h`);
  const tableW = param(params, `${name}.rel_pos_w`);
  // Prompt tokens (VPT) join every window as extra keys and values, with no positional bias.
  let promptCount = 0;
  const prompts = params.hooks?.attentionPrompts.map((hook) => hook(name)).find((t) => t !== undefined);
  if (prompts) {
    promptCount = prompts.shape[0]!;
    const pkv = linear(prompts, params, `${name}.qkv`).reshape([promptCount, 3, heads, hd]).transpose([1, 2, 0, 3]); // [3, heads, P, hd]
    const shared = (i: number) => tf.tile(tf.slice(pkv, [i, 0, 0, 0], [1, heads, promptCount, hd]), [b, 1, 1, 1]).reshape([b * heads, promptCount, hd]);
    k = tf.concat([shared(1), k], 1) as tf.Tensor3D;
    v = tf.concat([shared(2), v], 1) as tf.Tensor3D;
  }
  const headsOut = (qs: tf.Tensor3D, ks: tf.Tensor3D, vs: tf.Tensor3D) => {
    const { relH, relW } = relativePositionTerms(qs, [h, w], [h, w], tableH, tableW);
    if (!promptCount) return relPosAttention(qs, ks, vs, relH, relW);
    // Prompt keys get no positional bias.
    const bias = relativePositionBias(relH, relW);
    return attend(qs, ks, vs, tf.concat([tf.zeros([qs.shape[0], tokens, promptCount]), bias], 2));
  };
  let out: tf.Tensor3D;
  if (tokens <= CHUNKED_ATTENTION_TOKENS) {
    out = headsOut(q, k, v);
  } else {
    // Split, not one slice per head: a slice's gradient pads back to the full [B·heads, T, hd]
    // tensor, so per-head slices cost heads² work in backward; split's gradient is one concat.
    const [qs, ks, vs] = [q, k, v].map((t) => tf.split(t, b * heads, 0) as tf.Tensor3D[]) as [tf.Tensor3D[], tf.Tensor3D[], tf.Tensor3D[]];
    const slices = qs.map((qi, i) => tf.tidy(() => headsOut(qi, ks[i]!, vs[i]!)));
    out = tf.concat(slices, 0);
    tf.dispose([...slices, ...qs, ...ks, ...vs]);
  }
  const merged = out.reshape([b, heads, h, w, hd]).transpose([0, 2, 3, 1, 4]).reshape([b, h, w, c]);
  return linear(merged, params, `${name}.proj`) as tf.Tensor4D;
}

/** One transformer block; `windowSize` 0 means global attention. */
export function encoderBlock(x: tf.Tensor4D, params: SamParams, name: string, heads: number, windowSize: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  let y = layerNorm(x, params, `${name}.norm1`, 1e-6) as tf.Tensor4D;
  if (windowSize > 0) {
    const { windows, padded } = windowPartition(y, windowSize);
    y = windowUnpartition(encoderAttention(windows, params, `${name}.attn`, heads), windowSize, padded, [h, w]);
  } else {
    y = encoderAttention(y, params, `${name}.attn`, heads);
  }
  const mid = tf.add(x, y);
  const hidden = gelu(linear(layerNorm(mid, params, `${name}.norm2`, 1e-6), params, `${name}.mlp.lin1`));
  return tf.add(mid, linear(hidden, params, `${name}.mlp.lin2`)) as tf.Tensor4D;
}

/**
 * Normalised, padded images [B, S, S, 3] -> image embeddings [B, S/patch, S/patch, prompt_embed_dim].
 * `blockHook` lets adapters wrap a block (it receives the block input and the default block function).
 */
export function imageEncoder(
  images: tf.Tensor4D,
  params: SamParams,
  c: SamConfig,
  blockHook?: (i: number, x: tf.Tensor4D, run: (x: tf.Tensor4D) => tf.Tensor4D) => tf.Tensor4D,
): tf.Tensor4D {
  const [, h, w, channels] = images.shape;
  if (h !== c.image_size || w !== c.image_size || channels !== 3) {
    throw new Error(`image encoder: expected images [B, ${c.image_size}, ${c.image_size}, 3], got [${images.shape.join(', ')}]`);
  }
  let x = patchConv(images, param(params, 'image_encoder.patch_embed.proj.weight'), param(params, 'image_encoder.patch_embed.proj.bias'));
  const additions = params.hooks?.blockInputs?.map((hook) => hook(images, x)) ?? [];
  x = tf.add(x, param(params, 'image_encoder.pos_embed')) as tf.Tensor4D;
  for (let i = 0; i < c.encoder_depth; i++) {
    const windowSize = c.encoder_global_attn_indexes.includes(i) ? 0 : c.window_size;
    const plain = (input: tf.Tensor4D) => encoderBlock(input, params, `image_encoder.blocks.${i}`, c.encoder_num_heads, windowSize);
    const run = (params.hooks?.blockWrappers ?? []).reduce((inner, wrap) => (input: tf.Tensor4D) => wrap(i, input, inner), plain);
    // Each block in its own scope: inference frees its intermediates at once, and under a
    // gradient tape tfjs keeps its own copies of what backward needs, so this is safe there too.
    const before = x;
    x = tf.tidy(() => {
      let input = before;
      for (const add of additions) {
        const extra = add(i);
        if (extra) input = tf.add(input, extra) as tf.Tensor4D;
      }
      return blockHook ? blockHook(i, input, run) : run(input);
    });
  }
  for (const hook of params.hooks?.neckInput ?? []) {
    const last = x;
    x = tf.tidy(() => hook(last));
  }
  const grid = gridSize(c);
  let y = conv1x1(x, param(params, 'image_encoder.neck.0.weight'));
  y = layerNorm(y, params, 'image_encoder.neck.1', 1e-6) as tf.Tensor4D;
  y = conv3x3(y, param(params, 'image_encoder.neck.2.weight'));
  y = layerNorm(y, params, 'image_encoder.neck.3', 1e-6) as tf.Tensor4D;
  if (y.shape[1] !== grid) throw new Error(`image encoder: produced a ${y.shape[1]}-token grid, expected ${grid}`);
  return y;
}
