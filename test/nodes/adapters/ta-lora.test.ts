import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadAdapterCheckpoint, saveAdapterCheckpoint } from '../../../src/nodes/adapters/checkpoint.ts';
import { parseAdapterConfig } from '../../../src/nodes/adapters/config.ts';
import { injectAdapter } from '../../../src/nodes/adapters/inject.ts';
import { isTaLora, orthogonalityLoss, type TaLoraAdapter } from '../../../src/nodes/adapters/ta-lora/inject.ts';
import { taLoraDelta, type TaLoraLayerConfig, type TuckerWeights } from '../../../src/nodes/adapters/ta-lora/layer.ts';
import { orthogonality } from '../../../src/nodes/adapters/ta-lora/orthogonality.ts';
import { imageEncoder } from '../../../src/nodes/sam/image-encoder.ts';
import { createSamModel, setActiveTasks, trainableVariables, type SamModel } from '../../../src/nodes/sam/model.ts';
import { randomSamParams } from '../../../src/nodes/sam/params.ts';
import { samForward } from '../../../src/nodes/sam/sam.ts';
import { TINY_SAM } from '../../fixtures/sam-configs.ts';
import { maxAbsDiff, npyFixtures, useBackend } from '../../fixtures/tensors.ts';

const { fixture } = npyFixtures(new URL('../../fixtures/ta-lora/', import.meta.url).pathname);
const ALL: TaLoraLayerConfig = { scaling: 0.5, dropout: 0, enabled: [true, true, true] };
const EVAL = { training: false } as const;

const fixtureWeights = (u2 = 'u2'): TuckerWeights => ({
  core: tf.variable(fixture('core')),
  u1: tf.variable(fixture('u1')),
  u2: tf.variable(fixture(u2)),
  u3: tf.variable(fixture('u3')),
});
const variablesOf = (w: TuckerWeights) => [w.core, w.u1, w.u2, w.u3];
/** The frozen qkv of the fixture plus the adapter's update. */
const adaptedQkv = (x: tf.Tensor, w: TuckerWeights, config: TaLoraLayerConfig, tasks: number[]) =>
  tf.tidy(() => tf.add(tf.add(tf.matMul(x.reshape([-1, 8]), fixture('w')).reshape([...x.shape.slice(0, -1), 24]), fixture('b')), taLoraDelta(x, w, config, tasks, EVAL)));
/** max |a − b| / max |b|. */
const relDiff = (a: tf.Tensor, b: tf.Tensor) => maxAbsDiff(a, b) / tf.tidy(() => tf.max(tf.abs(b)).dataSync()[0]!);

/** The update tensor of spec §1.2 by its definition, in float64: dW[i][j][t] = Σ G[p,q,v]·U1[i,p]·U2[j,q]·U3[t,v]. */
function materialise(w: TuckerWeights): number[][][] {
  const [r1, r2, r3] = w.core.shape as number[];
  const [dIn, dOut, T] = [w.u1.shape[0]!, w.u2.shape[0]!, w.u3.shape[0]!];
  const [g, u1, u2, u3] = variablesOf(w).map((v) => v.dataSync());
  return Array.from({ length: dIn }, (_, i) =>
    Array.from({ length: dOut }, (_, j) =>
      Array.from({ length: T }, (_, t) => {
        let sum = 0;
        for (let p = 0; p < r1!; p++) for (let q = 0; q < r2!; q++) for (let v = 0; v < r3!; v++) sum += g![(p * r2! + q) * r3! + v]! * u1![i * r1! + p]! * u2![j * r2! + q]! * u3![t * r3! + v]!;
        return sum;
      }),
    ),
  );
}
/** Task t's dense update in TF layout [d_in, d_out], scaled. */
const denseUpdate = (dw: number[][][], t: number, s: number) => tf.tensor2d(dw.map((row) => row.map((col) => s * col[t]!)));

