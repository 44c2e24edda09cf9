/**
 * EVP's PromptGenerator as SAM-Adapter builds it for SAM's ViT (models/mmseg/models/sam/
 * image_encoder.py of tianrun-chen/SAM-Adapter-PyTorch). Two task features at the token grid,
 * each h = d / scale_factor wide:
 *
 *   embedding tune    F_e = linear_{d→h}(patch embedding)          (before pos_embed)
 *   handcrafted tune  F_h = conv_{p×p, stride p; 3→h}(high-pass(image))
 *
 * and per encoder block i a prompt P_i = shared_{h→d}(GELU(lightweight_i(F_e + F_h))), added to
 * the block's input. Initialisation as the public code's `_init_weights`: linear weights normal
 * with std 0.02 (its trunc_normal_ cuts at ±2, i.e. ±100 σ, so never), conv normal with std
 * √(2 / (p·p·h)), biases zero. Nothing starts at zero, so, as in the public code, the adapted
 * encoder differs from the base one from the first step.
 *
 * One difference, on purpose: the public `init_embeddings` reshapes the [N, H, W, C] patch
 * embedding as if it were [N, C, H, W], which mixes channels of tokens far apart into each
 * "token"; here F_e is the linear of each token's own embedding, as EVP intends (its features
 * are NCHW there). Weight names follow the public module paths.
 */
import * as tf from '@tensorflow/tfjs';
import { patchConv } from '../../sam/ops.ts';
import { gelu } from '../../tensor/fused.ts';
import type { SamAdapterDims } from './config.ts';
import { fftHighPass, type HighPassOperator } from './fft-highpass.ts';

export const PROMPT_GENERATOR = 'image_encoder.prompt_generator';

interface Affine {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
}

export interface PromptGeneratorWeights {
  /** [d, h] */
  readonly embedding?: Affine;
  /** filter [p, p, 3, h] */
  readonly handcrafted?: Affine;
  /** [h, h] per prompted block */
  readonly lightweight: ReadonlyMap<number, Affine>;
  /** [h, d] */
  readonly shared: Affine;
}

/** The weights, and the same variables by checkpoint key. */
export function createPromptGenerator(dims: SamAdapterDims, seed: number): { weights: PromptGeneratorWeights; named: Map<string, tf.Variable> } {
  const { embed: d, hidden: h, patch: p } = dims;
  const named = new Map<string, tf.Variable>();
  // From 1: tf.randomNormal takes a seed of 0 as none and draws at random.
  let n = 1;
  // A variable holds its own reference to its initial value, which can go (outside a tidy it would stay).
  const variable = (init: tf.Tensor) => {
    const v = tf.variable(init, true);
    init.dispose();
    return v;
  };
  const affine = (key: string, shape: number[], std: number): Affine => {
    const out = shape[shape.length - 1]!;
    const a = { weight: variable(tf.randomNormal(shape, 0, std, 'float32', seed * 7919 + n++)), bias: variable(tf.zeros([out])) };
    named.set(`${PROMPT_GENERATOR}.${key}.weight`, a.weight);
    named.set(`${PROMPT_GENERATOR}.${key}.bias`, a.bias);
    return a;
  };
  const embedding = dims.embeddingTune ? affine('embedding_generator', [d, h], 0.02) : undefined;
  const handcrafted = dims.handcraftedTune ? affine('prompt_generator.proj', [p, p, 3, h], Math.sqrt(2 / (p * p * h))) : undefined;
  const lightweight = new Map(dims.blocks.map((i) => [i, affine(`lightweight_mlp_${i}.0`, [h, h], 0.02)] as const));
  const shared = affine('shared_mlp', [h, d], 0.02);
  return { weights: { ...(embedding ? { embedding } : {}), ...(handcrafted ? { handcrafted } : {}), lightweight, shared }, named };
}

const dense = (x: tf.Tensor4D, a: Affine): tf.Tensor4D => {
  const [b, gh, gw, c] = x.shape;
  return tf.add(tf.matMul(x.reshape([b * gh * gw, c]), a.weight), a.bias).reshape([b, gh, gw, a.weight.shape[1]!]) as tf.Tensor4D;
};

/**
 * F_e + F_h [B, g, g, h] from the encoder's input images [B, S, S, 3] (normalised and padded)
 * and their patch embedding [B, g, g, d] (before pos_embed); `highPass` is needed with handcrafted tune.
 */
export function promptFeatures(w: PromptGeneratorWeights, images: tf.Tensor4D, patches: tf.Tensor4D, highPass?: HighPassOperator): tf.Tensor4D {
  const parts: tf.Tensor4D[] = [];
  if (w.embedding) parts.push(dense(patches, w.embedding));
  if (w.handcrafted) {
    if (!highPass) throw new Error('SAM-Adapter: handcrafted tune needs the FFT high-pass operator');
    parts.push(patchConv(fftHighPass(images, highPass), w.handcrafted.weight, w.handcrafted.bias));
  }
  return (parts.length === 1 ? parts[0]! : tf.addN(parts)) as tf.Tensor4D;
}

/** Block `i`'s prompt [B, g, g, d], or undefined for a block without a lightweight MLP. */
export function blockPrompt(w: PromptGeneratorWeights, features: tf.Tensor4D, block: number): tf.Tensor4D | undefined {
  const mlp = w.lightweight.get(block);
  return mlp ? dense(gelu(dense(features, mlp)) as tf.Tensor4D, w.shared) : undefined;
}
