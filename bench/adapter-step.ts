/**
 * One training step of a SAM image encoder with a PEFT method injected the way the pipelines do
 * it (adapters/inject's injectAdapter, decoder frozen): forward, a loss over the image embedding,
 * and the gradients of the method's variables. For bench/adapters.ts: step time (median) and
 * the step's peak tensor memory above what the model already holds (tf.profile's peakBytes).
 * Method 'none' takes the gradient of the input images instead, a backward pass through the
 * same frozen encoder.
 */
import * as tf from '@tensorflow/tfjs';
import { parseAdapterConfig, type AdapterMethodName } from '../src/nodes/adapters/config.ts';
import { injectAdapter } from '../src/nodes/adapters/inject.ts';
import { gridSize, type SamConfig } from '../src/nodes/sam/config.ts';
import { imageEncoder } from '../src/nodes/sam/image-encoder.ts';
import { createSamModel, disposeModel, trainableVariables } from '../src/nodes/sam/model.ts';
import { randomSamParams } from '../src/nodes/sam/params.ts';
import { timeIt } from './timing.ts';

export interface StepFigures {
  readonly ms: number;
  readonly peakMiB: number;
  readonly trainable: number;
}


export async function encoderStep(config: SamConfig, method: AdapterMethodName | 'none', runs: number): Promise<StepFigures> {
  const model = createSamModel(config, randomSamParams(config, 1), 'random:1');
  if (method !== 'none') injectAdapter(model, parseAdapterConfig({ method, trainDecoder: false }));
  const init = tf.randomNormal([1, config.image_size, config.image_size, 3], 0, 1, 'float32', 2);
  const images = tf.variable(init, true) as tf.Variable<tf.Rank.R4>;
  init.dispose();
  const g = gridSize(config);
  const r = tf.randomNormal([1, g, g, config.prompt_embed_dim], 0, 1, 'float32', 3);
  const vars = method === 'none' ? [images] : trainableVariables(model);
  let seed = 0;
  const step = () =>
    tf.tidy(() => {
      for (const a of model.adapters) a.beginStep?.(true, seed++);
      const { grads } = tf.variableGrads(() => {
        const seg = tf.sum(tf.mul(imageEncoder(images, model.params, config), r));
        const aux = model.adapters.flatMap((a) => a.endStep?.().auxLoss ?? []);
        return (aux.length ? tf.add(seg, tf.addN(aux)) : seg) as tf.Scalar;
      }, vars);
      Object.values(grads).forEach((t) => t.dataSync());
    });
  const ms = timeIt(runs, step);
  const start = tf.memory().numBytes;
  const profile = await tf.profile(step);
  const trainable = vars.reduce((n, v) => n + v.size, 0);
  disposeModel(model);
  tf.dispose([images, r]);
  return { ms, peakMiB: (profile.peakBytes - start) / 2 ** 20, trainable };
}
