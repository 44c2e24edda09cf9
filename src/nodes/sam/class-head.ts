/**
 * Conv-LoRA's multi-class decoder (spec §2 "Multi-class head"; autogluon SAMForSemanticSegmentation
 * with num_classes > 1): the mask-token table rebuilt with Q rows, each a copy of the checkpoint's
 * mask token 0, every token through hypernetwork MLP 0, and one `Linear(C → classes + 1)` on each
 * mask token's transformer output (the last class is "no object"). The IoU head stays frozen: its
 * output is unused.
 *
 * The head lives in the model's parameter tree under `mask_decoder.output_classifier_mlps` (the
 * official attribute's name) and trains with the decoder, so a run's adapter checkpoint holds it
 * next to the decoder's other trained tensors.
 */
import * as tf from '@tensorflow/tfjs';
import type { SamConfig } from './config.ts';
import { MASK_TOKENS } from './mask-tokens.ts';
import type { SamModel } from './model.ts';
import { linear, param } from './ops.ts';
import { mulberry32 } from '../random.ts';

export const CLASS_HEAD = 'mask_decoder.output_classifier_mlps';

/** The class head's tensors and shapes (samflow's linear layout: weight [in, out]). */
export function classHeadShapes(c: SamConfig, classes: number): Map<string, number[]> {
  return new Map([
    [`${CLASS_HEAD}.weight`, [c.prompt_embed_dim, classes + 1]],
    [`${CLASS_HEAD}.bias`, [classes + 1]],
  ]);
}

/** The number of classes of a model's class head (undefined: the model has none). */
export function classHeadClasses(model: SamModel): number | undefined {
  const bias = model.params.get(`${CLASS_HEAD}.bias`);
  return bias ? bias.shape[0]! - 1 : undefined;
}

/**
 * Rebuilds the decoder for `classes` classes with `queries` mask tokens. The class head starts as
 * PyTorch's nn.Linear does (weight and bias uniform in ±1/√C), from `seed`; it always trains, and
 * the token table trains when `trainTokens` (the decoder does). `jitter` > 0 adds Gaussian noise
 * of jitter × std(token 0) to each copy (0: exact copies, as the official code).
 */
export function buildClassHead(model: SamModel, options: { queries: number; classes: number; seed: number; jitter?: number; trainTokens: boolean }): void {
  const { queries, classes } = options;
  if (!Number.isInteger(classes) || classes < 2) throw new Error(`a class head needs 2 or more classes, got ${classes}`);
  if (!Number.isInteger(queries) || queries < 1) throw new Error(`a class head needs 1 or more mask tokens, got ${queries}`);
  if (model.params.has(`${CLASS_HEAD}.weight`)) throw new Error('the model already has a class head');
  const table = param(model.params, MASK_TOKENS);
  if (table instanceof tf.Variable) throw new Error('the mask-token table is already trained as is; a class head rebuilds it from token 0');
  const jitter = options.jitter ?? 0;
  const copies = tf.tidy(() => {
    const token0 = tf.slice(table, [0, 0], [1, -1]);
    const tiled = tf.tile(token0, [queries, 1]);
    if (jitter === 0) return tiled;
    const std = tf.sqrt(tf.moments(token0).variance);
    return tf.add(tiled, tf.mul(tf.randomNormal(tiled.shape, 0, 1, 'float32', options.seed + 1), tf.mul(std, jitter)));
  });
  table.dispose();
  const tokens = options.trainTokens ? tf.variable(copies, true) : copies;
  if (options.trainTokens) copies.dispose();
  model.params.set(MASK_TOKENS, tokens);
  if (tokens instanceof tf.Variable) model.unfrozen.set(MASK_TOKENS, tokens);

  const random = mulberry32(options.seed);
  const bound = 1 / Math.sqrt(model.config.prompt_embed_dim);
  for (const [key, shape] of classHeadShapes(model.config, classes)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: size }, () => (2 * random() - 1) * bound);
    const init = tf.tensor(values, shape);
    const variable = tf.variable(init, true);
    init.dispose();
    model.params.set(key, variable);
    model.unfrozen.set(key, variable);
  }
}

/** Class logits [B, Q, classes + 1] of the decoder's mask-token outputs [B, Q, C]. */
export function classLogits(tokens: tf.Tensor3D, model: SamModel): tf.Tensor3D {
  return linear(tokens, model.params, CLASS_HEAD) as tf.Tensor3D;
}
