import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../../src/graph/compile.ts';
import type { RunEvent } from '../../../src/graph/events.ts';
import { GraphBuilder, type Graph } from '../../../src/graph/graph.ts';
import { run, type Boundary } from '../../../src/graph/run.ts';
import { RandomFlip } from '../../../src/nodes/augment/random-flip.ts';
import { Batch } from '../../../src/nodes/data/batch.ts';
import { SyntheticShapes } from '../../../src/nodes/data/synthetic-shapes.ts';
import { SigmoidBce } from '../../../src/nodes/losses/sigmoid-bce.ts';
import { PatchMlp } from '../../../src/nodes/models/patch-mlp.ts';
import { openSafetensors } from '../../../src/nodes/sam/checkpoint/safetensors.ts';
import { Adam } from '../../../src/nodes/train/adam.ts';
import { AdamW } from '../../../src/nodes/train/adamw.ts';
import { TensorWorker } from '../../../workers/host.ts';
import { Affine, Counter, Distance, FIXTURE_MODULE } from '../../fixtures/nodes.ts';
import { tempDir } from '../../fixtures/datasets.ts';

const OPTIONS = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.5, clipNorm: 2.5 };
const values = (t: tf.Tensor) => [...t.dataSync()];
const close = (expected: readonly number[], digits = 6) => expected.map((v) => expect.closeTo(v, digits));

