/**
 * Conv-LoRA's noisy top-k gate and its load-balancing loss (Shazeer et al. 2017, as in the
 * official MoEGate; spec conv-lora.md §1.3-1.4). Routing is read from tensor values; everything
 * that feeds the loss is built from masks multiplied in (no gather, no where-on-a-comparison),
 * so the loss is differentiable w.r.t. the pooled features, w_gate and w_noise on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { gaussian } from '../../random.ts';
import type { ConvLoraConfig } from './config.ts';

export type GateConfig = Pick<ConvLoraConfig, 'topK' | 'noiseEpsilon' | 'balanceCoefficient'>;

export interface GateInput {
  /** Mean-pooled bottleneck features [N, r]. */
  readonly pooled: tf.Tensor2D;
  /** [r, M]. */
  readonly wGate: tf.Tensor;
  /** [r, M]. */
  readonly wNoise: tf.Tensor;
  /** Noisy gating and the probabilistic load in training; clean logits and counts otherwise. */
  readonly training: boolean;
  /** Standard-normal noise [N, M] (tests); without it, training draws it from `random`. */
  readonly noise?: tf.Tensor2D;
  /** Uniform [0, 1) generator for the noise when `noise` is not given. */
  readonly random?: () => number;
}

export interface GateResult {
  /** The k chosen experts of each sample, best first: [N, k] row-major. */
  readonly chosen: Int32Array;
  /** Dense gates [N, M]: softmax over each sample's top-k logits, zero elsewhere. */
  readonly gates: tf.Tensor2D;
  /** Σ_n gates [M]. */
  readonly importance: tf.Tensor1D;
  /** Σ_n P(expert stays in the top k under fresh noise) in training, else the count of nonzero gates [M]. */
  readonly load: tf.Tensor1D;
  /** balanceCoefficient · (cv²(importance) + cv²(load)), a float32 scalar. */
  readonly balanceLoss: tf.Scalar;
}

/** Standard-normal CDF Φ(x) = (1 + erf(x/√2)) / 2. */
export function normalCdf(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1), 0.5);
}

/** Squared coefficient of variation var(x) / (mean(x)² + 1e-10), unbiased variance; 0 for one element. */
export function cvSquared(x: tf.Tensor1D): tf.Scalar {
  const m = x.shape[0];
  if (m <= 1) return tf.scalar(0);
  return tf.tidy(() => {
    const mean = tf.mean(x);
    const variance = tf.div(tf.sum(tf.square(tf.sub(x, mean))), m - 1);
    return tf.div(variance, tf.add(tf.square(mean), 1e-10)) as tf.Scalar;
  });
}

/** A constant [N, M] 0/1 mask with a one at (n, columns[n]) for each row. */
function oneHotRows(columns: ArrayLike<number>, m: number): tf.Tensor2D {
  const mask = new Float32Array(columns.length * m);
  for (let n = 0; n < columns.length; n++) mask[n * m + columns[n]!] = 1;
  return tf.tensor2d(mask, [columns.length, m]);
}

export function noisyTopKGate(input: GateInput, config: GateConfig): GateResult {
  const { pooled, wGate, wNoise, training } = input;
  const [n, r] = pooled.shape;
  const m = wGate.shape[1]!;
  const k = config.topK;
  if (wGate.shape[0] !== r || wNoise.shape.join() !== wGate.shape.join()) {
    throw new Error(`noisyTopKGate: pooled [${pooled.shape.join(', ')}] needs w_gate and w_noise of shape [${r}, M], got [${wGate.shape.join(', ')}] and [${wNoise.shape.join(', ')}]`);
  }
  if (k < 1 || k > m) throw new Error(`noisyTopKGate: topK ${k} must be between 1 and the ${m} experts`);
  if (training && input.noise && input.noise.shape.join() !== `${n},${m}`) {
    throw new Error(`noisyTopKGate: noise must be [${n}, ${m}], got [${input.noise.shape.join(', ')}]`);
  }
  if (training && !input.noise && !input.random) throw new Error('noisyTopKGate: training needs explicit noise or a seeded random generator');

  return tf.tidy(() => {
    const clean = tf.matMul(pooled, wGate) as tf.Tensor2D;
    let logits: tf.Tensor2D = clean;
    let sigma: tf.Tensor | undefined;
    if (training) {
      sigma = tf.add(tf.softplus(tf.matMul(pooled, wNoise)), config.noiseEpsilon);
      const random = input.random!;
      const noise = input.noise ?? tf.tensor2d(Float32Array.from({ length: n * m }, () => gaussian(random)), [n, m]);
      logits = tf.add(clean, tf.mul(noise, sigma)) as tf.Tensor2D;
    }

    // Routing (not differentiated): the top min(k + 1, M) logits of each sample.
    const kk = Math.min(k + 1, m);
    const top = tf.topk(logits, kk);
    const topIndices = top.indices.dataSync() as Int32Array;
    const values = logits.dataSync() as Float32Array;
    const column = (j: number) => Int32Array.from({ length: n }, (_, row) => topIndices[row * kk + j]!);
    const chosen = new Int32Array(n * k);
    const inMask = new Float32Array(n * m);
    const rowMax = new Float32Array(n);
    for (let row = 0; row < n; row++) {
      rowMax[row] = values[row * m + topIndices[row * kk]!]!;
      for (let j = 0; j < k; j++) {
        chosen[row * k + j] = topIndices[row * kk + j]!;
        inMask[row * m + topIndices[row * kk + j]!] = 1;
      }
    }

    // Softmax over the top-k logits, scattered into [N, M] by the mask (shifting by a constant max is exact).
    const chosenMask = tf.tensor2d(inMask, [n, m]);
    const expd = tf.mul(tf.exp(tf.sub(logits, tf.tensor2d(rowMax, [n, 1]))), chosenMask);
    const gates = tf.div(expd, tf.sum(expd, 1, true)) as tf.Tensor2D;
    const importance = tf.sum(gates, 0) as tf.Tensor1D;

    let load: tf.Tensor1D;
    if (training && k < m) {
      // Thresholds: the (k+1)-th largest noisy logit for experts in the top k, the k-th for those outside.
      const thresholdIn = tf.sum(tf.mul(logits, oneHotRows(column(k), m)), 1, true);
      const thresholdOut = tf.sum(tf.mul(logits, oneHotRows(column(k - 1), m)), 1, true);
      const isIn = new Float32Array(n * m);
      for (let row = 0; row < n; row++) {
        const threshold = values[row * m + topIndices[row * kk + k]!]!;
        for (let j = 0; j < m; j++) isIn[row * m + j] = values[row * m + j]! > threshold ? 1 : 0;
      }
      const inside = tf.tensor2d(isIn, [n, m]);
      const probIn = normalCdf(tf.div(tf.sub(clean, thresholdIn), sigma!));
      const probOut = normalCdf(tf.div(tf.sub(clean, thresholdOut), sigma!));
      const prob = tf.add(tf.mul(probIn, inside), tf.mul(probOut, tf.sub(1, inside)));
      load = tf.sum(prob, 0) as tf.Tensor1D;
    } else {
      const g = gates.dataSync();
      const counts = new Float32Array(m);
      for (let i = 0; i < n * m; i++) if (g[i]! > 0) counts[i % m] = counts[i % m]! + 1;
      load = tf.tensor1d(counts);
    }
    const balanceLoss = tf.mul(tf.add(cvSquared(importance), cvSquared(load)), config.balanceCoefficient) as tf.Scalar;
    return { chosen, gates, importance, load, balanceLoss };
  });
}
