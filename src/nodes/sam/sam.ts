/**
 * The whole Segment Anything model: image encoder, prompt encoder and mask decoder over one
 * parameter tree. `forward` takes images already normalised and padded (see transforms.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import type { SamConfig } from './config.ts';
import { imageEncoder } from './image-encoder.ts';
import { maskDecoder, type MaskDecoderOutput } from './mask-decoder.ts';
import type { SamParams } from './params.ts';
import { densePositionalEncoding, promptEncoder, type SamPrompts } from './prompt-encoder.ts';

export interface SamOutput extends MaskDecoderOutput {
  /** [B, grid, grid, prompt_embed_dim] (NHWC; the official layout is its NCHW transpose). */
  readonly imageEmbeddings: tf.Tensor4D;
}

export function samForward(images: tf.Tensor4D, prompts: SamPrompts, params: SamParams, c: SamConfig): SamOutput {
  const imageEmbeddings = imageEncoder(images, params, c);
  const { sparse, dense } = promptEncoder(prompts, images.shape[0], params, c);
  const decoded = maskDecoder(imageEmbeddings, densePositionalEncoding(params, c), sparse, dense, params, c);
  return { imageEmbeddings, ...decoded };
}
