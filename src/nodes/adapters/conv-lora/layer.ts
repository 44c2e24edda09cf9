/**
 * The Conv-LoRA adapter of one linear layer (official ConvLoRALinear; spec conv-lora.md §1):
 * delta = s · (z + e) · B with z = dropout(x) · A, where e is a mixture-of-experts of
 * multi-scale 3×3 convolutions inside the rank-r bottleneck, chosen per sample by a noisy
 * top-k gate on the pooled z. The frozen base layer's output is the caller's; add delta to it.
 */
import * as tf from '@tensorflow/tfjs';
import { mixSeed, mulberry32 } from '../../random.ts';
import { gelu } from '../../tensor/fused.ts';
import { resizeBicubic } from './bicubic.ts';
import { type ConvLoraConfig, convLoraScaling } from './config.ts';
import { conv3x3 } from '../../tensor/conv3x3.ts';
import { noisyTopKGate } from './gate.ts';

export interface ConvLoraWeights {
  /** lora_A as [C, r]. */
  readonly a: tf.Variable;
  /** lora_B as [r, out]. */
  readonly b: tf.Variable;
  /** [r, M]. */
  readonly wGate: tf.Variable;
  /** [r, M]. */
  readonly wNoise: tf.Variable;
  /** Expert i's conv filter, [3, 3, r, r] (HWIO). */
  readonly expertFilters: readonly tf.Variable[];
  /** Expert i's conv bias, [r]. */
  readonly expertBiases: readonly tf.Variable[];
}

export interface ConvLoraStep {
  readonly training: boolean;
  /** Standard-normal gate noise [N, M] (tests); otherwise drawn from `seed` in training. */
  readonly noise?: tf.Tensor2D;
  /** Seeds the gate noise and dropout of this step; required in training without `noise`. */
  readonly seed?: number;
}

export interface ConvLoraOutput {
  /** s · (z + e) · B, [N, H, W, out]; add it to the frozen layer's output. */
  readonly delta: tf.Tensor4D;
  /** This layer's load-balancing loss (sum it over layers into the training loss). */
  readonly balanceLoss: tf.Scalar;
  /** Samples routed to each expert [M] (sums to N·topK). */
  readonly usage: Int32Array;
}

function uniform(shape: number[], bound: number, seed: number): tf.Tensor {
  const random = mulberry32(seed);
  const size = shape.reduce((p, d) => p * d, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => (2 * random() - 1) * bound), shape);
}

/**
 * Trainable weights initialised as the official code: A Kaiming-uniform with a = √5, i.e.
 * U(±1/√C); B, w_gate and w_noise zeros (so delta starts at 0 and routing uniformly random);
 * expert filters PyTorch's Conv2d default U(±1/√(9r)); expert biases zeros.
 */
export function createConvLoraWeights(inDim: number, outDim: number, config: ConvLoraConfig, seed: number): ConvLoraWeights {
  const { rank: r, experts: m } = config;
  return tf.tidy(() => {
    const v = (t: tf.Tensor) => tf.variable(t, true);
    return {
      a: v(uniform([inDim, r], 1 / Math.sqrt(inDim), mixSeed(seed, 0))),
      b: v(tf.zeros([r, outDim])),
      wGate: v(tf.zeros([r, m])),
      wNoise: v(tf.zeros([r, m])),
      expertFilters: Array.from({ length: m }, (_, i) => v(uniform([3, 3, r, r], 1 / Math.sqrt(9 * r), mixSeed(seed, 1, i)))),
      expertBiases: Array.from({ length: m }, () => v(tf.zeros([r]))),
    };
  });
}

/** Expert with scale factor f: bicubic up by f (skipped for 1), 3×3 conv, exact GELU, bicubic back to the input grid. */
export function convLoraExpert(z: tf.Tensor4D, filter: tf.Tensor, bias: tf.Tensor, factor: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = z.shape;
    const up = factor === 1 ? z : resizeBicubic(z, [h * factor, w * factor]);
    const out = gelu(conv3x3(up, filter, bias)) as tf.Tensor4D;
    return factor === 1 ? out : resizeBicubic(out, [h, w]);
  });
}

