/**
 * Adapter (Houlsby et al. 2019): a bottleneck MLP with a residual, h + up(GELU(down(h))), on the
 * output of each encoder block's attention (after attn.proj) and of its MLP (after mlp.lin2),
 * before the block's own residual adds. `up` starts at zero, so the model starts unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { hooksOf, type InjectedAdapter, type SamModel } from '../../sam/model.ts';
import { gelu } from '../../tensor/fused.ts';
import type { AdapterConfig } from '../config.ts';

export function houlsbyTargets(depth: number, layers?: readonly number[]): string[] {
  const blocks = layers ?? Array.from({ length: depth }, (_, i) => i);
  return blocks.flatMap((i) => [`image_encoder.blocks.${i}.attn.proj`, `image_encoder.blocks.${i}.mlp.lin2`]);
}

export function injectHoulsby(model: SamModel, a: AdapterConfig): InjectedAdapter {
  const d = model.config.encoder_embed_dim;
  const m = a.rank;
  const layers = new Map<string, { down: tf.Variable; downBias: tf.Variable; up: tf.Variable; upBias: tf.Variable }>();
  const weights = new Map<string, tf.Variable>();
  houlsbyTargets(model.config.encoder_depth, a.layers).forEach((name, i) => {
    const bound = 1 / Math.sqrt(d);
    const l = {
      down: tf.variable(tf.randomUniform([d, m], -bound, bound, 'float32', a.seed * 7919 + i), true),
      downBias: tf.variable(tf.zeros([m]), true),
      up: tf.variable(tf.zeros([m, d]), true),
      upBias: tf.variable(tf.zeros([d]), true),
    };
    layers.set(name, l);
    weights.set(`${name}.adapter.down.weight`, l.down);
    weights.set(`${name}.adapter.down.bias`, l.downBias);
    weights.set(`${name}.adapter.up.weight`, l.up);
    weights.set(`${name}.adapter.up.bias`, l.upBias);
  });
  hooksOf(model).linear.push((name, _input, output) => {
    const l = layers.get(name);
    if (!l) return output;
    const flat = output.reshape([-1, d]);
    const hidden = gelu(tf.add(tf.matMul(flat, l.down), l.downBias));
    return tf.add(output, tf.add(tf.matMul(hidden, l.up), l.upBias).reshape(output.shape));
  });
  return {
    method: 'adapter',
    weights,
    dispose: () => tf.dispose([...weights.values()]),
  };
}
