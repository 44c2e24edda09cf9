/**
 * The mask decoder's mask-token table: its first k rows, for a decoder that runs only those, and
 * training only those.
 *
 * Conv-LoRA's binary model (autogluon SAMForSemanticSegmentation, num_mask_tokens = 1) rebuilds
 * the table with one row, the checkpoint's mask token 0, and keeps only hypernetwork MLP 0, so
 * the token attention sees the IoU token and one mask token, not five. samflow keeps the whole
 * table in the model and runs its first k rows instead (the same function), so the prompted
 * multimask decoder stays available. When the decoder trains with k tokens, only rows 0..k-1
 * become a variable (under the official key, shaped like the official rebuilt table); the other
 * rows stay frozen under FROZEN_MASK_TOKENS, so weight decay cannot touch them and adapter
 * checkpoints never hold them.
 */
import * as tf from '@tensorflow/tfjs';
import type { SamConfig } from './config.ts';
import { makeTrainable, type SamModel } from './model.ts';
import { param } from './ops.ts';
import type { SamParams } from './params.ts';

export const MASK_TOKENS = 'mask_decoder.mask_tokens.weight';
/** Not an official key: the rows past the trained ones, present only while the table is split. */
export const FROZEN_MASK_TOKENS = 'mask_decoder.mask_tokens.frozen_rows';

/** Mask tokens of the official decoder for a config: num_multimask_outputs + 1. */
export function maskTokenCount(c: SamConfig): number {
  return c.num_multimask_outputs + 1;
}

/** Refuses a token count the config's decoder cannot run; `where` names the setting. */
export function checkMaskTokens(c: SamConfig, k: number, where: string): void {
  const t = maskTokenCount(c);
  if (!Number.isInteger(k) || k < 1 || k > t) throw new Error(`${where}: ${k} mask tokens, but the decoder has 1..${t} (num_multimask_outputs + 1)`);
}

/** The first k mask-token embeddings [k, C], across the trained rows and the frozen ones. */
export function firstMaskTokens(params: SamParams, k: number): tf.Tensor2D {
  const head = param(params, MASK_TOKENS) as tf.Tensor2D;
  const rows = head.shape[0];
  if (k === rows) return head;
  if (k < rows) return tf.slice(head, [0, 0], [k, -1]);
  const tail = params.get(FROZEN_MASK_TOKENS);
  const total = rows + (tail?.shape[0] ?? 0);
  if (!tail || k > total) throw new Error(`the mask decoder has ${total} mask tokens, not ${k}`);
  return tf.concat([head, tf.slice(tail, [0, 0], [k - rows, -1]) as tf.Tensor2D], 0);
}

/** How many mask tokens the model's decoder trains (undefined: its table is frozen). */
export function trainedMaskTokens(model: SamModel): number | undefined {
  return model.unfrozen.get(MASK_TOKENS)?.shape[0];
}

/** Makes rows 0..k-1 of the table trainable and splits the rest off, frozen. */
export function trainFirstMaskTokens(model: SamModel, k: number): void {
  checkMaskTokens(model.config, k, 'trainable mask tokens');
  const trained = trainedMaskTokens(model);
  if (trained !== undefined) {
    if (trained !== k) throw new Error(`the mask decoder already trains ${trained} mask tokens, not ${k}`);
    return;
  }
  const table = param(model.params, MASK_TOKENS);
  const rows = table.shape[0]!;
  if (k === rows) {
    makeTrainable(model, [MASK_TOKENS]);
    return;
  }
  const [head, tail] = tf.split(table, [k, rows - k], 0);
  const variable = tf.variable(head!, true);
  tf.dispose([head!, table]);
  model.params.set(MASK_TOKENS, variable);
  model.params.set(FROZEN_MASK_TOKENS, tail!);
  model.unfrozen.set(MASK_TOKENS, variable);
}
