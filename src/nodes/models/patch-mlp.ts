/**
 * A tiny trainable segmenter for the built-in demo: each p×p patch is flattened and mapped by
 * a two-layer MLP to its p×p mask logits. Only rank-2 matMuls, reshapes and transposes, so it
 * trains on every backend (wasm has no conv filter gradient).
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { ImageBatch, MaskLogits, MaskProbs } from '../ports.ts';

export const PatchMlp = defineNode({
  kind: 'models/patch-mlp',
  description: 'per-patch two-layer MLP segmenter (demo model; trains on every backend)',
  placement: 'worker',
  inputs: { images: ImageBatch },
  outputs: { logits: MaskLogits, probs: MaskProbs },
  params: z.object({
    patch: z.number().int().min(1).default(4).describe('patch side in pixels'),
    hidden: z.number().int().min(1).default(32).describe('hidden units'),
  }),
  worker: {
    create: (p, ctx) => {
      const inDim = p.patch * p.patch * 3;
      const outDim = p.patch * p.patch;
      // Glorot-uniform weights from the node seed, zero biases.
      const glorot = (fanIn: number, fanOut: number, seed: number) => {
        const limit = Math.sqrt(6 / (fanIn + fanOut));
        return tf.variable(tf.randomUniform([fanIn, fanOut], -limit, limit, 'float32', seed), true);
      };
      const w1 = glorot(inDim, p.hidden, ctx.seed + 1);
      const b1 = tf.variable(tf.zeros([p.hidden]), true);
      const w2 = glorot(p.hidden, outDim, ctx.seed + 2);
      const b2 = tf.variable(tf.zeros([outDim]), true);
      return {
        forward: ({ images }) => {
          const [batch, height, width, channels] = images.shape;
          if (channels !== 3 || height % p.patch !== 0 || width % p.patch !== 0) {
            throw new Error(`images of shape [${images.shape.join(', ')}] need 3 channels and sides divisible by patch ${p.patch}`);
          }
          const gh = height / p.patch;
          const gw = width / p.patch;
          // Centre and scale the [0, 1] pixels, as SAM normalises with its pixel mean and std.
          const patches = images.sub(0.5).mul(4)
            .reshape([batch, gh, p.patch, gw, p.patch, 3])
            .transpose([0, 1, 3, 2, 4, 5])
            .reshape([batch * gh * gw, inDim]);
          const hidden = tf.relu(tf.add(tf.matMul(patches, w1), b1));
          const out = tf.add(tf.matMul(hidden, w2), b2);
          const logits = out
            .reshape([batch, gh, gw, p.patch, p.patch])
            .transpose([0, 1, 3, 2, 4])
            .reshape([batch, height, width, 1]) as tf.Tensor4D;
          return { logits, probs: tf.sigmoid(logits) };
        },
        variables: () => [w1, b1, w2, b2],
        dispose: () => tf.dispose([w1, b1, w2, b2]),
      };
    },
  },
});
