/**
 * The training engine (workers/training-memory.ts) against tfjs's own: the same gradients as
 * tfjs's engine.gradients with tfjs's gradient configs, on graphs that exercise every replaced
 * gradient (broadcast adds and subtractions, slices with -1 sizes, pads, concatenations, sums
 * and means over some axes, reshapes), custom gradients that recompute their forward or take a
 * gradient inside, a gradient passed through to two inputs, and a tensor used many times; no
 * tensor is left behind; and a deep chain's backward peaks far below tfjs's.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { relPosAttention } from '../../src/nodes/sam/relpos-attention.ts';
import { SHAPE_ONLY_GRADIENTS } from '../../workers/shape-only-gradients.ts';
import { registerTrainingMemory } from '../../workers/training-memory.ts';
import { BACKENDS, useBackend } from '../fixtures/tensors.ts';

type Engine = { gradients: unknown };
const engine = tf.engine() as unknown as Engine;
// tfjs's own, taken before anything replaces them.
const tfjsGradients = engine.gradients;
const tfjsConfigs = SHAPE_ONLY_GRADIENTS.map((g) => tf.getGradient(g.kernelName));
registerTrainingMemory();
const leanGradients = engine.gradients;

/** Runs `fn` (and waits for it, if it is async) with tfjs's engine and gradients, then puts the training engine back. */
function withTfjs<T>(fn: () => T): T {
  engine.gradients = tfjsGradients;
  tfjsConfigs.forEach((c) => tf.registerGradient(c));
  const restore = () => {
    engine.gradients = leanGradients;
    SHAPE_ONLY_GRADIENTS.forEach((c) => tf.registerGradient(c));
  };
  let result: T;
  try {
    result = fn();
  } catch (error) {
    restore();
    throw error;
  }
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}

/** Bytes above the start at the busiest moment of computing f's gradient at x. */
async function gradientPeak(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): Promise<number> {
  const before = tf.memory().numBytes;
  let grads: tf.Tensor[] = [];
  const profile = await tf.profile(() => {
    grads = tf.grads(f)([x]);
  });
  tf.dispose(grads);
  return profile.peakBytes - before;
}

const passThrough = tf.customGrad((a, b) => {
  const [x, y] = [a as tf.Tensor, b as tf.Tensor];
  return { value: tf.add(x, y), gradFunc: (dy) => [dy as tf.Tensor, dy as tf.Tensor] };
});

// Inside its gradient: a gradient of its own (a recomputed forward, as relPosAttention does).
const nested = tf.customGrad((a) => {
  const x = a as tf.Tensor;
  return { value: tf.square(tf.sin(x)), gradFunc: (dy) => tf.mul(dy as tf.Tensor, tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.sin(t))))(x)) };
});

const CASES: Record<string, { shapes: number[][]; f: (...x: tf.Tensor[]) => tf.Tensor }> = {
  'broadcast add and sub': { shapes: [[2, 3, 4], [4], [1, 3, 1]], f: (x, b, c) => tf.sum(tf.mul(tf.sub(c!, tf.add(x!, b!)), tf.add(x!, 1))) },
  'slice, pad, reshape': {
    shapes: [[4, 6, 5]],
    f: (x) => tf.sum(tf.square(tf.pad(tf.slice(x!, [1, 2, 0], [2, -1, 3]).reshape([8, 3]), [[1, 2], [0, 1]], 0.5))),
  },
  'concat along several axes': { shapes: [[2, 3], [2, 5], [4, 3]], f: (a, b, c) => tf.sum(tf.mul(tf.concat([tf.concat([a!, b!], -1), tf.concat([c!, c!, c!], 1).slice([0, 0], [4, 8])], 0), tf.range(0, 48).reshape([6, 8]))) },
  'sum and mean over some axes': {
    shapes: [[3, 4, 5]],
    f: (x) => tf.add(tf.sum(tf.square(tf.sum(x!, [0, 2], true))), tf.sum(tf.exp(tf.mean(x!, -1)))).add(tf.mean(tf.square(x!))),
  },
  'one tensor used many times': { shapes: [[5, 5]], f: (x) => tf.sum(tf.matMul(tf.tanh(x!), tf.add(x!, tf.transpose(x!)))).add(tf.sum(tf.softmax(x!))) },
  'a gradient passed through to two inputs': { shapes: [[3, 4], [3, 4]], f: (x, y) => tf.sum(tf.square(passThrough(tf.mul(x!, 2), tf.add(x!, y!)))) },
  'attention that recomputes in backward': {
    shapes: [[2, 6, 4], [2, 6, 4], [2, 6, 4], [2, 2, 3, 2], [2, 2, 3, 3]],
    f: (q, k, v, h, w) => tf.sum(tf.square(relPosAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, h as tf.Tensor4D, w as tf.Tensor4D))),
  },
};

