/**
 * The image path of a promptless SAM forward, as Conv-LoRA runs it (spec §2): images in [0, 1]
 * scaled to pixels and normalised with SAM's statistics, the image encoder, and the prompt
 * encoder with no prompts (no sparse tokens, the no-mask dense embedding). sam/semantic and
 * sam/multiclass decode from here.
 */
import * as tf from '@tensorflow/tfjs';
import { imageEncoder } from './image-encoder.ts';
import type { SamModel } from './model.ts';
import { densePositionalEncoding, promptEncoder } from './prompt-encoder.ts';
import { normalizeAndPad } from './transforms.ts';

export interface PromptlessInputs {
  readonly embeddings: tf.Tensor4D;
  readonly positional: tf.Tensor4D;
  readonly sparse: tf.Tensor3D;
  readonly dense: tf.Tensor4D;
}

/** `node` names the forward node in the error for images of the wrong size. */
export function promptlessInputs(model: SamModel, images: tf.Tensor4D, node: string): PromptlessInputs {
  const c = model.config;
  const [b, h, w] = images.shape;
  if (h !== c.image_size || w !== c.image_size) {
    throw new Error(`node '${node}': images are ${h}x${w}, but the SAM config takes ${c.image_size}x${c.image_size}: resize to a square of image_size first (augment/resize-square)`);
  }
  const embeddings = imageEncoder(normalizeAndPad(tf.mul(images, 255) as tf.Tensor4D, c.image_size), model.params, c);
  const { sparse, dense } = promptEncoder({}, b, model.params, c);
  return { embeddings, positional: densePositionalEncoding(model.params, c), sparse, dense };
}
