/**
 * SAM's two-way transformer (segment_anything/modeling/transformer.py): prompt tokens and
 * image tokens attend to each other; the cross-attentions work at a reduced width
 * (attention_downsample_rate 2). LayerNorms here use PyTorch's default eps 1e-5.
 */
import * as tf from '@tensorflow/tfjs';
import type { SamConfig } from './config.ts';
import { attend, layerNorm, linear } from './ops.ts';
import type { SamParams } from './params.ts';

/** Token attention with q/k/v/out projections; inputs [B, T, C]. */
export function tokenAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, params: SamParams, name: string, heads: number): tf.Tensor3D {
  const split = (x: tf.Tensor) => {
    const [b, t, c] = x.shape as [number, number, number];
    return x.reshape([b, t, heads, c / heads]).transpose([0, 2, 1, 3]).reshape([b * heads, t, c / heads]) as tf.Tensor3D;
  };
  const qp = linear(q, params, `${name}.q_proj`);
  const out = attend(split(qp), split(linear(k, params, `${name}.k_proj`)), split(linear(v, params, `${name}.v_proj`)));
  const [b, t, inner] = qp.shape as [number, number, number];
  const merged = out.reshape([b, heads, t, inner / heads]).transpose([0, 2, 1, 3]).reshape([b, t, inner]);
  return linear(merged, params, `${name}.out_proj`) as tf.Tensor3D;
}

/**
 * image [B, HW, C] with its positional encoding, tokens [B, T, C] -> (queries [B, T, C], keys [B, HW, C]).
 */
export function twoWayTransformer(
  image: tf.Tensor3D,
  imagePe: tf.Tensor3D,
  tokens: tf.Tensor3D,
  params: SamParams,
  c: SamConfig,
): { queries: tf.Tensor3D; keys: tf.Tensor3D } {
  const heads = c.decoder_num_heads;
  const norm = (x: tf.Tensor, name: string) => layerNorm(x, params, name, 1e-5) as tf.Tensor3D;
  let queries = tokens;
  let keys = image;
  for (let i = 0; i < c.decoder_depth; i++) {
    const p = `mask_decoder.transformer.layers.${i}`;
    // Self-attention; the first layer uses no positional encoding and no residual.
    if (i === 0) {
      queries = tokenAttention(queries, queries, queries, params, `${p}.self_attn`, heads);
    } else {
      const q = tf.add(queries, tokens) as tf.Tensor3D;
      queries = tf.add(queries, tokenAttention(q, q, queries, params, `${p}.self_attn`, heads)) as tf.Tensor3D;
    }
    queries = norm(queries, `${p}.norm1`);
    // Tokens attend to the image.
    let q = tf.add(queries, tokens) as tf.Tensor3D;
    let k = tf.add(keys, imagePe) as tf.Tensor3D;
    queries = norm(tf.add(queries, tokenAttention(q, k, keys, params, `${p}.cross_attn_token_to_image`, heads)), `${p}.norm2`);
    // MLP (ReLU, as TwoWayTransformer's default activation).
    const hidden = tf.relu(linear(queries, params, `${p}.mlp.lin1`));
    queries = norm(tf.add(queries, linear(hidden, params, `${p}.mlp.lin2`)), `${p}.norm3`);
    // The image attends to the tokens.
    q = tf.add(queries, tokens) as tf.Tensor3D;
    k = tf.add(keys, imagePe) as tf.Tensor3D;
    keys = norm(tf.add(keys, tokenAttention(k, q, queries, params, `${p}.cross_attn_image_to_token`, heads)), `${p}.norm4`);
  }
  const q = tf.add(queries, tokens) as tf.Tensor3D;
  const k = tf.add(keys, imagePe) as tf.Tensor3D;
  queries = tf.add(queries, tokenAttention(q, k, keys, params, 'mask_decoder.transformer.final_attn_token_to_image', heads)) as tf.Tensor3D;
  return { queries: norm(queries, 'mask_decoder.transformer.norm_final_attn'), keys };
}
