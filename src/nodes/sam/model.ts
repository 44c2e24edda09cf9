/**
 * A SAM model as it flows between worker nodes: its config, its parameter tree (with the hooks
 * of any injected adapters) and the adapters themselves. Base weights are plain tensors and
 * stay frozen unless a method turns some into variables (`makeTrainable`).
 */
import * as tf from '@tensorflow/tfjs';
import type { SamConfig } from './config.ts';
import type { SamHooks, SamParams } from './params.ts';

/** What an injected adapter exposes to the model and the training loop. */
export interface InjectedAdapter {
  readonly method: string;
  /** Its own trainable tensors, by checkpoint key. */
  readonly weights: ReadonlyMap<string, tf.Variable>;
  /** Called before each forward pass; `training` turns on dropout and noisy gates. */
  beginStep?(training: boolean, seed: number): void;
  /** After the forward pass: an auxiliary loss to add (Conv-LoRA's balance loss) and usage counts to report. */
  endStep?(): { auxLoss?: tf.Scalar; usage?: ReadonlyMap<string, Int32Array> };
  /**
   * Task-aware adapters (TA-LoRA): the tasks of the next forward passes, in task-major order:
   * the batch splits into tasks.length equal contiguous groups, group g computed for task
   * tasks[g] ([t]: the whole batch is task t). Set by the node that runs the encoder per task
   * (sam/msam) and kept until set again; adapters without tasks do not define it.
   */
  setTasks?(tasks: readonly number[]): void;
  /** Folds the update into the base weights (methods whose update is linear). */
  merge?(): void;
  unmerge?(): void;
  dispose(): void;
}

export interface SamModel {
  readonly config: SamConfig;
  readonly params: SamParams;
  readonly adapters: InjectedAdapter[];
  /** Base parameters turned trainable (decoder training, BitFit, full fine-tuning), by official key. */
  readonly unfrozen: Map<string, tf.Variable>;
  /** Identifies the base weights (checkpoint file hash, or the random-init seed). */
  readonly baseId: string;
}

export function createSamModel(config: SamConfig, params: SamParams, baseId: string): SamModel {
  return { config, params, adapters: [], unfrozen: new Map(), baseId };
}

export function hooksOf(model: SamModel): SamHooks {
  if (!model.params.hooks) Object.assign(model.params, { hooks: { linear: [], norm: [], attentionPrompts: [] } satisfies SamHooks });
  return model.params.hooks!;
}

/** Replaces base tensors by trainable variables (same values); returns how many were turned. */
export function makeTrainable(model: SamModel, keys: Iterable<string>): number {
  let n = 0;
  for (const key of keys) {
    if (model.unfrozen.has(key)) continue;
    const tensor = model.params.get(key);
    if (!tensor) throw new Error(`makeTrainable: the model has no parameter '${key}'`);
    const variable = tf.variable(tensor, true);
    tensor.dispose();
    model.params.set(key, variable);
    model.unfrozen.set(key, variable);
    n++;
  }
  return n;
}

/**
 * Sets a base parameter to new values (merging an adapter into it): assigned in place when it is
 * a trainable variable, so optimiser state and references stay valid; swapped otherwise. Takes
 * ownership of `value`.
 */
export function replaceParam(model: SamModel, key: string, value: tf.Tensor): void {
  const old = model.params.get(key);
  if (!old) throw new Error(`replaceParam: the model has no parameter '${key}'`);
  if (old instanceof tf.Variable) {
    old.assign(value);
    value.dispose();
  } else {
    old.dispose();
    model.params.set(key, value);
  }
}

/** Sets the active tasks (see InjectedAdapter.setTasks) on every task-aware adapter of the model. */
export function setActiveTasks(model: SamModel, tasks: readonly number[]): void {
  for (const adapter of model.adapters) adapter.setTasks?.(tasks);
}

/** Every trainable variable of the model: adapter weights and unfrozen base parameters. */
export function trainableVariables(model: SamModel): tf.Variable[] {
  return [...model.adapters.flatMap((a) => [...a.weights.values()]), ...model.unfrozen.values()];
}

export function disposeModel(model: SamModel): void {
  for (const adapter of model.adapters) adapter.dispose();
  for (const t of model.params.values()) t.dispose();
  model.params.clear();
}