describe.each(BACKENDS)('the training engine on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it.each(Object.keys(CASES))('gives tfjs’s gradients: %s', (name) => {
    const { shapes, f } = CASES[name]!;
    const xs = shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 11 + i));
    const ours = tf.grads(f)(xs);
    const theirs = withTfjs(() => tf.grads(f)(xs));
    ours.forEach((g, i) => {
      expect(g.shape, `input ${i}`).toEqual(xs[i]!.shape);
      const [a, b] = [g.dataSync(), theirs[i]!.dataSync()];
      for (let j = 0; j < a.length; j++) expect(Math.abs(a[j]! - b[j]!), `input ${i} element ${j}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(b[j]!)));
    });
    tf.dispose([...xs, ...ours, ...theirs]);
  });

  it('takes a gradient inside a custom gradient (where tfjs’s engine loses its tape): d/dx Σ r·sin²x = r·2 sin x cos x', () => {
    const x = tf.randomNormal([6], 0, 1, 'float32', 5);
    const r = tf.range(1, 7);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(nested(t), r)))(x).dataSync();
    const xs = x.dataSync();
    xs.forEach((v, i) => expect(g[i]).toBeCloseTo((i + 1) * 2 * Math.sin(v) * Math.cos(v), 5));
    expect(() => withTfjs(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(nested(t), r)))(x))).toThrow();
    tf.dispose([x, r]);
  });

  it('leaves no tensor behind, and variableGrads still skips variables without a gradient', () => {
    const w = tf.variable(tf.randomNormal([4, 4], 0, 1, 'float32', 1));
    const unused = tf.variable(tf.zeros([2]));
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 2);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.relu(tf.add(tf.matMul(x, w), tf.slice(x, [0, 0], [3, 4])))), [w, unused]);
      expect(Object.keys(grads)).toEqual([w.name]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w, unused, x]);
  });

  it('peaks far lower than tfjs through a deep chain: saved tensors and used gradients are freed on the way back', async () => {
    const x = tf.randomNormal([64, 256], 0, 1, 'float32', 3);
    const f = (input: tf.Tensor) => {
      let h = input;
      // Each block in its own scope, as the SAM encoder's are: the forward keeps only what gradients saved.
      for (let i = 0; i < 24; i++) {
        const last = h;
        h = tf.tidy(() => tf.add(tf.tanh(tf.mul(last, 0.9)), tf.reshape(last, [256, 64]).reshape([64, 256])));
      }
      return tf.sum(h);
    };
    const ours = await gradientPeak(f, x);
    const theirs = await withTfjs(() => gradientPeak(f, x));
    // 24 blocks of 64x256 activations: tfjs keeps every block's tensors and gradients to the end.
    // Measured: 5.0 MB against 19.1 MB.
    expect(ours).toBeLessThan(0.4 * theirs);
    tf.dispose([x]);
  });

  it('tapes nothing for operations that do not depend on an x: a frozen prefix keeps no saved tensor', async () => {
    const frozen = tf.randomNormal([64, 256], 0, 1, 'float32', 4);
    const x = tf.randomNormal([64, 256], 0, 1, 'float32', 5);
    const f = (input: tf.Tensor) => {
      let h = frozen;
      for (let i = 0; i < 24; i++) {
        const last = h;
        h = tf.tidy(() => tf.add(tf.tanh(tf.mul(last, 0.9)), last));
      }
      return tf.sum(tf.mul(h, input));
    };
    const ours = await gradientPeak(f, x);
    const theirs = await withTfjs(() => gradientPeak(f, x));
    expect(ours).toBeLessThan(0.3 * theirs);
    // And the gradient is still right: d/dx Σ h·x = h, the frozen chain's output computed without a tape.
    const [g] = tf.grads(f)([x]);
    const h = tf.tidy(() => {
      let t = frozen;
      for (let i = 0; i < 24; i++) t = tf.add(tf.tanh(tf.mul(t, 0.9)), t);
      return t;
    });
    expect(Math.max(...tf.abs(tf.sub(g!, h)).dataSync())).toBe(0);
    tf.dispose([frozen, x, g!, h]);
  });
});
