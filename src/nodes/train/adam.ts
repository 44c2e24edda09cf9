/**
 * Adam on every trainable variable of its worker segment. On training items the segment runs
 * forward inside `minimize`, so the gradient tape spans all nodes up to the loss. Reports the
 * loss of every item as a metric event, on every split.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { Loss } from '../ports.ts';

export const Adam = defineNode({
  kind: 'train/adam',
  description: 'Adam optimiser over the segment’s trainable variables; reports the loss',
  placement: 'worker',
  inputs: { loss: Loss },
  outputs: {},
  params: z.object({
    lr: z.number().positive().default(1e-2).describe('learning rate'),
    beta1: z.number().min(0).max(1).default(0.9),
    beta2: z.number().min(0).max(1).default(0.999),
    epsilon: z.number().positive().default(1e-8),
  }),
  worker: {
    create: (p) => {
      const optimizer = tf.train.adam(p.lr, p.beta1, p.beta2, p.epsilon);
      let steps = 0;
      return {
        forward: ({ loss }, step) => {
          const value = loss.dataSync()[0]!;
          if (!Number.isFinite(value)) throw new Error(`loss is ${value} on ${step.meta.split} item ${step.meta.index}`);
          step.emit({ type: 'metric', name: 'loss', value, split: step.meta.split, epoch: step.meta.epoch, step: steps });
          return {};
        },
        minimize: (loss, variables) => {
          const { value, grads } = tf.variableGrads(loss as () => tf.Scalar, variables as tf.Variable[]);
          optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
          tf.dispose([value, ...Object.values(grads)]);
          steps++;
        },
        dispose: () => optimizer.dispose(),
      };
    },
  },
});
