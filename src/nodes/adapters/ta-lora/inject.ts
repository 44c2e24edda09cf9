/**
 * Injects TA-LoRA into the selected linear modules (by default every encoder block's fused qkv,
 * the only layer the released code adapts), one independent set of Tucker factors per module.
 *
 * The update depends on the task. The adapter holds the active tasks, set through
 * `setTasks` (model-wide: `setActiveTasks(model, tasks)` in sam/model.ts) by the node that runs
 * the encoder once per task, and kept until set again. With one task it defaults to task 0; with
 * more, a forward pass before any task was set is an error rather than a silent task 0.
 */
import * as tf from '@tensorflow/tfjs';
import { mixSeed } from '../../random.ts';
import { hooksOf, type InjectedAdapter, type SamModel } from '../../sam/model.ts';
import type { AdapterConfig } from '../config.ts';
import { targetLinears, type LinearModule } from '../modules.ts';
import { createTuckerWeights, taLoraDelta, updateWidth, type TaLoraLayerConfig, type TuckerWeights } from './layer.ts';
import { orthogonality } from './orthogonality.ts';

export interface TaLoraAdapter extends InjectedAdapter {
  readonly method: 'ta-lora';
  /** T, the rows of every U₃. */
  readonly taskCount: number;
  /** The factors of each adapted module, by module name. */
  readonly layers: ReadonlyMap<string, TuckerWeights>;
  /** The active tasks (task-major groups of the batch), undefined while none is set. */
  readonly tasks: readonly number[] | undefined;
  setTasks(tasks: readonly number[]): void;
  /** R_orth over this adapter's layers, unweighted (spec §1.5). */
  orthogonality(): tf.Scalar;
}

export function isTaLora(adapter: InjectedAdapter): adapter is TaLoraAdapter {
  return adapter.method === 'ta-lora';
}

/** The modules TA-LoRA adapts, with their update width; refuses a q/k/v choice on a layer that is no fused qkv. */
export function taLoraTargets(c: SamModel['config'], a: AdapterConfig): (LinearModule & { updateDim: number })[] {
  if (!a.enableQkv.some(Boolean)) throw new Error('adapter config: enableQkv turns off q, k and v; TA-LoRA needs at least one');
  const partial = !a.enableQkv.every(Boolean);
  return targetLinears(c, a).map((m) => {
    if (partial && (!m.name.endsWith('.qkv') || m.outDim % 3 !== 0)) {
      throw new Error(`adapter config: enableQkv [${a.enableQkv.join(', ')}] picks thirds of a fused qkv output, but targetModules selects '${m.name}' (${m.outDim} outputs)`);
    }
    return { ...m, updateDim: updateWidth(m.outDim, a.enableQkv) };
  });
}

/** Checkpoint keys of a module's factors; `td_` marks them as the released code's Tucker factors. */
export const TUCKER_KEYS = { core: 'td_core', u1: 'td_u1', u2: 'td_u2', u3: 'td_u3' } as const;

export function injectTaLora(model: SamModel, a: AdapterConfig): TaLoraAdapter {
  if (a.dropout !== 0) {
    throw new Error(`adapter config: ta-lora takes its adapter dropout from 'tuckerDropout' (default 0.1, the released script's), not 'dropout' (${a.dropout})`);
  }
  const config: TaLoraLayerConfig = { scaling: a.tuckerScaling, dropout: a.tuckerDropout, enabled: a.enableQkv };
  const layers = new Map<string, TuckerWeights>();
  const weights = new Map<string, tf.Variable>();
  taLoraTargets(model.config, a).forEach((m, i) => {
    const w = createTuckerWeights(m.inDim, m.updateDim, a.tasks, a.tuckerRanks, mixSeed(a.seed, i));
    layers.set(m.name, w);
    for (const [part, key] of Object.entries(TUCKER_KEYS)) weights.set(`${m.name}.${key}`, w[part as keyof TuckerWeights]);
  });
  let tasks: readonly number[] | undefined = a.tasks === 1 ? [0] : undefined;
  let training = false;
  let stepSeed = 0;
  let calls = 0;
  hooksOf(model).linear.push((name, input, output) => {
    const w = layers.get(name);
    if (!w) return output;
    if (!tasks) throw new Error(`TA-LoRA on '${name}' has ${a.tasks} tasks and none is active: set the forward pass's tasks with setActiveTasks(model, [t]) (sam/msam does)`);
    // A fresh dropout mask on every call: the encoder runs once per task within one step.
    return tf.add(output, taLoraDelta(input, w, config, tasks, { training, seed: mixSeed(stepSeed, calls++) }));
  });
  return {
    method: 'ta-lora',
    taskCount: a.tasks,
    layers,
    weights,
    get tasks() {
      return tasks;
    },
    setTasks: (next) => {
      if (!next.length) throw new Error('TA-LoRA setTasks: no task given');
      for (const t of next) {
        if (!Number.isInteger(t) || t < 0 || t >= a.tasks) throw new Error(`TA-LoRA setTasks: task ${t} is out of range, the adapter has ${a.tasks} tasks (0..${a.tasks - 1})`);
      }
      tasks = [...next];
    },
    beginStep: (isTraining, seed) => {
      training = isTraining;
      stepSeed = seed;
      calls = 0;
    },
    orthogonality: () => orthogonality([...layers.values()]),
    dispose: () => tf.dispose([...weights.values()]),
  };
}

/** R_orth of the model's TA-LoRA adapter, for a loss port; an error names what is missing when it has none. */
export function orthogonalityLoss(model: SamModel): tf.Scalar {
  const adapters = model.adapters.filter(isTaLora);
  if (adapters.length !== 1) {
    throw new Error(`the orthogonality regulariser needs exactly one ta-lora adapter in the model, found ${adapters.length} (adapters/inject with method 'ta-lora')`);
  }
  return adapters[0]!.orthogonality();
}
