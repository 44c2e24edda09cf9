/**
 * `sam/multiclass`: SAM as a promptless multi-class segmenter, as Conv-LoRA uses it for Trans10K
 * (spec §2 "Multi-class head"): the same image path as sam/semantic (pixels in [0, 1] with SAM's
 * statistics, no sparse prompts, the no-mask dense embedding), then the multi-class decoder of
 * sam/class-head.ts: Q mask tokens through one shared hypernetwork MLP give Q low-resolution mask
 * logits (4·grid square: 256² for SAM at 1024), and the class head gives each token's class
 * logits (classes + 1, the last "no object"). The set loss (losses/set) and MaskFormer inference
 * (metrics/maskformer-inference) take these as they are.
 */
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { ImageBatch, Loss, MaskTokenLogits, SamModelPort, TokenClassLogits } from '../ports.ts';
import { AdapterSteps } from './adapter-steps.ts';
import { classHeadClasses, classLogits } from './class-head.ts';
import { maskDecoder } from './mask-decoder.ts';
import { MASK_TOKENS } from './mask-tokens.ts';
import { param } from './ops.ts';
import { promptlessInputs } from './promptless.ts';

export const SamMulticlass = defineNode({
  kind: 'sam/multiclass',
  description: 'promptless SAM forward for multi-class segmentation: Q mask tokens sharing one hypernetwork MLP, and a class head on each',
  placement: 'worker',
  inputs: { model: SamModelPort, images: ImageBatch },
  outputs: { masks: MaskTokenLogits, classes: TokenClassLogits, aux: Loss },
  params: z.object({}),
  worker: {
    create: (_p, ctx) => {
      const steps = new AdapterSteps(ctx.seed);
      return {
        forward: ({ model, images }, step) => {
          if (classHeadClasses(model) === undefined) {
            throw new Error(`node '${ctx.node}': the model's decoder has no class head; give adapters/inject 'classes' (the number of classes) and 'maskTokens' (the queries Q)`);
          }
          steps.begin(model, step);
          const { embeddings, positional, sparse, dense } = promptlessInputs(model, images, ctx.node);
          const queries = param(model.params, MASK_TOKENS).shape[0]!;
          const decoded = maskDecoder(embeddings, positional, sparse, dense, model.params, model.config, queries, { sharedHypernetwork: true });
          return { masks: decoded.masks, classes: classLogits(decoded.tokens, model), aux: steps.end(model, step) };
        },
      };
    },
  },
});
