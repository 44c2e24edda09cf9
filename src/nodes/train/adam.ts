/**
 * Adam / AdamW on every trainable variable of its worker segment. On training items the segment
 * runs forward inside `minimize`, so the gradient tape spans all nodes up to the loss. Reports
 * the loss of every item as a metric event, on every split, and the gradient norm of each step.
 * With `decaySteps` the learning rate falls linearly to 0 (the Conv-LoRA recipe's polynomial
 * schedule with power 1 and no warmup).
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { Loss } from '../ports.ts';
import { AdamW } from './adamw.ts';

export const Adam = defineNode({
  kind: 'train/adam',
  description: 'Adam / AdamW over the segment’s trainable variables; reports the loss',
  placement: 'worker',
  inputs: { loss: Loss },
  outputs: {},
  params: z.object({
    lr: z.number().positive().default(1e-2).describe('learning rate'),
    beta1: z.number().min(0).max(1).default(0.9),
    beta2: z.number().min(0).max(1).default(0.999),
    epsilon: z.number().positive().default(1e-8),
    weightDecay: z.number().min(0).default(0).describe('decoupled weight decay (AdamW); not applied to biases and norm weights'),
    clipNorm: z.number().min(0).default(0).describe('clip the global gradient norm to this (0: off)'),
    decaySteps: z.number().int().min(0).default(0).describe('steps over which the lr falls linearly to 0 (0: constant lr)'),
  }),
  worker: {
    create: (p) => {
      const optimizer = new AdamW(p);
      let steps = 0;
      return {
        forward: ({ loss }, step) => {
          const value = loss.dataSync()[0]!;
          if (!Number.isFinite(value)) throw new Error(`loss is ${value} on ${step.meta.split} item ${step.meta.index}`);
          step.emit({ type: 'metric', name: 'loss', value, split: step.meta.split, epoch: step.meta.epoch, step: steps });
          return {};
        },
        minimize: (loss, variables, step) => {
          const { value, grads } = tf.variableGrads(loss as () => tf.Scalar, variables as tf.Variable[]);
          const lr = p.decaySteps > 0 ? p.lr * Math.max(0, 1 - steps / p.decaySteps) : p.lr;
          const norm = optimizer.apply(variables as tf.Variable[], grads, lr);
          tf.dispose([value, ...Object.values(grads)]);
          step.emit({ type: 'metric', name: 'grad_norm', value: norm, split: step.meta.split, epoch: step.meta.epoch, step: steps });
          steps++;
        },
        dispose: () => optimizer.dispose(),
      };
    },
  },
});