describe('AdamW', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  /** W [1, 2] (decayed) and b [2] (a bias: not decayed), with the first step's gradients. */
  function setup() {
    const W = tf.variable(tf.tensor2d([[1, -2]]), true);
    const b = tf.variable(tf.tensor1d([0.5, 0.25]), true);
    const variables = new Map<string, tf.Variable>([['W', W], ['b', b]]);
    // Global norm sqrt(3^2 + 4^2) = 5 > clipNorm 2.5: every gradient is scaled by 2.5 / (5 + 1e-6).
    const grads = new Map<string, tf.Tensor>([['W', tf.tensor2d([[3, 0]])], ['b', tf.tensor1d([0, -4])]]);
    return { W, b, variables, grads };
  }

  it('takes a first step of lr · sign(g) after decaying only the rank-2 weight, and returns the norm before clipping', () => {
    const { W, b, variables, grads } = setup();
    const adam = new AdamW(OPTIONS);
    // Step 1: m̂ = g', v̂ = g'^2, so the step is lr g' / (|g'| + eps) = lr sign(g) whatever the clipping.
    // W = [1, -2] (1 - 0.1 · 0.5) - 0.1 [1, 0] = [0.85, -1.9]; b = [0.5, 0.25] - 0.1 [0, -1] = [0.5, 0.35].
    expect(adam.apply(variables, grads, 0.1)).toBeCloseTo(5, 6);
    expect(values(W)).toEqual(close([0.85, -1.9]));
    expect(values(b)).toEqual(close([0.5, 0.35]));
  });

  it('keeps the moments of the clipped gradient: m = (1 - β1) g′, v = (1 - β2) g′²', () => {
    const { variables, grads } = setup();
    const adam = new AdamW(OPTIONS);
    adam.apply(variables, grads, 0.1);
    const clip = 2.5 / (5 + 1e-6);
    const { tensors, steps } = adam.tensors();
    expect(steps).toEqual({ W: 1, b: 1 });
    expect(values(tensors.get('m/W')!)).toEqual(close([0.1 * 3 * clip, 0], 7));
    expect(values(tensors.get('v/W')!)).toEqual(close([0.001 * (3 * clip) ** 2, 0], 8));
    expect(values(tensors.get('m/b')!)).toEqual(close([0, 0.1 * -4 * clip], 7));
    expect(values(tensors.get('v/b')!)).toEqual(close([0, 0.001 * 16 * clip ** 2], 8));
  });

  it('matches a hand-computed second step with bias correction, below the clipping norm', () => {
    const { W, b, variables, grads } = setup();
    const adam = new AdamW(OPTIONS);
    adam.apply(variables, grads, 0.1);
    // Norm sqrt(1 + 1 + 0.25) = 1.5 < 2.5: no clipping. With c = 2.5 / 5.000001 from step 1:
    // m_W = 0.9 · [0.3c, 0] + 0.1 · [1, 1] = [0.235, 0.1];  v_W = 0.999 · [0.009c², 0] + 0.001 = [0.00324775, 0.001]
    // W -= ... : [0.85 · 0.95 - 0.1 (0.235 / 0.19) / (sqrt(0.00324775 / 0.001999) + 1e-8), ...]
    // m_b = [0.05, -0.18];  v_b = [0.00025, 0.003996]  (b has no decay)
    const norm = adam.apply(variables, new Map<string, tf.Tensor>([['W', tf.tensor2d([[1, 1]])], ['b', tf.tensor1d([0.5, 0])]]), 0.1);
    expect(norm).toBeCloseTo(1.5, 6);
    const step = (p: number, decay: boolean, m: number, v: number) => p * (decay ? 1 - 0.1 * 0.5 : 1) - (0.1 * (m / 0.19)) / (Math.sqrt(v / 0.001999) + 1e-8);
    const c = 2.5 / (5 + 1e-6);
    const mW = [0.9 * 0.1 * 3 * c + 0.1, 0.1];
    const vW = [0.999 * 0.001 * (3 * c) ** 2 + 0.001, 0.001];
    const mb = [0.05, 0.9 * 0.1 * -4 * c];
    const vb = [0.00025, 0.999 * 0.001 * 16 * c * c];
    expect(values(W)).toEqual(close([step(0.85, true, mW[0]!, vW[0]!), step(-1.9, true, mW[1]!, vW[1]!)]));
    expect(values(b)).toEqual(close([step(0.5, false, mb[0]!, vb[0]!), step(0.35, false, mb[1]!, vb[1]!)]));
    // The same numbers, worked out once by hand (float64).
    expect(values(W)).toEqual(close([0.7104647863, -1.8794136813]));
    expect(values(b)).toEqual(close([0.4255863197, 0.4170058244]));
  });

  it('skips a variable without a gradient: its moments and step count stay as they were', () => {
    const { b, variables, grads } = setup();
    const adam = new AdamW({ ...OPTIONS, weightDecay: 0, clipNorm: 0 });
    adam.apply(variables, grads, 0.1);
    const bBefore = values(b);
    adam.apply(variables, new Map([['W', tf.tensor2d([[1, 1]])]]), 0.1);
    expect(values(b)).toEqual(bBefore);
    expect(adam.tensors().steps).toEqual({ W: 2, b: 1 });
    expect(values(adam.tensors().tensors.get('m/b')!)).toEqual(close([0, -0.4], 7));
  });

  it('continues from tensors() loaded into another instance exactly as the original does', () => {
    const first = setup();
    const adam = new AdamW(OPTIONS);
    adam.apply(first.variables, first.grads, 0.1);
    const saved = adam.tensors();
    const copy = new AdamW(OPTIONS);
    copy.load(new Map([...saved.tensors].map(([k, t]) => [k, t.clone()])), saved.steps, 'test');
    const second = setup();
    second.W.assign(first.W);
    second.b.assign(first.b);
    const next = () => new Map<string, tf.Tensor>([['W', tf.tensor2d([[-2, 0.5]])], ['b', tf.tensor1d([1, 1])]]);
    adam.apply(first.variables, next(), 0.05);
    copy.apply(second.variables, next(), 0.05);
    expect(values(second.W)).toEqual(values(first.W));
    expect(values(second.b)).toEqual(values(first.b));
  });

  it('refuses saved state that lacks a moment, naming the parameter', () => {
    const adam = new AdamW(OPTIONS);
    expect(() => adam.load(new Map([['m/W', tf.zeros([2])]]), { W: 3 }, 'ckpt/optimizer')).toThrow("ckpt/optimizer: optimiser state for 'W' lacks its second moment");
  });
});

/** Runs a graph in a cpu tensor worker; at the end, every worker node's state is saved into the returned dir. */
async function runAndSave(graph: Graph): Promise<{ events: RunEvent[]; dir: string }> {
  const dir = tempDir('samflow-adam-');
  const onBoundary = async (b: Boundary) => {
    if (b.reason === 'end') await b.save(dir);
  };
  const events = await lastValueFrom(run(compile(graph), { executor: () => TensorWorker.start({ backend: 'cpu' }), onBoundary }).pipe(toArray()));
  expect(events.at(-1)).toMatchObject({ type: 'finished' });
  return { events, dir };
}

