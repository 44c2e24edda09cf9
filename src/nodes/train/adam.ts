/**
 * Adam / AdamW on every trainable variable of its worker segment. On training items the segment
 * runs forward inside `minimize`, so the gradient tape spans all nodes up to the loss.
 *
 * - Gradient accumulation: each item's gradients are added up (scaled by 1/accumulate, as
 *   Lightning scales the loss) and applied every `accumulate` items, and at the end of each
 *   training group (epoch) with what has been gathered, as Lightning does.
 * - The learning rate follows `schedule` (lr-schedule.ts), stepped per optimiser update.
 * - Reports the loss of every item (every split) as a metric, and `grad_norm` (before
 *   clipping) and `lr` of every update.
 * - State (moments, update count, a half-gathered accumulation) is saved with the run's
 *   checkpoints, so a resumed run continues with exactly the same updates.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { Loss } from '../ports.ts';
import { AdamW } from './adamw.ts';
import { DivergenceGuard } from './divergence-guard.ts';
import { checkSchedule, learningRate, LrScheduleParams } from './lr-schedule.ts';
import { readNodeState, writeNodeState } from './state-files.ts';

interface SavedOptimizer {
  readonly updates: number;
  readonly gathered: number;
  readonly parameterSteps: Record<string, number>;
}

export const Adam = defineNode({
  kind: 'train/adam',
  description: 'Adam / AdamW over the segment’s trainable variables, with an lr schedule and gradient accumulation; reports the loss',
  placement: 'worker',
  inputs: { loss: Loss },
  outputs: {},
  params: LrScheduleParams.extend({
    lr: z.number().positive().default(1e-2).describe('peak learning rate'),
    beta1: z.number().min(0).max(1).default(0.9),
    beta2: z.number().min(0).max(1).default(0.999),
    epsilon: z.number().positive().default(1e-8),
    weightDecay: z.number().min(0).default(0).describe('decoupled weight decay (AdamW); not applied to biases and norm weights'),
    clipNorm: z.number().min(0).default(0).describe('clip the global gradient norm to this (0: off)'),
    accumulate: z.number().int().min(1).default(1).describe('items whose gradients are summed into one update (effective batch = batch × accumulate)'),
    divergeFactor: z.number().min(0).default(0).describe('stop when the training loss stays above this × its running median (0: off)'),
    divergeItems: z.number().int().min(1).default(20).describe('... for this many training items in a row'),
  }),
  worker: {
    create: (p, ctx) => {
      checkSchedule(p, `node '${ctx.node}'`);
      const optimizer = new AdamW(p);
      const guard = new DivergenceGuard(p.divergeFactor, p.divergeItems);
      let updates = 0;
      let gathered = 0;
      let sums = new Map<string, tf.Tensor>();
      const disposeSums = () => {
        tf.dispose([...sums.values()]);
        sums = new Map();
      };
      return {
        forward: ({ loss }, step) => {
          const value = loss.dataSync()[0]!;
          const at = `${step.meta.split} item ${step.meta.index} (epoch ${step.meta.epoch + 1}, after ${updates} updates)`;
          if (!Number.isFinite(value)) throw new Error(`loss is ${value} on ${at}`);
          if (step.training && p.divergeFactor > 0) guard.check(value, at);
          step.emit({ type: 'metric', name: 'loss', value, split: step.meta.split, epoch: step.meta.epoch, step: updates });
          return {};
        },
        minimize: (loss, variables, step) => {
          const byName = new Map([...variables].map(([key, v]) => [(v as tf.Variable).name, key]));
          const { value, grads } = tf.variableGrads(loss as () => tf.Scalar, [...variables.values()] as tf.Variable[]);
          // A non-finite loss is the cause to name, before its gradients (non-finite too) reach an update.
          const lossValue = value.dataSync()[0]!;
          if (!Number.isFinite(lossValue)) {
            tf.dispose([value, ...Object.values(grads)]);
            throw new Error(`loss is ${lossValue} on ${step.meta.split} item ${step.meta.index} (epoch ${step.meta.epoch + 1}, after ${updates} updates)`);
          }
          for (const [name, grad] of Object.entries(grads)) {
            const key = byName.get(name)!;
            const scaled = tf.tidy(() => (sums.has(key) ? tf.add(sums.get(key)!, tf.div(grad, p.accumulate)) : tf.div(grad, p.accumulate)));
            sums.get(key)?.dispose();
            sums.set(key, scaled);
          }
          tf.dispose([value, ...Object.values(grads)]);
          gathered++;
          if (gathered < p.accumulate && !step.meta.groupEnd) return;
          const lr = learningRate(p.lr, updates, p);
          const norm = optimizer.apply(variables as ReadonlyMap<string, tf.Variable>, sums, lr);
          if (!Number.isFinite(norm)) {
            disposeSums();
            throw new Error(`the gradient norm is ${norm} at update ${updates + 1} (${step.meta.split} item ${step.meta.index}, epoch ${step.meta.epoch + 1}): training diverged; lower the lr`);
          }
          disposeSums();
          gathered = 0;
          const where = { split: step.meta.split, epoch: step.meta.epoch, step: updates };
          step.emit({ type: 'metric', name: 'grad_norm', value: norm, ...where });
          step.emit({ type: 'metric', name: 'lr', value: lr, ...where });
          updates++;
        },
        state: {
          save: (dir) => {
            const { tensors, steps } = optimizer.tensors();
            for (const [key, sum] of sums) tensors.set(`sum/${key}`, sum);
            const json: SavedOptimizer = { updates, gathered, parameterSteps: steps };
            writeNodeState(dir, ctx.node, tensors, json);
          },
          restore: async (dir) => {
            const saved = await readNodeState<SavedOptimizer>(dir, ctx.node);
            const tensors = new Map([...saved.tensors].map(([k, t]) => [k, tf.tensor(t.data, [...t.shape])]));
            optimizer.load(tensors, saved.json.parameterSteps, `${dir}/${ctx.node}`);
            disposeSums();
            for (const [k, t] of tensors) {
              if (k.startsWith('sum/')) sums.set(k.slice(4), t);
              else t.dispose(); // tf.variable copied it
            }
            updates = saved.json.updates;
            gathered = saved.json.gathered;
          },
        },
        dispose: () => {
          optimizer.dispose();
          disposeSums();
        },
      };
    },
  },
});
