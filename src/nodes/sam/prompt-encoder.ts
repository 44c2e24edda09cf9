/**
 * SAM's prompt encoder (segment_anything/modeling/prompt_encoder.py): random-Fourier position
 * encoding of points and box corners, learned point-type embeddings, the mask-prompt
 * downscaler, and the "no mask" embedding used when no mask prompt is given.
 */
import * as tf from '@tensorflow/tfjs';
import { gridSize, type SamConfig } from './config.ts';
import { gelu } from '../tensor/fused.ts';
import { conv1x1, layerNorm, param, patchConv } from './ops.ts';
import type { SamParams } from './params.ts';

export interface SamPrompts {
  /** Point coordinates [B, N, 2] as (x, y) in the resized input frame, with labels [B, N]: 1 foreground, 0 background, -1 padding. */
  readonly points?: { readonly coords: tf.Tensor3D; readonly labels: tf.Tensor2D };
  /** Boxes [B, 4] as (x0, y0, x1, y1) in the resized input frame. */
  readonly boxes?: tf.Tensor2D;
  /** Low-resolution mask logits [B, 4·grid, 4·grid, 1]. */
  readonly masks?: tf.Tensor4D;
}

const GAUSSIAN = 'prompt_encoder.pe_layer.positional_encoding_gaussian_matrix';

/** sin/cos of 2π·((2·coords − 1) @ G) for coords in [0, 1], [..., 2] -> [..., prompt_embed_dim]. */
function fourierFeatures(coords: tf.Tensor, params: SamParams): tf.Tensor {
  const shape = coords.shape;
  const projected = tf.matMul(tf.sub(tf.mul(coords.reshape([-1, 2]), 2), 1), param(params, GAUSSIAN)).mul(2 * Math.PI);
  return tf.concat([tf.sin(projected), tf.cos(projected)], -1).reshape([...shape.slice(0, -1), -1]);
}

/** The dense positional encoding of the embedding grid, [1, grid, grid, prompt_embed_dim]. */
export function densePositionalEncoding(params: SamParams, c: SamConfig): tf.Tensor4D {
  const g = gridSize(c);
  const coords = new Float32Array(g * g * 2);
  for (let y = 0; y < g; y++) {
    for (let x = 0; x < g; x++) {
      coords[(y * g + x) * 2] = (x + 0.5) / g;
      coords[(y * g + x) * 2 + 1] = (y + 0.5) / g;
    }
  }
  return fourierFeatures(tf.tensor3d(coords, [g, g, 2]), params).expandDims(0) as tf.Tensor4D;
}

/** Encodes pixel coordinates (already shifted to pixel centres) in the image_size frame. */
function encodeCoords(coords: tf.Tensor, params: SamParams, c: SamConfig): tf.Tensor {
  return fourierFeatures(tf.div(coords, c.image_size), params);
}

function embedPoints(coords: tf.Tensor3D, labels: tf.Tensor2D, pad: boolean, params: SamParams, c: SamConfig): tf.Tensor3D {
  let points: tf.Tensor = tf.add(coords, 0.5);
  let lab: tf.Tensor = labels;
  if (pad) {
    const b = coords.shape[0];
    points = tf.concat([points, tf.zeros([b, 1, 2])], 1);
    lab = tf.concat([labels, tf.fill([b, 1], -1)], 1);
  }
  const is = (value: number) => tf.cast(tf.equal(lab, value), 'float32').expandDims(-1);
  const embedding = (key: string) => param(params, key).reshape([1, 1, -1]);
  const pe = encodeCoords(points, params, c);
  // Padding points carry only the not-a-point embedding; real points add their label's embedding.
  return tf.addN([
    tf.mul(pe, tf.sub(1, is(-1))),
    tf.mul(is(-1), embedding('prompt_encoder.not_a_point_embed.weight')),
    tf.mul(is(0), embedding('prompt_encoder.point_embeddings.0.weight')),
    tf.mul(is(1), embedding('prompt_encoder.point_embeddings.1.weight')),
  ]) as tf.Tensor3D;
}

function embedBoxes(boxes: tf.Tensor2D, params: SamParams, c: SamConfig): tf.Tensor3D {
  const corners = encodeCoords(tf.add(boxes, 0.5).reshape([-1, 2, 2]), params, c);
  const cornerEmbeddings = tf.concat([param(params, 'prompt_encoder.point_embeddings.2.weight'), param(params, 'prompt_encoder.point_embeddings.3.weight')], 0);
  return tf.add(corners, cornerEmbeddings) as tf.Tensor3D;
}

function embedMasks(masks: tf.Tensor4D, params: SamParams): tf.Tensor4D {
  const m = 'prompt_encoder.mask_downscaling';
  let x = patchConv(masks, param(params, `${m}.0.weight`), param(params, `${m}.0.bias`));
  x = gelu(layerNorm(x, params, `${m}.1`, 1e-6)) as tf.Tensor4D;
  x = patchConv(x, param(params, `${m}.3.weight`), param(params, `${m}.3.bias`));
  x = gelu(layerNorm(x, params, `${m}.4`, 1e-6)) as tf.Tensor4D;
  return conv1x1(x, param(params, `${m}.6.weight`), param(params, `${m}.6.bias`));
}

/** Sparse tokens [B, N, prompt_embed_dim] (N may be 0) and the dense embedding [B, grid, grid, prompt_embed_dim]. */
export function promptEncoder(prompts: SamPrompts, batch: number, params: SamParams, c: SamConfig): { sparse: tf.Tensor3D; dense: tf.Tensor4D } {
  const e = c.prompt_embed_dim;
  const g = gridSize(c);
  const parts: tf.Tensor3D[] = [];
  if (prompts.points) {
    const { coords, labels } = prompts.points;
    if (coords.shape[0] !== batch || coords.shape[2] !== 2 || labels.shape[0] !== batch || labels.shape[1] !== coords.shape[1]) {
      throw new Error(`prompt encoder: points [${coords.shape.join(', ')}] with labels [${labels.shape.join(', ')}] do not match batch ${batch}: expected [${batch}, N, 2] and [${batch}, N]`);
    }
    parts.push(embedPoints(coords, labels, !prompts.boxes, params, c));
  }
  if (prompts.boxes) {
    if (prompts.boxes.shape[0] !== batch || prompts.boxes.shape[1] !== 4) throw new Error(`prompt encoder: boxes must be [${batch}, 4], got [${prompts.boxes.shape.join(', ')}]`);
    parts.push(embedBoxes(prompts.boxes, params, c));
  }
  const sparse = parts.length ? (tf.concat(parts, 1) as tf.Tensor3D) : tf.zeros([batch, 0, e]) as tf.Tensor3D;
  let dense: tf.Tensor4D;
  if (prompts.masks) {
    const [mb, mh, mw, mc] = prompts.masks.shape;
    if (mb !== batch || mh !== 4 * g || mw !== 4 * g || mc !== 1) {
      throw new Error(`prompt encoder: mask prompts must be [${batch}, ${4 * g}, ${4 * g}, 1], got [${prompts.masks.shape.join(', ')}]`);
    }
    dense = embedMasks(prompts.masks, params);
  } else {
    dense = tf.broadcastTo(param(params, 'prompt_encoder.no_mask_embed.weight').reshape([1, 1, 1, e]), [batch, g, g, e]) as tf.Tensor4D;
  }
  return { sparse, dense };
}
