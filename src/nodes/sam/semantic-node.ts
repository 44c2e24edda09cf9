/**
 * `sam/semantic`: SAM as a promptless binary segmenter, as Conv-LoRA uses it (spec §2): images
 * scaled from [0, 1] with SAM's pixel statistics, no sparse prompts, the no-mask dense
 * embedding, a decoder running the first `maskTokens` mask tokens (1: the official Conv-LoRA
 * decoder, num_mask_tokens = 1), mask token 0 as the output, bilinearly upsampled to the input
 * size. Adapters' auxiliary losses (Conv-LoRA's balance loss) come out on `aux`; expert usage goes
 * out as events.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { ImageBatch, Loss, MaskLogits, MaskProbs, SamModelPort } from '../ports.ts';
import { resizeBilinearHalfPixel } from '../tensor/resize-bilinear.ts';
import { AdapterSteps } from './adapter-steps.ts';
import { classHeadClasses } from './class-head.ts';
import { maskDecoder } from './mask-decoder.ts';
import { checkMaskTokens, trainedMaskTokens } from './mask-tokens.ts';
import { promptlessInputs } from './promptless.ts';

export const SamSemantic = defineNode({
  kind: 'sam/semantic',
  description: 'promptless SAM forward for binary segmentation (mask token 0 of a 1-token decoder by default, upsampled to the image size)',
  placement: 'worker',
  inputs: { model: SamModelPort, images: ImageBatch },
  outputs: { logits: MaskLogits, probs: MaskProbs, aux: Loss },
  params: z.object({
    maskTokens: z.number().int().positive().default(1).describe("mask tokens the decoder runs, the checkpoint's first: 1 is Conv-LoRA's binary decoder (IoU token + one mask token in the token attention), num_multimask_outputs + 1 SAM's whole decoder; must match adapters/inject's maskTokens"),
  }),
  worker: {
    create: (p, ctx) => {
      const steps = new AdapterSteps(ctx.seed);
      return {
        forward: ({ model, images }, step) => {
          const c = model.config;
          const [b, h, w] = images.shape;
          if (classHeadClasses(model) !== undefined) {
            throw new Error(`node '${ctx.node}' is the binary forward, but the model's decoder has a class head (adapters/inject classes): use sam/multiclass`);
          }
          checkMaskTokens(c, p.maskTokens, `node '${ctx.node}' param 'maskTokens'`);
          // Trained tokens that the forward does not run would be counted as trainable but never learn.
          const trained = trainedMaskTokens(model);
          if (trained !== undefined && trained !== p.maskTokens) {
            throw new Error(`node '${ctx.node}' runs ${p.maskTokens} mask tokens (param 'maskTokens'), but the model's decoder trains ${trained} (adapters/inject maskTokens): set both to the same count`);
          }
          steps.begin(model, step);
          const { embeddings, positional, sparse, dense } = promptlessInputs(model, images, ctx.node);
          const decoded = maskDecoder(embeddings, positional, sparse, dense, model.params, c, p.maskTokens);
          const [, , lh, lw] = decoded.masks.shape;
          const lowRes = tf.slice(decoded.masks, [0, 0, 0, 0], [b, 1, lh, lw]).reshape([b, lh, lw, 1]) as tf.Tensor4D;
          // tfjs's own gradient of this resize is wrong (tensor/resize-bilinear.ts).
          const logits = resizeBilinearHalfPixel(lowRes, [h, w]);
          const aux = steps.end(model, step);
          return { logits, probs: tf.sigmoid(logits) as tf.Tensor4D, aux };
        },
      };
    },
  },
});
