/** Mean binary cross-entropy on mask logits (numerically stable form). */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { Loss, MaskBatch, MaskLogits } from '../ports.ts';
import { checkSameShape } from './elementwise.ts';

export const SigmoidBce = defineNode({
  kind: 'losses/sigmoid-bce',
  description: 'mean sigmoid binary cross-entropy between mask logits and binary masks',
  placement: 'worker',
  inputs: { logits: MaskLogits, masks: MaskBatch },
  outputs: { loss: Loss },
  params: z.object({}),
  worker: {
    create: () => ({
      forward: ({ logits, masks }) => {
        checkSameShape(logits, 'logits', masks, 'masks', 'sigmoid BCE');
        return { loss: tf.losses.sigmoidCrossEntropy(masks, logits) as tf.Scalar };
      },
    }),
  },
});