async function readTensors(path: string): Promise<Map<string, number[]>> {
  const file = await openSafetensors(path);
  try {
    const out = new Map<string, number[]>();
    for (const [key, entry] of file.entries) out.set(key, [...(await entry.read())]);
    return out;
  } finally {
    await file.close();
  }
}

const metrics = (events: readonly RunEvent[], name: string) =>
  events.flatMap((e) => (e.type === 'metric' && e.node === 'optimizer' && e.name === name ? [{ value: e.value, step: e.step, epoch: e.epoch }] : []));

/** The toy segmentation pipeline without flips (p 0), so runs with different batching see the same items. */
function toy(batch: number, accumulate: number, train: number): Graph {
  const g = new GraphBuilder({ name: 'toy-accumulate', seed: 11 });
  const data = g.add('data', SyntheticShapes, { params: { size: 16, train, val: 0, epochs: 1 } });
  const flip = g.add('flip', RandomFlip, { params: { p: 0 }, inputs: { image: data.out.image, mask: data.out.mask } });
  const batched = g.add('batch', Batch, { params: { size: batch }, inputs: { image: flip.out.image, mask: flip.out.mask } });
  const model = g.add('model', PatchMlp, { params: { patch: 4, hidden: 8 }, inputs: { images: batched.out.images } });
  const loss = g.add('loss', SigmoidBce, { inputs: { logits: model.out.logits, masks: batched.out.masks } });
  g.add('optimizer', Adam, { params: { lr: 0.02, accumulate }, inputs: { loss: loss.out.loss } });
  return g.build();
}

describe('gradient accumulation', () => {
  it('accumulate 2 with batch 1 gives the weights of batch 2 with accumulate 1 (a mean loss)', async () => {
    const accumulated = await runAndSave(toy(1, 2, 6));
    const batched = await runAndSave(toy(2, 1, 6));
    const a = await readTensors(join(accumulated.dir, 'model.safetensors'));
    const b = await readTensors(join(batched.dir, 'model.safetensors'));
    expect([...a.keys()].sort()).toEqual(['0', '1', '2', '3']);
    const maxDiff = (x: Map<string, number[]>, y: Map<string, number[]>, key: string) => Math.max(...x.get(key)!.map((v, i) => Math.abs(v - y.get(key)![i]!)));
    for (const key of a.keys()) expect(maxDiff(a, b, key), `variable ${key}`).toBeLessThan(1e-6);
    // Batch 1 without accumulation (6 updates) ends far from both.
    const single = await readTensors(join((await runAndSave(toy(1, 1, 6))).dir, 'model.safetensors'));
    expect(maxDiff(single, b, '0')).toBeGreaterThan(1e-3);
  });

  it('makes one update per 2 items: 3 lr events for 6 items', async () => {
    const { events, dir } = await runAndSave(toy(1, 2, 6));
    expect(metrics(events, 'lr')).toEqual([0, 1, 2].map((step) => ({ value: 0.02, step, epoch: 0 })));
    expect(metrics(events, 'grad_norm').map((m) => m.step)).toEqual([0, 1, 2]);
    // An item's loss event carries the updates made once it is done.
    expect(metrics(events, 'loss').map((m) => m.step)).toEqual([0, 1, 1, 2, 2, 3]);
    expect(JSON.parse(readFileSync(join(dir, 'optimizer.json'), 'utf8'))).toMatchObject({ updates: 3, gathered: 0 });
  });
});

