/**
 * Injects Conv-LoRA into the selected linear modules (by default every encoder block's fused
 * qkv, as the official code does). The qkv input is the [N, H, W, C] token grid: windows in
 * windowed blocks (each window routes on its own) and the whole grid in global ones. Each layer's
 * balance loss is collected during the forward pass and handed out, summed, by `endStep`.
 */
import * as tf from '@tensorflow/tfjs';
import { hooksOf, type InjectedAdapter, type SamModel } from '../../sam/model.ts';
import type { AdapterConfig } from '../config.ts';
import { targetLinears } from '../modules.ts';
import { parseConvLoraConfig } from './config.ts';
import { convLoraDelta, createConvLoraWeights, type ConvLoraWeights } from './layer.ts';

export function injectConvLora(model: SamModel, a: AdapterConfig): InjectedAdapter {
  const config = parseConvLoraConfig({ rank: a.rank, alpha: a.alpha, experts: a.experts, dropout: a.dropout, gateWeighted: a.gateWeighted }, 'Conv-LoRA');
  const layers = new Map<string, { index: number; w: ConvLoraWeights }>();
  const weights = new Map<string, tf.Variable>();
  targetLinears(model.config, a).forEach((m, index) => {
    const w = createConvLoraWeights(m.inDim, m.outDim, config, a.seed * 7919 + index);
    layers.set(m.name, { index, w });
    weights.set(`${m.name}.lora_A`, w.a);
    weights.set(`${m.name}.lora_B`, w.b);
    weights.set(`${m.name}.w_gate`, w.wGate);
    weights.set(`${m.name}.w_noise`, w.wNoise);
    w.expertFilters.forEach((f, i) => weights.set(`${m.name}.experts.${i}.weight`, f));
    w.expertBiases.forEach((b, i) => weights.set(`${m.name}.experts.${i}.bias`, b));
  });
  let training = false;
  let seed = 0;
  // Kept across the encoder's per-block scopes until the step (and its backward pass) is over.
  let losses: tf.Scalar[] = [];
  let usage = new Map<string, Int32Array>();
  hooksOf(model).linear.push((name, input, output) => {
    const layer = layers.get(name);
    if (!layer) return output;
    if (input.rank !== 4) throw new Error(`Conv-LoRA on '${name}' needs a [N, H, W, C] token grid, got [${input.shape.join(', ')}]`);
    const out = convLoraDelta(input as tf.Tensor4D, layer.w, config, { training, seed: seed * 1009 + layer.index });
    losses.push(tf.keep(out.balanceLoss));
    usage.set(name, out.usage);
    return tf.add(output, out.delta);
  });
  return {
    method: 'conv-lora',
    weights,
    beginStep: (isTraining, stepSeed) => {
      tf.dispose(losses);
      losses = [];
      usage = new Map();
      training = isTraining;
      seed = stepSeed;
    },
    endStep: () => ({
      // Summed over layers, unweighted, as the official encoder does.
      ...(losses.length ? { auxLoss: tf.addN(losses) as tf.Scalar } : {}),
      usage,
    }),
    dispose: () => tf.dispose([...losses, ...weights.values()]),
  };
}