function tinyModel(seed = 1): SamModel {
  return createSamModel(TINY_SAM, randomSamParams(TINY_SAM, seed), `random:${seed}`);
}
/** Every TA-LoRA factor random (G too, so the update is not zero). */
function perturb(m: SamModel, scale = 0.05): void {
  let s = 100;
  tf.tidy(() => {
    for (const a of m.adapters) for (const v of a.weights.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, scale, 'float32', s++)));
    for (const v of m.unfrozen.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, scale, 'float32', s++)));
  });
}
const taLoraOf = (m: SamModel): TaLoraAdapter => {
  const a = m.adapters.find(isTaLora);
  if (!a) throw new Error('no ta-lora adapter');
  return a;
};
const images = (b = 1, seed = 5) => tf.randomNormal([b, 32, 32, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
/** Masks, IoU and image embeddings of the whole model for one task, flattened. */
const run = (m: SamModel, task?: number) =>
  tf.tidy(() => {
    if (task !== undefined) setActiveTasks(m, [task]);
    m.adapters.forEach((a) => a.beginStep?.(false, 0));
    const out = samForward(images(), {}, m.params, m.config);
    return tf.concat([out.masks.flatten(), out.iou.flatten(), out.imageEmbeddings.flatten()]);
  });

describe('TA-LoRA layer against the PyTorch reference (test/fixtures/ta-lora/make_fixtures.py)', () => {
  // Observed: ~1e-7 relative to the largest reference value (float32 against float64).
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('gives the official materialised-tensor output for every task', () => {
    const w = fixtureWeights();
    expect(fixture('scale').dataSync()[0]).toBe(ALL.scaling);
    for (const t of [0, 1, 2]) expect(relDiff(adaptedQkv(fixture('x'), w, ALL, [t]), fixture(`y_task${t}`)), `task ${t}`).toBeLessThan(2e-6);
  });

  it('gives the official gradients of G, U1, U2, U3 and x', () => {
    const w = fixtureWeights();
    const x = tf.variable(fixture('x'));
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(adaptedQkv(x, w, ALL, [1]), fixture('r'))) as tf.Scalar, [...variablesOf(w), x]);
    value.dispose();
    (['core', 'u1', 'u2', 'u3'] as const).forEach((k) => expect(relDiff(grads[w[k].name]!, fixture(`grad_${k}_task1`)), k).toBeLessThan(2e-6));
    expect(relDiff(grads[x.name]!, fixture('grad_x_task1'))).toBeLessThan(2e-6);
  });

  it('computes a task-major batch (task t on its own group of images) like the per-task passes, values and gradients', () => {
    const w = fixtureWeights();
    const xb = fixture('xb');
    expect(relDiff(adaptedQkv(xb, w, ALL, [0, 1, 2]), fixture('yb'))).toBeLessThan(2e-6);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(adaptedQkv(xb, w, ALL, [0, 1, 2]), fixture('rb'))) as tf.Scalar, variablesOf(w));
    value.dispose();
    (['core', 'u1', 'u2', 'u3'] as const).forEach((k) => expect(relDiff(grads[w[k].name]!, fixture(`gradb_${k}`)), k).toBeLessThan(2e-6));
    // A batch that does not split into the task groups is refused.
    expect(() => taLoraDelta(tf.zeros([4, 3, 3, 8]), w, ALL, [0, 1, 2], EVAL)).toThrow('a batch of 4 cannot split into 3 task groups');
  });

  it('puts the update only into the enabled thirds (q and v)', () => {
    const w = fixtureWeights('u2_qv');
    expect(relDiff(adaptedQkv(fixture('x'), w, { ...ALL, enabled: [true, false, true] }, [2]), fixture('y_qv_task2'))).toBeLessThan(2e-6);
  });

  it('gives the official orthogonal regulariser over two layers, value and gradients', () => {
    const layers = [0, 1].map((i) => ({
      core: tf.variable(fixture(`orth_core_${i}`)),
      u1: tf.variable(fixture(`orth_u1_${i}`)),
      u2: tf.variable(fixture(`orth_u2_${i}`)),
      u3: tf.variable(tf.randomNormal([3, 2])),
    }));
    const { value, grads } = tf.variableGrads(() => orthogonality(layers), layers.flatMap((l) => [l.core, l.u1, l.u2]));
    expect(Math.abs(value.dataSync()[0]! - fixture('orth').dataSync()[0]!) / fixture('orth').dataSync()[0]!).toBeLessThan(2e-6);
    layers.forEach((l, i) => (['core', 'u1', 'u2'] as const).forEach((k) => expect(relDiff(grads[l[k].name]!, fixture(`grad_orth_${k}_${i}`)), `${k} ${i}`).toBeLessThan(2e-6)));
    // U3 is not regularised.
    expect(Object.keys(grads)).not.toContain(layers[0]!.u3.name);
  });
});

