/**
 * Injects SAM-Adapter (Chen et al. 2023; spec conv-lora.md §7): the prompt generator's features
 * are computed once per encoder pass from the images and the patch embedding, and each prompted
 * block's input gets its prompt added (the encoder's `blockInputs` hook). The FFT high-pass
 * matrices are built here, once, for the config's image_size, and freed with the adapter.
 *
 * The public code's other settings are fixed to its defaults: input_type 'fft' / prompt_type
 * 'highpass' (the only input implemented), adaptor 'adaptor' (per-block MLPs with a shared
 * up-projection); tuning_stage '1234' names EVP's hierarchical backbone stages and has no
 * meaning for SAM's single-stage ViT (the public SAM code never reads it). As for every method
 * here, the prompt encoder stays frozen (the public training script trains it too).
 */
import * as tf from '@tensorflow/tfjs';
import { hooksOf, type InjectedAdapter, type SamModel } from '../../sam/model.ts';
import type { AdapterConfig } from '../config.ts';
import { samAdapterDims } from './config.ts';
import { createHighPassOperator } from './fft-highpass.ts';
import { blockPrompt, createPromptGenerator, promptFeatures } from './prompt-generator.ts';

export function injectSamAdapter(model: SamModel, a: AdapterConfig): InjectedAdapter {
  const dims = samAdapterDims(model.config, a);
  const { weights, named } = createPromptGenerator(dims, a.seed);
  const highPass = dims.handcraftedTune ? createHighPassOperator(model.config.image_size, dims.freqNums) : undefined;
  // Injection may run inside a step's tidy (adapters/inject does it on the first item): the
  // constants are plain tensors, not variables, so keep them until the adapter is disposed.
  if (highPass) [highPass.along, highPass.across].forEach((t) => tf.keep(t));
  (hooksOf(model).blockInputs ??= []).push((images, patches) => {
    const features = promptFeatures(weights, images, patches, highPass);
    return (block) => blockPrompt(weights, features, block);
  });
  return {
    method: 'sam-adapter',
    weights: named,
    dispose: () => tf.dispose([...named.values(), ...(highPass ? [highPass.along, highPass.across] : [])]),
  };
}
