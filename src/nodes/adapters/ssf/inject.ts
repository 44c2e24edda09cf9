/**
 * SSF (Lian et al. 2022): a learnable per-channel scale γ (init 1) and shift β (init 0) after
 * every linear layer and LayerNorm of the image encoder, y' = γ·y + β. Linear in y, so it can
 * be merged into the preceding layer: W' = W·diag(γ), b' = γ·b + β.
 */
import * as tf from '@tensorflow/tfjs';
import { officialShapes } from '../../sam/params.ts';
import { hooksOf, replaceParam, type InjectedAdapter, type SamModel } from '../../sam/model.ts';
import type { AdapterConfig } from '../config.ts';

/** Encoder modules SSF follows, with their output width: every linear and every LayerNorm. */
export function ssfTargets(model: SamModel | { config: SamModel['config'] }): Map<string, number> {
  const targets = new Map<string, number>();
  for (const [key, shape] of officialShapes(model.config)) {
    if (!key.startsWith('image_encoder.blocks.') || !key.endsWith('.weight')) continue;
    const name = key.slice(0, -'.weight'.length);
    if (shape.length === 2) targets.set(name, shape[0]!);
    else if (/norm\d$/.test(name)) targets.set(name, shape[0]!);
  }
  return targets;
}

export function injectSsf(model: SamModel, _a: AdapterConfig): InjectedAdapter {
  const layers = new Map<string, { scale: tf.Variable; shift: tf.Variable }>();
  const weights = new Map<string, tf.Variable>();
  for (const [name, dim] of ssfTargets(model)) {
    const scale = tf.variable(tf.ones([dim]), true);
    const shift = tf.variable(tf.zeros([dim]), true);
    layers.set(name, { scale, shift });
    weights.set(`${name}.ssf_scale`, scale);
    weights.set(`${name}.ssf_shift`, shift);
  }
  let merged = false;
  const hook = (name: string, _input: tf.Tensor, output: tf.Tensor) => {
    const l = layers.get(name);
    return !l || merged ? output : tf.add(tf.mul(output, l.scale), l.shift);
  };
  const hooks = hooksOf(model);
  hooks.linear.push(hook);
  hooks.norm.push(hook);
  const replace = (key: string, value: tf.Tensor) => replaceParam(model, key, value);
  return {
    method: 'ssf',
    weights,
    merge: () => {
      if (merged) return;
      for (const [name, { scale, shift }] of layers) {
        // weight [in, out] (linear) or [dim] (norm): scale its output channels.
        replace(`${name}.weight`, tf.tidy(() => tf.mul(model.params.get(`${name}.weight`)!, scale)));
        replace(`${name}.bias`, tf.tidy(() => tf.add(tf.mul(model.params.get(`${name}.bias`)!, scale), shift)));
      }
      merged = true;
    },
    unmerge: () => {
      if (!merged) return;
      for (const [name, { scale, shift }] of layers) {
        replace(`${name}.bias`, tf.tidy(() => tf.div(tf.sub(model.params.get(`${name}.bias`)!, shift), scale)));
        replace(`${name}.weight`, tf.tidy(() => tf.div(model.params.get(`${name}.weight`)!, scale)));
      }
      merged = false;
    },
    dispose: () => tf.dispose([...weights.values()]),
  };
}
