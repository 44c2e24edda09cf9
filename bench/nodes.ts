/**
 * Node kinds used only by the graph benchmark (bench/graph.ts). Kinds register globally on
 * import, so they are defined here once; the tensor worker imports this module too (through
 * the graph's `modules` option) to rebuild the 'bench/matmul' segment.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode, optional } from '../src/graph/node.ts';
import { portType, tensorData, type TensorData } from '../src/graph/port.ts';

export const BenchNumber = portType<number>()('bench/Number', {
  transport: 'json',
  description: 'a plain number (item index or checksum)',
});

export const BenchMatrix = portType<TensorData, tf.Tensor2D>()('bench/Matrix', {
  transport: 'tensor',
  description: 'a float32 square matrix',
});

export const BenchScalar = portType<number, tf.Scalar>()('bench/Scalar', {
  transport: 'json',
  description: 'a scalar tensor in the worker, a number on the main thread',
});

/** Synchronous CPU work: `iterations` rounds of an integer hash, seeded by `n`. */
export function spin(n: number, iterations: number): number {
  let h = (n ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < iterations; i++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    h = (h ^ (h >>> 12)) + i;
  }
  return h >>> 0;
}

/** A deterministic size×size float32 matrix with entries in [-1, 1). */
export function makeMatrix(size: number, seed: number): TensorData {
  const data = new Float32Array(size * size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = ((s >>> 0) / 2 ** 31) - 1;
  }
  return tensorData(data, [size, size]);
}

/** The worker node's tensor work, shared with the main-thread contrast run: `repeats` matMuls, then a sum. */
export function matmulWork(x: tf.Tensor2D, a: tf.Tensor2D, repeats: number): tf.Scalar {
  let y = x;
  for (let r = 0; r < repeats; r++) y = tf.matMul(y, a);
  return tf.sum(y);
}

/** Items 0..count-1 as plain numbers. */
export const BenchNumbers = defineNode({
  kind: 'bench/numbers',
  description: 'benchmark source: the numbers 0..count-1',
  placement: 'main',
  inputs: {},
  outputs: { n: BenchNumber },
  params: z.object({ count: z.number().int().min(0) }),
  main: {
    type: 'source',
    total: (p) => p.count,
    create: (p) =>
      (function* () {
        for (let n = 0; n < p.count; n++) yield { values: { n } };
      })(),
  },
});

/** Items carrying a fresh copy of one size×size matrix (cheap: one memcpy per item). */
export const BenchMatrices = defineNode({
  kind: 'bench/matrices',
  description: 'benchmark source: count copies of one deterministic matrix, with their index',
  placement: 'main',
  inputs: {},
  outputs: { n: BenchNumber, x: BenchMatrix },
  params: z.object({ count: z.number().int().min(0), size: z.number().int().min(1).default(512), seed: z.number().int().default(1) }),
  main: {
    type: 'source',
    total: (p) => p.count,
    create: (p) => {
      const template = makeMatrix(p.size, p.seed);
      return (function* () {
        // The buffer is transferred to the worker, so every item needs its own copy.
        for (let n = 0; n < p.count; n++) yield { values: { n, x: { ...template, data: template.data.slice() } } };
      })();
    },
  },
});

/** Busy-loops `iterations` hash rounds (synchronous CPU work), then optionally sleeps `sleepMs`; can time itself. */
export const BenchSpin = defineNode({
  kind: 'bench/spin',
  description: 'benchmark map: synchronous busy work with a checksum, and/or an asynchronous sleep',
  placement: 'main',
  inputs: { n: BenchNumber },
  outputs: { n: BenchNumber },
  params: z.object({
    iterations: z.number().int().min(0).default(0),
    sleepMs: z.number().min(0).default(0),
    report: z.boolean().default(false).describe("emit each item's time as metric 'main_ms'"),
  }),
  main: {
    type: 'map',
    create: (p, ctx) => ({
      process: ({ n }) => {
        const t0 = performance.now();
        const checksum = spin(n, p.iterations);
        const done = () => {
          if (p.report) ctx.emit({ type: 'metric', name: 'main_ms', value: performance.now() - t0 });
          return { n: checksum };
        };
        if (p.sleepMs <= 0) return done();
        return new Promise<{ n: number }>((resolve) => setTimeout(() => resolve(done()), p.sleepMs));
      },
    }),
  },
});

/** Sums what reaches it and reports the sum once, as metric 'checksum', when the run ends. */
export const BenchSink = defineNode({
  kind: 'bench/sink',
  description: 'benchmark sink: sums its inputs and emits the checksum at the end',
  placement: 'main',
  inputs: { n: optional(BenchNumber), checksum: optional(BenchScalar) },
  outputs: {},
  params: z.object({}),
  main: {
    type: 'map',
    create: (_p, ctx) => {
      let sum = 0;
      return {
        process: ({ n, checksum }) => {
          sum += (n ?? 0) + (checksum ?? 0);
          return {};
        },
        finish: () => ctx.emit({ type: 'metric', name: 'checksum', value: sum }),
      };
    },
  },
});

/**
 * `repeats` matMuls of the input with a fixed seeded matrix, then a sum. Times its own forward
 * (forcing the result with dataSync) and reports it per item as metric 'busy_ms'.
 */
export const BenchMatmul = defineNode({
  kind: 'bench/matmul',
  description: 'benchmark worker node: x @ A (repeated), summed; reports busy_ms per item',
  placement: 'worker',
  inputs: { x: BenchMatrix },
  outputs: { checksum: BenchScalar },
  params: z.object({
    size: z.number().int().min(1).default(512),
    repeats: z.number().int().min(1).default(1),
    seed: z.number().int().default(2),
  }),
  worker: {
    create: (p) => {
      const m = makeMatrix(p.size, p.seed);
      // Scaled by 1/sqrt(size) so repeated products stay finite.
      const a = tf.tidy(() => tf.tensor2d(m.data as Float32Array, [p.size, p.size]).div(Math.sqrt(p.size)) as tf.Tensor2D);
      return {
        forward: ({ x }, step) => {
          if (x.shape[0] !== p.size || x.shape[1] !== p.size) {
            throw new Error(`x of shape [${x.shape.join(', ')}] must be [${p.size}, ${p.size}]`);
          }
          const t0 = performance.now();
          const checksum = matmulWork(x, a, p.repeats);
          checksum.dataSync();
          step.emit({ type: 'metric', name: 'busy_ms', value: performance.now() - t0 });
          return { checksum };
        },
        dispose: () => a.dispose(),
      };
    },
  },
});