/** The constant [rows, n] 0/1 matrix that selects `rows` out of n samples, and its transpose. */
function selection(rows: readonly number[], n: number): { select: tf.Tensor2D; scatter: tf.Tensor2D } {
  const s = new Float32Array(rows.length * n);
  const t = new Float32Array(n * rows.length);
  rows.forEach((row, j) => {
    s[j * n + row] = 1;
    t[row * rows.length + j] = 1;
  });
  return { select: tf.tensor2d(s, [rows.length, n]), scatter: tf.tensor2d(t, [n, rows.length]) };
}

export function convLoraDelta(x: tf.Tensor4D, w: ConvLoraWeights, config: ConvLoraConfig, step: ConvLoraStep): ConvLoraOutput {
  const [n, h, wd, c] = x.shape;
  const [inDim, r] = w.a.shape as [number, number];
  const m = config.experts;
  if (c !== inDim) throw new Error(`convLoraDelta: input has ${c} channels, A expects ${inDim}`);
  if (r !== config.rank) throw new Error(`convLoraDelta: A has rank ${r}, the config says ${config.rank}`);
  if (w.expertFilters.length !== m || w.expertBiases.length !== m || w.wGate.shape[1] !== m) {
    throw new Error(`convLoraDelta: the weights hold ${w.expertFilters.length} experts, the config says ${m}`);
  }
  if (step.training && !step.noise && step.seed === undefined) throw new Error('convLoraDelta: a training step needs a seed (or explicit gate noise)');
  const seed = step.seed ?? 0;

  return tf.tidy(() => {
    const input = step.training && config.dropout > 0 ? tf.dropout(x, config.dropout, undefined, mixSeed(seed, 2)) : x;
    const z = tf.matMul(input.reshape([n * h * wd, c]), w.a).reshape([n, h, wd, r]) as tf.Tensor4D;

    const gate = noisyTopKGate(
      {
        pooled: tf.mean(z, [1, 2]) as tf.Tensor2D,
        wGate: w.wGate,
        wNoise: w.wNoise,
        training: step.training,
        ...(step.noise ? { noise: step.noise } : {}),
        random: mulberry32(mixSeed(seed, 1)),
      },
      config,
    );

    // Sparse dispatch: each expert runs only on the samples routed to it, gathered and
    // scattered back with constant 0/1 matrices (matMuls, so no gather gradient is needed).
    const k = config.topK;
    const routed: number[][] = Array.from({ length: m }, () => []);
    for (let row = 0; row < n; row++) for (let j = 0; j < k; j++) routed[gate.chosen[row * k + j]!]!.push(row);
    const zFlat = z.reshape([n, h * wd * r]);
    let e: tf.Tensor | undefined;
    routed.forEach((rows, i) => {
      if (rows.length === 0) return;
      const all = rows.length === n; // rows are in order, so this is the identity selection
      const { select, scatter } = all ? { select: undefined, scatter: undefined } : selection(rows, n);
      const zi = (select ? tf.matMul(select, zFlat) : zFlat).reshape([rows.length, h, wd, r]) as tf.Tensor4D;
      const ei = convLoraExpert(zi, w.expertFilters[i]!, w.expertBiases[i]!, i + 1).reshape([rows.length, h * wd * r]);
      let back = scatter ? tf.matMul(scatter, ei) : ei;
      if (config.gateWeighted) back = tf.mul(back, tf.slice(gate.gates, [0, i], [n, 1]));
      e = e ? tf.add(e, back) : back;
    });

    const zOut = tf.add(zFlat, e!).reshape([n * h * wd, r]);
    const delta = tf.mul(tf.matMul(zOut, w.b), convLoraScaling(config)).reshape([n, h, wd, w.b.shape[1]!]) as tf.Tensor4D;
    const usage = Int32Array.from(routed, (rows) => rows.length);
    return { delta, balanceLoss: gate.balanceLoss, usage };
  });
}