describe('TA-LoRA layer, hand-derived cases', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('factored evaluation equals applying the materialised T × d_out × d_in tensor (built by the definition)', () => {
    const w: TuckerWeights = {
      core: tf.variable(tf.randomNormal([3, 5, 4], 0, 1, 'float32', 1)),
      u1: tf.variable(tf.randomNormal([6, 3], 0, 1, 'float32', 2)),
      u2: tf.variable(tf.randomNormal([18, 5], 0, 1, 'float32', 3)),
      u3: tf.variable(tf.randomNormal([2, 4], 0, 1, 'float32', 4)),
    };
    const dw = materialise(w);
    const x = tf.randomNormal([7, 6], 0, 1, 'float32', 5);
    for (const t of [0, 1]) expect(relDiff(taLoraDelta(x, w, { ...ALL, scaling: 0.3 }, [t], EVAL), tf.matMul(x, denseUpdate(dw, t, 0.3))), `task ${t}`).toBeLessThan(1e-5);
  });

  it('G = 0 makes the update exactly zero, and R_orth then holds √R2 per core slice', () => {
    // U1 = first columns of I (orthonormal), U2 likewise: their terms are 0, each of the R3 slices gives ‖−I_R2‖ = √R2.
    const w: TuckerWeights = {
      core: tf.variable(tf.zeros([3, 4, 2])),
      u1: tf.variable(tf.eye(8, 3)),
      u2: tf.variable(tf.eye(24, 4)),
      u3: tf.variable(tf.randomNormal([3, 2])),
    };
    expect(tf.max(tf.abs(taLoraDelta(tf.randomNormal([5, 8]), w, ALL, [2], EVAL))).dataSync()[0]).toBe(0);
    expect(orthogonality([w]).dataSync()[0]).toBeCloseTo((2 * Math.sqrt(4)) / (2 + 2), 6);
  });

  it('drops adapter inputs (0 or x / (1 − p)) in training only', () => {
    // U1 = I, M_t = I, U2 = [I; 0; 0]: the q third of Δy is s · dropout(x).
    const p = 0.3;
    const core = tf.buffer([4, 4, 2]);
    for (let i = 0; i < 4; i++) core.set(1, i, i, 0);
    const w: TuckerWeights = {
      core: tf.variable(core.toTensor()),
      u1: tf.variable(tf.eye(4)),
      u2: tf.variable(tf.eye(12, 4)),
      u3: tf.variable(tf.tensor2d([[1, 0]])),
    };
    const x = tf.add(tf.randomUniform([1000, 4], 0, 1, 'float32', 3), 1);
    const config = { ...ALL, dropout: p };
    const q = (training: boolean) => tf.slice(taLoraDelta(x, w, config, [0], { training, seed: 11 }), [0, 0], [1000, 4]).div(0.5).dataSync();
    const xs = x.dataSync();
    expect(maxAbsDiff(tf.tensor(q(false)), x.flatten())).toBeLessThan(1e-6);
    const dropped = q(true);
    let zeros = 0;
    dropped.forEach((v, i) => {
      if (v === 0) zeros++;
      else expect(Math.abs(v - xs[i]! / (1 - p))).toBeLessThan(1e-5);
    });
    expect(zeros / dropped.length).toBeGreaterThan(p - 0.04);
    expect(zeros / dropped.length).toBeLessThan(p + 0.04);
    expect(() => taLoraDelta(x, w, config, [0], { training: true })).toThrow('a training step with dropout needs a seed');
  });
});

