/**
 * VPT-deep (Jia et al. 2022) for SAM's windowed encoder. In a plain ViT, deep VPT prepends new
 * learnable tokens to every layer's sequence and drops them at its output. SAM's blocks attend
 * within 14×14 windows over a 2-D grid, so here each block's prompt tokens [P, C] join *every*
 * window (and the global blocks' whole grid) as extra keys and values, projected by the block's
 * frozen qkv, with no relative-position bias; image tokens attend to them, and no output is
 * produced at the prompt positions (they would be dropped anyway). Initialised as in VPT:
 * uniform ±√(6 / (3·patch² + C)).
 */
import * as tf from '@tensorflow/tfjs';
import { hooksOf, type InjectedAdapter, type SamModel } from '../../sam/model.ts';
import type { AdapterConfig } from '../config.ts';

export function vptBlocks(depth: number, layers?: readonly number[]): number[] {
  return [...(layers ?? Array.from({ length: depth }, (_, i) => i))];
}

export function injectVpt(model: SamModel, a: AdapterConfig): InjectedAdapter {
  const c = model.config;
  const bound = Math.sqrt(6 / (3 * c.patch_size * c.patch_size + c.encoder_embed_dim));
  const prompts = new Map<string, tf.Variable>();
  const weights = new Map<string, tf.Variable>();
  for (const block of vptBlocks(c.encoder_depth, a.layers)) {
    if (block >= c.encoder_depth) throw new Error(`adapter config: layers has ${block}, but the encoder has ${c.encoder_depth} blocks (0..${c.encoder_depth - 1})`);
    const tokens = tf.variable(tf.randomUniform([a.promptTokens, c.encoder_embed_dim], -bound, bound, 'float32', a.seed * 7919 + block), true);
    prompts.set(`image_encoder.blocks.${block}.attn`, tokens);
    weights.set(`image_encoder.blocks.${block}.attn.vpt_prompts`, tokens);
  }
  hooksOf(model).attentionPrompts.push((name) => prompts.get(name));
  return {
    method: 'vpt',
    weights,
    dispose: () => tf.dispose([...weights.values()]),
  };
}
