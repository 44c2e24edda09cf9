/**
 * Injects LoRA into the selected linear modules; the update can be merged into the base weights.
 * With `tasks` T > 1 every module gets T independent LoRAs (LoRA-STL of TA-LoRA's spec §4: one
 * encoder adaptation per task), chosen like TA-LoRA's task rows through `setTasks`.
 */
import * as tf from '@tensorflow/tfjs';
import { hooksOf, replaceParam, type InjectedAdapter, type SamModel } from '../../sam/model.ts';
import type { AdapterConfig } from '../config.ts';
import { targetLinears } from '../modules.ts';
import { createLoraWeights, loraDelta, loraUpdate, taskLoraDelta, type LoraWeights } from './layer.ts';

export function injectLora(model: SamModel, a: AdapterConfig): InjectedAdapter {
  if (a.tasks > 1) return injectTaskLora(model, a);
  const scaling = a.alpha / a.rank;
  const layers = new Map<string, LoraWeights>();
  const weights = new Map<string, tf.Variable>();
  targetLinears(model.config, a).forEach((m, i) => {
    const w = createLoraWeights(m.inDim, m.outDim, a.rank, a.seed * 7919 + i);
    layers.set(m.name, w);
    weights.set(`${m.name}.lora_A`, w.a);
    weights.set(`${m.name}.lora_B`, w.b);
  });
  let training = false;
  let seed = 0;
  let merged = false;
  hooksOf(model).linear.push((name, input, output) => {
    const w = layers.get(name);
    if (!w || merged) return output;
    return tf.add(output, loraDelta(input, w, scaling, a.dropout, training, seed++));
  });
  const fold = (sign: 1 | -1) => {
    for (const [name, w] of layers) {
      const key = `${name}.weight`;
      replaceParam(model, key, tf.tidy(() => tf.add(model.params.get(key)!, loraUpdate(w, sign * scaling))));
    }
  };
  return {
    method: 'lora',
    weights,
    beginStep: (isTraining, stepSeed) => {
      training = isTraining;
      seed = stepSeed;
    },
    merge: () => {
      if (merged) return;
      fold(1);
      merged = true;
    },
    unmerge: () => {
      if (!merged) return;
      fold(-1);
      merged = false;
    },
    dispose: () => tf.dispose([...weights.values()]),
  };
}

/** The task-aware adapter: what `setTasks` selects, for sam/msam's per-task encoder passes. */
export interface TaskLoraAdapter extends InjectedAdapter {
  readonly method: 'lora';
  readonly taskCount: number;
  setTasks(tasks: readonly number[]): void;
}

/** T LoRAs per module, keys `<module>.lora_A.<t>` / `.lora_B.<t>`; not mergeable (the update depends on the task). */
function injectTaskLora(model: SamModel, a: AdapterConfig): TaskLoraAdapter {
  const scaling = a.alpha / a.rank;
  const layers = new Map<string, LoraWeights[]>();
  const weights = new Map<string, tf.Variable>();
  targetLinears(model.config, a).forEach((m, i) => {
    const perTask = Array.from({ length: a.tasks }, (_, t) => createLoraWeights(m.inDim, m.outDim, a.rank, (a.seed * 7919 + i) * 31 + t));
    layers.set(m.name, perTask);
    perTask.forEach((w, t) => {
      weights.set(`${m.name}.lora_A.${t}`, w.a);
      weights.set(`${m.name}.lora_B.${t}`, w.b);
    });
  });
  let tasks: readonly number[] | undefined;
  let training = false;
  let seed = 0;
  hooksOf(model).linear.push((name, input, output) => {
    const w = layers.get(name);
    if (!w) return output;
    if (!tasks) throw new Error(`LoRA on '${name}' has ${a.tasks} tasks (one LoRA each) and none is active: set the forward pass's tasks with setActiveTasks(model, [t]) (sam/msam does)`);
    return tf.add(output, taskLoraDelta(input, tasks.map((t) => w[t]!), scaling, a.dropout, training, seed++));
  });
  return {
    method: 'lora',
    taskCount: a.tasks,
    weights,
    setTasks: (next) => {
      if (!next.length) throw new Error('LoRA setTasks: no task given');
      for (const t of next) {
        if (!Number.isInteger(t) || t < 0 || t >= a.tasks) throw new Error(`LoRA setTasks: task ${t} is out of range, the adapter has ${a.tasks} tasks (0..${a.tasks - 1})`);
      }
      tasks = [...next];
    },
    beginStep: (isTraining, stepSeed) => {
      training = isTraining;
      seed = stepSeed;
    },
    dispose: () => tf.dispose([...weights.values()]),
  };
}
