/**
 * The mSAM forward pass (spec ta-lora.md §2): images → SAM input geometry → the encoder once per
 * task (that task's TA-LoRA update) → per task, one decoder pass per output channel, channel c
 * seeing image_emb_t + E_t[c] with no prompt tokens, mask token 0 kept → upsample, crop, resize
 * to the input's size → the task's head.
 */
import * as tf from '@tensorflow/tfjs';
import { isTaLora } from '../../adapters/ta-lora/inject.ts';
import { unitNormals } from '../../losses/normal-cosine.ts';
import { gridSize, type SamConfig } from '../config.ts';
import { imageEncoder } from '../image-encoder.ts';
import { maskDecoder } from '../mask-decoder.ts';
import { maskTokenCount } from '../mask-tokens.ts';
import { setActiveTasks, type SamModel } from '../model.ts';
import { densePositionalEncoding } from '../prompt-encoder.ts';
import { normalizeAndPad, resizedShape } from '../transforms.ts';
import { taskParams, type MsamHeads } from './decoders.ts';
import { resizeBilinearHalfPixel } from '../../tensor/resize-bilinear.ts';
import { taskOffsets, type TaskKind } from './tasks.ts';

export interface MsamOptions {
  /** SAM's pixel mean/std; the released script skips it (ignore_preprocess) and feeds [0, 1] images. */
  readonly normalize: boolean;
  /**
   * One encoder pass over the batch tiled task-major ([task0: b0..bB−1, task1: ...]), as the
   * released eval path does; otherwise one pass per task. Both give the same outputs.
   */
  readonly batched: boolean;
}

/**
 * Images [B, H, W, 3] in [0, 1] → [B, S, S, 3] for the encoder: longest side to S (bilinear,
 * half-pixel centres like PyTorch's align_corners = False; TF.js has no antialias), zero-padded
 * bottom-right; also the resized size, which the output crop needs.
 */
export function msamInput(images: tf.Tensor4D, c: SamConfig, normalize: boolean): { input: tf.Tensor4D; resized: [number, number] } {
  const [, h, w, channels] = images.shape;
  if (channels !== 3) throw new Error(`mSAM: images must be RGB [B, H, W, 3], got [${images.shape.join(', ')}]`);
  const resized = resizedShape(h, w, c.image_size);
  const scaled = resized[0] === h && resized[1] === w ? images : tf.image.resizeBilinear(images, resized, false, true);
  const input = normalize
    ? normalizeAndPad(tf.mul(scaled, 255) as tf.Tensor4D, c.image_size)
    : (tf.pad(scaled, [[0, 0], [0, c.image_size - resized[0]], [0, c.image_size - resized[1]], [0, 0]]) as tf.Tensor4D);
  return { input, resized };
}

/** A task's output transform before loss and metric (spec §2.6), over the channel axis of NHWC. */
export function taskHead(kind: TaskKind, raw: tf.Tensor4D): tf.Tensor4D {
  switch (kind) {
    case 'segmentation':
      return tf.logSoftmax(raw) as tf.Tensor4D;
    case 'normals':
      return unitNormals(raw);
    default:
      return raw;
  }
}

/** Image embeddings [B, g, g, C] for each task, in task order. */
function encodePerTask(model: SamModel, input: tf.Tensor4D, taskCount: number, batched: boolean): tf.Tensor4D[] {
  const tasks = Array.from({ length: taskCount }, (_, t) => t);
  // Without a task-aware adapter (plain SAM, one shared LoRA) every task sees the same embedding.
  if (!model.adapters.some((a) => a.setTasks)) {
    const shared = imageEncoder(input, model.params, model.config);
    return tasks.map(() => shared);
  }
  for (const a of model.adapters) {
    const count = isTaLora(a) ? a.taskCount : (a as { taskCount?: number }).taskCount;
    if (a.setTasks && count !== undefined && count !== taskCount) {
      throw new Error(`mSAM runs ${taskCount} tasks, but the model's ${a.method} adapter has ${count} (adapters/inject 'tasks'): set both to the same count`);
    }
  }
  if (!batched) {
    return tasks.map((t) => {
      setActiveTasks(model, [t]);
      return imageEncoder(input, model.params, model.config);
    });
  }
  setActiveTasks(model, tasks);
  const all = imageEncoder(tf.concat(tasks.map(() => input)) as tf.Tensor4D, model.params, model.config);
  return tf.split(all, taskCount, 0);
}

/** Task t's low-resolution logits [B, C_t, 4g, 4g]: one decoder pass per channel, mask token 0. */
export function decodeTask(model: SamModel, heads: MsamHeads, t: number, embeddings: tf.Tensor4D, imagePe: tf.Tensor4D): tf.Tensor4D {
  const c = model.config;
  const e = c.prompt_embed_dim;
  const g = gridSize(c);
  const b = embeddings.shape[0];
  const channels = heads.tasks[t]!.channels;
  const rows = tf.slice(heads.noMask, [taskOffsets(heads.tasks)[t]!, 0], [channels, e]);
  // Batch b·C_t + c holds image b with channel c's no-mask embedding.
  // Rank 3 and 4: tfjs has no tile gradient above rank 4.
  const src = tf.tile(embeddings.reshape([b, 1, g * g * e]), [1, channels, 1]).reshape([b * channels, g, g, e]) as tf.Tensor4D;
  const dense = tf.broadcastTo(rows.reshape([1, channels, 1, e]), [b, channels, g * g, e]).reshape([b * channels, g, g, e]) as tf.Tensor4D;
  const sparse = tf.zeros([b * channels, 0, e]) as tf.Tensor3D;
  const { masks } = maskDecoder(src, imagePe, sparse, dense, taskParams(model, heads, t), c, maskTokenCount(c));
  const [, , lh, lw] = masks.shape;
  return tf.slice(masks, [0, 0, 0, 0], [b * channels, 1, lh, lw]).reshape([b, channels, lh, lw]) as tf.Tensor4D;
}

/**
 * Low-resolution logits [B, C, 4g, 4g] → [B, H, W, C] (spec §2.5): bilinear up to image_size, crop
 * to the resized input, bilinear to the label size (sam/transforms' postprocessMasks, NHWC out,
 * with a resize whose gradient works for non-square maps).
 */
export function msamPostprocess(low: tf.Tensor4D, resized: readonly [number, number], original: readonly [number, number], imageSize: number): tf.Tensor4D {
  const [b, m] = low.shape;
  const full = resizeBilinearHalfPixel(low.transpose([0, 2, 3, 1]) as tf.Tensor4D, [imageSize, imageSize]);
  return resizeBilinearHalfPixel(tf.slice(full, [0, 0, 0, 0], [b, resized[0], resized[1], m]), original);
}

/** Every task's head output [B, H, W, C_t] at the images' own size, in task order. */
export function msamForward(model: SamModel, heads: MsamHeads, images: tf.Tensor4D, options: MsamOptions): tf.Tensor4D[] {
  const c = model.config;
  const [, h, w] = images.shape;
  const { input, resized } = msamInput(images, c, options.normalize);
  const embeddings = encodePerTask(model, input, heads.tasks.length, options.batched);
  const pe = densePositionalEncoding(model.params, c);
  return heads.tasks.map((task, t) => {
    const low = decodeTask(model, heads, t, embeddings[t]!, pe);
    const full = msamPostprocess(low, resized, [h, w], c.image_size);
    return taskHead(task.kind, full);
  });
}
