/**
 * The TA-LoRA (ToRA) update of one linear layer (spec ta-lora.md §1.2–1.3). The update tensor
 * ΔW ∈ R^{d_in × d_out × T} is Tucker-factorised as G ×₁ U₁ ×₂ U₂ ×₃ U₃: core G [R1, R2, R3],
 * task-shared U₁ [d_in, R1] and U₂ [d_out, R2], task rows U₃ [T, R3]. For task t the layer adds
 *
 *   Δy = s · dropout(x) · U₁ · M_t · U₂ᵀ,   M_t = Σ_v U₃[t, v] · G[:, :, v]   (R1 × R2)
 *
 * evaluated in factored form: the d_out × d_in matrix of a task (let alone the whole T × d_out ×
 * d_in tensor the official code builds on every pass) is never formed. Factor shapes are the
 * spec's (and the official code's) orientation; they need no layout change at save time.
 */
import * as tf from '@tensorflow/tfjs';
import { bmm } from '../../sam/ops.ts';

export interface TuckerWeights {
  /** G [R1, R2, R3]. */
  readonly core: tf.Variable;
  /** U₁ [d_in, R1]. */
  readonly u1: tf.Variable;
  /** U₂ [d_out, R2], d_out = d_in × enabled q/k/v parts (the whole output for a non-qkv layer). */
  readonly u2: tf.Variable;
  /** U₃ [T, R3]. */
  readonly u3: tf.Variable;
}

export interface TaLoraLayerConfig {
  /** The fixed scaling s. */
  readonly scaling: number;
  readonly dropout: number;
  /** Which thirds (q, k, v) of the output get the update; all three means the whole output. */
  readonly enabled: readonly [boolean, boolean, boolean];
}

export interface TaLoraStep {
  readonly training: boolean;
  /** Seeds this call's dropout mask; required in training when dropout > 0. */
  readonly seed?: number;
}

/** The official init: G zeros (so ΔW = 0 and training starts at the base model), U₁, U₂, U₃ i.i.d. N(0, 1). */
export function createTuckerWeights(dIn: number, dOut: number, tasks: number, ranks: readonly [number, number, number], seed: number): TuckerWeights {
  const [r1, r2, r3] = ranks;
  return tf.tidy(() => ({
    core: tf.variable(tf.zeros([r1, r2, r3]), true),
    u1: tf.variable(tf.randomNormal([dIn, r1], 0, 1, 'float32', seed * 4 + 1), true),
    u2: tf.variable(tf.randomNormal([dOut, r2], 0, 1, 'float32', seed * 4 + 2), true),
    u3: tf.variable(tf.randomNormal([tasks, r3], 0, 1, 'float32', seed * 4 + 3), true),
  }));
}

/** Trainable parameters of one layer: d_in·R1 + d_out·R2 + T·R3 + R1·R2·R3 (spec §1.6). */
export function tuckerParameterCount(dIn: number, dOut: number, tasks: number, [r1, r2, r3]: readonly [number, number, number]): number {
  return dIn * r1 + dOut * r2 + tasks * r3 + r1 * r2 * r3;
}

/** Output width of the update for a layer of `outDim` outputs: the enabled thirds of a fused qkv. */
export function updateWidth(outDim: number, enabled: readonly [boolean, boolean, boolean]): number {
  const parts = enabled.filter(Boolean).length;
  return parts === 3 ? outDim : (outDim / 3) * parts;
}

/** A constant [tasks.length, T] 0/1 matrix picking rows of U₃ (a matMul, so every backend has its gradient). */
function taskSelection(tasks: readonly number[], total: number): tf.Tensor2D {
  const data = new Float32Array(tasks.length * total);
  tasks.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= total) throw new Error(`TA-LoRA: task ${t} is out of range, the adapter has ${total} tasks (0..${total - 1})`);
    data[i * total + t] = 1;
  });
  return tf.tensor2d(data, [tasks.length, total]);
}

/** M_t for each task in `tasks`: [tasks.length, R1, R2]. */
export function taskCores(w: TuckerWeights, tasks: readonly number[]): tf.Tensor3D {
  return tf.tidy(() => {
    const [r1, r2, r3] = w.core.shape as [number, number, number];
    const rows = tf.matMul(taskSelection(tasks, w.u3.shape[0]!), w.u3); // [G, R3]
    const coreT = tf.transpose(w.core.reshape([r1 * r2, r3])); // [R3, R1·R2]
    return tf.matMul(rows, coreT).reshape([tasks.length, r1, r2]) as tf.Tensor3D;
  });
}

/** Scatters the update of the enabled thirds into a zero [rows, 3·third] output. */
function scatterParts(delta: tf.Tensor2D, enabled: readonly [boolean, boolean, boolean]): tf.Tensor2D {
  if (enabled.every(Boolean)) return delta;
  const parts = enabled.filter(Boolean).length;
  const [rows, width] = delta.shape;
  const third = width / parts;
  const pieces = tf.split(delta, parts, 1);
  let next = 0;
  return tf.concat(enabled.map((on) => (on ? pieces[next++]! : tf.zeros([rows, third]))), 1) as tf.Tensor2D;
}

/**
 * The update Δy [..., outDim] for x [..., d_in]. `tasks` lays the rows out task-major: the
 * leading axis of x splits into tasks.length equal contiguous groups, group g using task
 * tasks[g] (one entry: the whole batch is one task). That is the batched all-tasks layout of
 * spec §1.4; window partitioning keeps the batch index outermost, so it holds in windowed blocks.
 */
export function taLoraDelta(x: tf.Tensor, w: TuckerWeights, config: TaLoraLayerConfig, tasks: readonly number[], step: TaLoraStep): tf.Tensor {
  const shape = x.shape;
  const [dIn, r1] = w.u1.shape as [number, number];
  const dOut = w.u2.shape[0]!;
  if (shape[shape.length - 1] !== dIn) throw new Error(`TA-LoRA: input has ${shape[shape.length - 1]} channels, U1 expects ${dIn}`);
  const groups = tasks.length;
  if (groups === 0) throw new Error('TA-LoRA: no task given for the forward pass');
  if (shape[0]! % groups !== 0) throw new Error(`TA-LoRA: a batch of ${shape[0]} cannot split into ${groups} task groups (task-major layout)`);
  if (step.training && config.dropout > 0 && step.seed === undefined) throw new Error('TA-LoRA: a training step with dropout needs a seed');
  return tf.tidy(() => {
    let flat = x.reshape([-1, dIn]) as tf.Tensor2D;
    const rows = flat.shape[0];
    if (step.training && config.dropout > 0) flat = tf.dropout(flat, config.dropout, undefined, step.seed) as tf.Tensor2D;
    const h = tf.matMul(flat, w.u1); // [rows, R1]
    // M_t·U₂ᵀ per task, [G, R1, d_out]: small, so folding it first saves one pass over the rows.
    const projections = tf.matMul(taskCores(w, tasks).reshape([groups * r1, -1]), tf.transpose(w.u2)).reshape([groups, r1, dOut]) as tf.Tensor3D;
    const delta =
      groups === 1 ? tf.matMul(h, projections.reshape([r1, dOut])) : bmm(h.reshape([groups, rows / groups, r1]) as tf.Tensor3D, projections).reshape([rows, dOut]);
    const out = scatterParts(tf.mul(delta, config.scaling) as tf.Tensor2D, config.enabled);
    return out.reshape([...shape.slice(0, -1), out.shape[1]]);
  });
}