describe('TA-LoRA injected into a tiny SAM', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('starts at the base model (G = 0) for every task, and changes it per task once G is trained', () => {
    const base = run(tinyModel());
    const m = tinyModel();
    injectAdapter(m, parseAdapterConfig({ method: 'ta-lora', tasks: 3 }));
    for (const t of [0, 1, 2]) expect(maxAbsDiff(run(m, t), base), `task ${t}`).toBe(0);
    perturb(m);
    const outs = [0, 1, 2].map((t) => run(m, t));
    expect(maxAbsDiff(outs[0]!, base)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(outs[0]!, outs[1]!)).toBeGreaterThan(1e-4);
  });

  it('equals the base model with each qkv weight plus the materialised task update', () => {
    const m = tinyModel();
    injectAdapter(m, parseAdapterConfig({ method: 'ta-lora', tasks: 3, tuckerRanks: [5, 6, 2], trainDecoder: false, trainEncoderNorms: false }));
    perturb(m, 0.3);
    const adapter = taLoraOf(m);
    for (const t of [0, 2]) {
      const merged = tinyModel();
      for (const [name, w] of adapter.layers) {
        const key = `${name}.weight`;
        const old = merged.params.get(key)!;
        merged.params.set(key, tf.add(old, denseUpdate(materialise(w), t, 0.5)));
        old.dispose();
      }
      expect(relDiff(run(m, t), run(merged)), `task ${t}`).toBeLessThan(1e-4);
    }
  });

  it('runs the encoder on a task-major batch of B = 2 images × 3 tasks like three per-task passes', () => {
    const m = tinyModel();
    injectAdapter(m, parseAdapterConfig({ method: 'ta-lora', tasks: 3 }));
    perturb(m, 0.2);
    const x = images(2, 8);
    const perTask = tf.concat(
      [0, 1, 2].map((t) => {
        setActiveTasks(m, [t]);
        return imageEncoder(x, m.params, m.config);
      }),
    );
    setActiveTasks(m, [0, 1, 2]);
    const batched = imageEncoder(tf.concat([x, x, x]) as tf.Tensor4D, m.params, m.config);
    expect(relDiff(batched, perTask)).toBeLessThan(1e-5);
    // Not trivially equal: the tasks' embeddings differ.
    expect(maxAbsDiff(tf.slice(perTask, [0], [2]), tf.slice(perTask, [2], [2]))).toBeGreaterThan(1e-4);
  });

  it('asks for the active task when it has several, and refuses bad tasks and configs', () => {
    const m = tinyModel();
    injectAdapter(m, parseAdapterConfig({ method: 'ta-lora', tasks: 3 }));
    expect(() => run(m)).toThrow("TA-LoRA on 'image_encoder.blocks.0.attn.qkv' has 3 tasks and none is active");
    expect(() => setActiveTasks(m, [3])).toThrow('task 3 is out of range, the adapter has 3 tasks (0..2)');
    expect(() => setActiveTasks(m, [])).toThrow('no task given');
    // One task needs no setting: it is task 0.
    const single = tinyModel();
    injectAdapter(single, parseAdapterConfig({ method: 'ta-lora' }));
    expect(taLoraOf(single).tasks).toEqual([0]);
    expect(() => injectAdapter(tinyModel(), parseAdapterConfig({ method: 'ta-lora', dropout: 0.1 }))).toThrow("ta-lora takes its adapter dropout from 'tuckerDropout'");
    expect(() => injectAdapter(tinyModel(), parseAdapterConfig({ method: 'ta-lora', enableQkv: [false, false, false] }))).toThrow('TA-LoRA needs at least one');
    expect(() => injectAdapter(tinyModel(), parseAdapterConfig({ method: 'ta-lora', enableQkv: [true, false, true], targetModules: 'attn\\.proj$' }))).toThrow(
      "picks thirds of a fused qkv output, but targetModules selects 'image_encoder.blocks.0.attn.proj'",
    );
    expect(() => orthogonalityLoss(tinyModel())).toThrow('needs exactly one ta-lora adapter in the model, found 0');
  });

  it('trains only the Tucker factors and the blocks’ LayerNorms (not the neck’s); frozen weights stay bit-identical; no tensor leaks over steps', () => {
    const m = tinyModel();
    injectAdapter(m, parseAdapterConfig({ method: 'ta-lora', tasks: 3, trainDecoder: false }));
    perturb(m);
    expect([...m.unfrozen.keys()].sort()).toEqual(
      [0, 1].flatMap((i) => ['norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias'].map((k) => `image_encoder.blocks.${i}.${k}`)).sort(),
    );
    const adapter = taLoraOf(m);
    expect([...adapter.weights.keys()]).toEqual([0, 1].flatMap((i) => ['td_core', 'td_u1', 'td_u2', 'td_u3'].map((k) => `image_encoder.blocks.${i}.attn.qkv.${k}`)));
    const frozen = new Map([...m.params].filter(([k]) => !m.unfrozen.has(k)).map(([k, v]) => [k, v.dataSync().slice()]));
    const vars = trainableVariables(m);
    const optimizer = tf.train.adam(1e-3);
    const step = (seed: number) => {
      // The released step: one pass per task, then λ · R_orth.
      adapter.beginStep!(true, seed);
      const { value, grads } = tf.variableGrads(() => {
        const losses = [0, 1, 2].map((t) => {
          setActiveTasks(m, [t]);
          return tf.mean(tf.square(samForward(images(1, seed), {}, m.params, m.config).masks));
        });
        return tf.add(tf.addN(losses), orthogonalityLoss(m)) as tf.Scalar;
      }, vars);
      optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      const names = new Set(Object.keys(grads));
      tf.dispose([value, ...Object.values(grads)]);
      return names;
    };
    const withGrad = step(0);
    for (const v of vars) expect(withGrad.has(v.name), `variable ${v.name} got no gradient`).toBe(true);
    const before = tf.memory().numTensors;
    for (const s of [1, 2]) step(s);
    expect(tf.memory().numTensors).toBe(before);
    for (const [k, values] of frozen) expect(m.params.get(k)!.dataSync(), k).toEqual(values);
    optimizer.dispose();
  });

  it('saves and restores its adapter checkpoint: same outputs for every task', async () => {
    const trained = tinyModel();
    const config = parseAdapterConfig({ method: 'ta-lora', tasks: 3, tuckerRanks: [4, 4, 2] });
    injectAdapter(trained, config);
    perturb(trained);
    const path = join(mkdtempSync(join(tmpdir(), 'ta-lora-')), 'adapter');
    const manifest = saveAdapterCheckpoint(trained, config, path);
    expect(manifest.method).toBe('ta-lora');
    expect(manifest.adapter).toMatchObject({ tasks: 3, tuckerRanks: [4, 4, 2], tuckerScaling: 0.5, tuckerDropout: 0.1 });
    expect(manifest.tensors).toContain('adapter.image_encoder.blocks.1.attn.qkv.td_u3');
    expect(manifest.tensors).toContain('base.image_encoder.blocks.0.norm2.bias');
    const restored = tinyModel();
    await loadAdapterCheckpoint(restored, path);
    expect(taLoraOf(restored).layers.get('image_encoder.blocks.0.attn.qkv')!.u3.shape).toEqual([3, 2]);
    for (const t of [0, 1, 2]) expect(maxAbsDiff(run(restored, t), run(trained, t)), `task ${t}`).toBe(0);
  });
});