describe('gradient accumulation flushed at a group end', () => {
  /**
   * Counter items x_i = [i, i, i, i] in two training groups of 5, y = 0.5 x + b, loss
   * mean((y - 3)^2), so every element of b has the gradient (0.5 i + b - 3) / 2. Adam with
   * accumulate 2 updates after items 1, 3, 4 (the group's end, with item 4's gradient alone,
   * still divided by 2 as Lightning scales it), 6, 8 and 9. Simulated here in float64.
   */
  function simulate(lrs: readonly number[]) {
    let [b, m, v, t, sum, gathered] = [0, 0, 0, 0, 0, 0];
    const losses: number[] = [];
    const norms: number[] = [];
    for (let i = 0; i < 10; i++) {
      losses.push((0.5 * i + b - 3) ** 2);
      sum += (0.5 * i + b - 3) / 2 / 2;
      gathered++;
      if (gathered < 2 && i % 5 !== 4) continue;
      const lr = lrs[t]!;
      t++;
      norms.push(Math.sqrt(4 * sum * sum));
      m = 0.9 * m + 0.1 * sum;
      v = 0.999 * v + 0.001 * sum * sum;
      b -= (lr * (m / (1 - 0.9 ** t))) / (Math.sqrt(v / (1 - 0.999 ** t)) + 1e-8);
      [sum, gathered] = [0, 0];
    }
    return { b, t, losses, norms };
  }

  function affineGraph() {
    const g = new GraphBuilder({ name: 'accumulate-flush', modules: [FIXTURE_MODULE] });
    const src = g.add('src', Counter, { params: { count: 10, groupSize: 5, train: 10 } });
    const affine = g.add('affine', Affine, { params: { scale: 0.5 }, inputs: { vector: src.out.vector } });
    const loss = g.add('loss', Distance, { params: { target: 3 }, inputs: { vector: affine.out.vector } });
    // Polynomial decay 0.1 -> 0 over updates 1..6 after one warmup update at lr 0.
    g.add('optimizer', Adam, {
      params: { lr: 0.1, accumulate: 2, schedule: 'polynomial', warmupSteps: 1, totalSteps: 6 },
      inputs: { loss: loss.out.loss },
    });
    return g.build();
  }

  const LRS = [0, 0.1, 0.08, 0.06, 0.04, 0.02];

  it('updates at every 2nd item and at each group end, with the schedule’s lr per update', async () => {
    const { events, dir } = await runAndSave(affineGraph());
    expect(metrics(events, 'lr')).toEqual(LRS.map((value, step) => ({ value: expect.closeTo(value, 12), step, epoch: step < 3 ? 0 : 1 })));
    expect(metrics(events, 'loss').map((m) => m.step)).toEqual([0, 1, 1, 2, 3, 3, 4, 4, 5, 6]);
    expect(JSON.parse(readFileSync(join(dir, 'optimizer.json'), 'utf8'))).toMatchObject({ updates: 6, gathered: 0 });
  });

  it('gives the weights, losses and gradient norms of the float64 simulation', async () => {
    const expected = simulate(LRS);
    expect(expected.t).toBe(6);
    const { events, dir } = await runAndSave(affineGraph());
    const b = (await readTensors(join(dir, 'affine.safetensors'))).get('0')!;
    expect(b).toEqual(close([expected.b, expected.b, expected.b, expected.b], 5));
    expect(metrics(events, 'loss').map((m) => m.value)).toEqual(expected.losses.map((l) => expect.closeTo(l, 4)));
    expect(metrics(events, 'grad_norm').map((m) => m.value)).toEqual(expected.norms.map((n) => expect.closeTo(n, 5)));
    // Without the flush at the group end the moments would carry item 4 into epoch 1's first update.
    expect(expected.b).not.toBeCloseTo(simulateWithoutFlush(LRS), 3);
  });

  /** The same run if a group's end did not flush (gradients carried over into the next group). */
  function simulateWithoutFlush(lrs: readonly number[]): number {
    let [b, m, v, t, sum] = [0, 0, 0, 0, 0];
    for (let i = 0; i < 10; i++) {
      sum += (0.5 * i + b - 3) / 4;
      if (i % 2 === 0) continue;
      const lr = lrs[t]!;
      t++;
      m = 0.9 * m + 0.1 * sum;
      v = 0.999 * v + 0.001 * sum * sum;
      b -= (lr * (m / (1 - 0.9 ** t))) / (Math.sqrt(v / (1 - 0.999 ** t)) + 1e-8);
      sum = 0;
    }
    return b;
  }
});
