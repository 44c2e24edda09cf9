/**
 * What a promptless SAM forward node does around the model for its adapters: start each step
 * with a seed that is a function of (node seed, epoch, item), so noisy gates and dropout replay
 * exactly on resume; collect their auxiliary losses (Conv-LoRA's balance loss); and sum expert
 * usage over a (split, epoch) group, reported once as a log event at its end.
 */
import * as tf from '@tensorflow/tfjs';
import type { StepInfo } from '../../graph/node.ts';
import { mixSeed } from '../random.ts';
import type { SamModel } from './model.ts';

export class AdapterSteps {
  private usage = new Map<string, Int32Array>();

  constructor(private readonly seed: number) {}

  begin(model: SamModel, step: StepInfo): void {
    const seed = mixSeed(this.seed, step.meta.epoch, step.meta.index);
    for (const adapter of model.adapters) adapter.beginStep?.(step.training, seed);
  }

  /** The adapters' summed auxiliary loss (0 without one); emits the group's expert usage at its end. */
  end(model: SamModel, step: StepInfo): tf.Scalar {
    const aux: tf.Tensor[] = [];
    for (const adapter of model.adapters) {
      const out = adapter.endStep?.();
      if (out?.auxLoss) aux.push(out.auxLoss);
      if (step.dryRun) continue;
      for (const [layer, counts] of out?.usage ?? []) {
        const sum = this.usage.get(layer) ?? new Int32Array(counts.length);
        counts.forEach((n, i) => (sum[i] = sum[i]! + n));
        this.usage.set(layer, sum);
      }
    }
    if (step.meta.groupEnd && this.usage.size && !step.dryRun) {
      const total = new Int32Array(this.usage.values().next().value!.length);
      for (const counts of this.usage.values()) counts.forEach((n, i) => (total[i] = total[i]! + n));
      step.emit({
        type: 'log',
        message: `expert usage (${step.meta.split}, epoch ${step.meta.epoch + 1}), scales 1..${total.length} over ${this.usage.size} layers: ${[...total].join(' ')}`,
        data: { split: step.meta.split, epoch: step.meta.epoch, usage: Object.fromEntries([...this.usage].map(([k, v]) => [k, [...v]])) },
      });
      this.usage = new Map();
    }
    return (aux.length ? tf.addN(aux) : tf.scalar(0)) as tf.Scalar;
  }
}
