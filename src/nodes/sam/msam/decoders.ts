/**
 * mSAM's trained heads (spec ta-lora.md §2.2–2.4): one full copy of SAM's mask decoder per task,
 * each initialised from the checkpoint's, and the no-mask embedding table enlarged to Σ_t C_t
 * rows, each a copy of the checkpoint's single no_mask_embed.
 *
 * A task's decoder runs through the ordinary `maskDecoder` on a parameter view: the model's own
 * tree in which every `mask_decoder.*` key points to that task's copy. Only what can learn is
 * copied into variables: the decoder runs all mask tokens (they attend to each other) but keeps
 * mask 0 alone, so hypernetwork MLPs 1.. and the IoU head feed nothing and stay the checkpoint's
 * (shared, frozen) tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { FROZEN_MASK_TOKENS, firstMaskTokens, MASK_TOKENS, maskTokenCount } from '../mask-tokens.ts';
import type { SamModel } from '../model.ts';
import { param } from '../ops.ts';
import type { SamParams } from '../params.ts';
import type { TaskSpec } from './tasks.ts';

export const NO_MASK_EMBED = 'prompt_encoder.no_mask_embed.weight';

/** Decoder keys that cannot learn under mask-token-0 output: the IoU head and hypernetwork MLPs 1... */
export function isIdleDecoderKey(key: string): boolean {
  return key.startsWith('mask_decoder.iou_prediction_head.') || /^mask_decoder\.output_hypernetworks_mlps\.([1-9]\d*)\./.test(key);
}

export interface MsamHeads {
  readonly tasks: readonly TaskSpec[];
  /** Task t's trained decoder tensors, by official key (the whole mask-token table under MASK_TOKENS). */
  readonly decoders: readonly ReadonlyMap<string, tf.Variable>[];
  /** [Σ C_t, prompt_embed_dim]. */
  readonly noMask: tf.Variable;
  /** Every variable, by a stable key: `task.<name>.<official key>` and `no_mask_embed`. */
  readonly variables: ReadonlyMap<string, tf.Variable>;
}

/** Copies the model's decoder once per task and its no-mask embedding once per output channel. */
export function createMsamHeads(model: SamModel, tasks: readonly TaskSpec[]): MsamHeads {
  const params = model.params;
  const keys = [...params.keys()].filter((k) => k.startsWith('mask_decoder.') && k !== FROZEN_MASK_TOKENS && k !== MASK_TOKENS && !isIdleDecoderKey(k));
  const variables = new Map<string, tf.Variable>();
  const decoders = tasks.map((task) => {
    const copy = new Map<string, tf.Variable>();
    for (const key of keys) copy.set(key, tf.variable(param(params, key), true));
    // The whole table, whether or not an earlier injection split it into trained and frozen rows.
    copy.set(MASK_TOKENS, tf.tidy(() => tf.variable(firstMaskTokens(params, maskTokenCount(model.config)), true)));
    for (const [key, v] of copy) variables.set(`task.${task.name}.${key}`, v);
    return copy;
  });
  const rows = tasks.reduce((n, t) => n + t.channels, 0);
  const noMask = tf.tidy(() => tf.variable(tf.tile(param(params, NO_MASK_EMBED), [rows, 1]), true));
  variables.set('no_mask_embed', noMask);
  return { tasks, decoders, noMask, variables };
}

/** The model's parameter tree with task t's decoder in place of its own (hooks kept). */
export function taskParams(model: SamModel, heads: MsamHeads, t: number): SamParams {
  const view: SamParams = new Map(model.params);
  view.delete(FROZEN_MASK_TOKENS);
  for (const [key, v] of heads.decoders[t]!) view.set(key, v);
  if (model.params.hooks) Object.assign(view, { hooks: model.params.hooks });
  return view;
}

/** Trainable parameters of the heads: per task its decoder's learnable part, plus Σ C_t embedding rows. */
export function msamHeadParameters(heads: MsamHeads): number {
  return [...heads.variables.values()].reduce((n, v) => n + v.size, 0);
}

export function disposeMsamHeads(heads: MsamHeads): void {
  tf.dispose([...heads.variables.values()]);
}
