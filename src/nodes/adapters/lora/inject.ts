/** Injects LoRA into the selected linear modules; the update can be merged into the base weights. */
import * as tf from '@tensorflow/tfjs';
import { hooksOf, replaceParam, type InjectedAdapter, type SamModel } from '../../sam/model.ts';
import type { AdapterConfig } from '../config.ts';
import { targetLinears } from '../modules.ts';
import { createLoraWeights, loraDelta, loraUpdate, type LoraWeights } from './layer.ts';

export function injectLora(model: SamModel, a: AdapterConfig): InjectedAdapter {
  const scaling = a.alpha / a.rank;
  const layers = new Map<string, LoraWeights>();
  const weights = new Map<string, tf.Variable>();
  targetLinears(model.config, a).forEach((m, i) => {
    const w = createLoraWeights(m.inDim, m.outDim, a.rank, a.seed * 7919 + i);
    layers.set(m.name, w);
    weights.set(`${m.name}.lora_A`, w.a);
    weights.set(`${m.name}.lora_B`, w.b);
  });
  let training = false;
  let seed = 0;
  let merged = false;
  hooksOf(model).linear.push((name, input, output) => {
    const w = layers.get(name);
    if (!w || merged) return output;
    return tf.add(output, loraDelta(input, w, scaling, a.dropout, training, seed++));
  });
  const fold = (sign: 1 | -1) => {
    for (const [name, w] of layers) {
      const key = `${name}.weight`;
      replaceParam(model, key, tf.tidy(() => tf.add(model.params.get(key)!, loraUpdate(w, sign * scaling))));
    }
  };
  return {
    method: 'lora',
    weights,
    beginStep: (isTraining, stepSeed) => {
      training = isTraining;
      seed = stepSeed;
    },
    merge: () => {
      if (merged) return;
      fold(1);
      merged = true;
    },
    unmerge: () => {
      if (!merged) return;
      fold(-1);
      merged = false;
    },
    dispose: () => tf.dispose([...weights.values()]),
  };
}
