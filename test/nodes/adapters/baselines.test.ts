import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { parseAdapterConfig } from '../../../src/nodes/adapters/config.ts';
import { injectAdapter } from '../../../src/nodes/adapters/inject.ts';
import { parameterReport } from '../../../src/nodes/adapters/report.ts';
import { SAM_PRESETS } from '../../../src/nodes/sam/config.ts';
import { createSamModel, trainableVariables, type SamModel } from '../../../src/nodes/sam/model.ts';
import { randomSamParams } from '../../../src/nodes/sam/params.ts';
import { samForward } from '../../../src/nodes/sam/sam.ts';
import { maxAbsDiff, tinyConfig, useBackend } from '../sam/fixtures.ts';

function tinyModel(seed = 1): SamModel {
  return createSamModel(tinyConfig(), randomSamParams(tinyConfig(), seed), `random:${seed}`);
}
const image = () => tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
const prompts = () => ({ points: { coords: tf.tensor3d([[[20, 30]]]), labels: tf.tensor2d([[1]]) } });
const run = (m: SamModel) => tf.tidy(() => {
  const out = samForward(image(), prompts(), m.params, m.config);
  return tf.concat([out.masks.flatten(), out.iou.flatten(), out.imageEmbeddings.flatten()]);
});
/** Gives every adapter weight a random value, so a zero-initialised update is not trivially zero. */
function perturb(m: SamModel): void {
  let s = 100;
  for (const a of m.adapters) for (const w of a.weights.values()) w.assign(tf.add(w, tf.randomNormal(w.shape, 0, 0.05, 'float32', s++)));
}

describe('PEFT baselines on a tiny SAM', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it.each(['lora', 'conv-lora', 'adapter', 'ssf'] as const)('%s starts as the identity: the adapted model equals the base one', (method) => {
    const base = run(tinyModel());
    const m = tinyModel();
    injectAdapter(m, parseAdapterConfig({ method }));
    expect(maxAbsDiff(run(m), base)).toBeLessThan(1e-6);
  });

  it.each(['lora', 'ssf'] as const)('%s merges into the base weights with the same outputs, and unmerges back', (method) => {
    const m = tinyModel();
    const originals = new Map([...m.params].map(([k, v]) => [k, v.clone()]));
    injectAdapter(m, parseAdapterConfig({ method, trainDecoder: false }));
    perturb(m);
    const adapted = run(m);
    expect(maxAbsDiff(adapted, run(tinyModel()))).toBeGreaterThan(1e-3);
    m.adapters[0]!.merge!();
    expect(maxAbsDiff(run(m), adapted)).toBeLessThan(1e-4);
    m.adapters[0]!.unmerge!();
    expect(maxAbsDiff(run(m), adapted)).toBeLessThan(1e-4);
    for (const [k, v] of originals) expect(maxAbsDiff(m.params.get(k)!, v), k).toBeLessThan(1e-5);
  });

  it('Conv-LoRA trains A, B, the gate and the routed experts, and reports a balance loss and expert usage', () => {
    const m = tinyModel();
    injectAdapter(m, parseAdapterConfig({ method: 'conv-lora', trainDecoder: false }));
    perturb(m);
    const adapter = m.adapters[0]!;
    const frozen = new Map([...m.params].map(([k, v]) => [k, v.dataSync().slice()]));
    adapter.beginStep!(true, 7);
    const { value, grads } = tf.variableGrads(() => {
      const seg = tf.sum(tf.square(samForward(image(), prompts(), m.params, m.config).masks));
      return tf.add(seg, adapter.endStep!().auxLoss!) as tf.Scalar;
    }, trainableVariables(m));
    const names = new Map([...adapter.weights].map(([k, v]) => [v.name, k]));
    const trained = Object.keys(grads).map((n) => names.get(n)!);
    for (const block of [0, 1]) {
      for (const part of ['lora_A', 'lora_B', 'w_gate', 'w_noise']) expect(trained).toContain(`image_encoder.blocks.${block}.attn.qkv.${part}`);
      expect(trained.some((k) => k.startsWith(`image_encoder.blocks.${block}.attn.qkv.experts.`))).toBe(true);
    }
    const { usage } = adapter.endStep!();
    // block 0 is windowed (3x3 windows over the padded 9x9 grid: 9 windows), block 1 global (1 image)
    expect([...usage!.get('image_encoder.blocks.0.attn.qkv')!].reduce((a, b) => a + b, 0)).toBe(9);
    expect([...usage!.get('image_encoder.blocks.1.attn.qkv')!].reduce((a, b) => a + b, 0)).toBe(1);
    tf.train.sgd(0.1).applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    value.dispose();
    for (const [k, before] of frozen) expect(m.params.get(k)!.dataSync(), k).toEqual(before);
  });

  it('VPT prompts act as extra keys and values of every window (checked against explicit attention)', async () => {
    const { encoderAttention } = await import('../../../src/nodes/sam/image-encoder.ts');
    const { relativePositionBias, relativePositionTerms } = await import('../../../src/nodes/sam/relative-position.ts');
    const heads = 2;
    const [n, h, w, c, p] = [3, 4, 4, 8, 5];
    const params = new Map<string, tf.Tensor>([
      ['a.qkv.weight', tf.randomNormal([c, 3 * c], 0, 0.3, 'float32', 1)],
      ['a.qkv.bias', tf.randomNormal([3 * c], 0, 0.1, 'float32', 2)],
      ['a.proj.weight', tf.randomNormal([c, c], 0, 0.3, 'float32', 3)],
      ['a.proj.bias', tf.randomNormal([c], 0, 0.1, 'float32', 4)],
      ['a.rel_pos_h', tf.randomNormal([7, c / heads], 0, 0.3, 'float32', 5)],
      ['a.rel_pos_w', tf.randomNormal([7, c / heads], 0, 0.3, 'float32', 6)],
    ]) as Parameters<typeof encoderAttention>[1];
    const prompts = tf.randomNormal([p, c], 0, 1, 'float32', 7);
    Object.assign(params, { hooks: { linear: [], norm: [], attentionPrompts: [(name: string) => (name === 'a' ? prompts : undefined)] } });
    const x = tf.randomNormal([n, h, w, c], 0, 1, 'float32', 8) as tf.Tensor4D;
    const got = encoderAttention(x, params, 'a', heads);
    // Explicit: per window and head, softmax over [prompt keys, grid keys] with the rel-pos bias on the grid part only.
    const W = params.get('a.qkv.weight')!;
    const B = params.get('a.qkv.bias')!;
    const hd = c / heads;
    const project = (t: tf.Tensor) => tf.add(tf.matMul(t, W), B);
    const xs = project(x.reshape([n * h * w, c])).reshape([n, h * w, 3, heads, hd]);
    const ps = project(prompts).reshape([p, 3, heads, hd]);
    const outs: tf.Tensor[] = [];
    for (let i = 0; i < n; i++) {
      const perHead: tf.Tensor[] = [];
      for (let j = 0; j < heads; j++) {
        const part = (t: tf.Tensor, which: number, rows: number) => t.slice([0, which, j, 0], [rows, 1, 1, hd]).reshape([rows, hd]);
        const xi = xs.slice([i, 0, 0, 0, 0], [1, h * w, 3, heads, hd]).reshape([h * w, 3, heads, hd]);
        const q = part(xi, 0, h * w);
        const k = tf.concat([part(ps, 1, p), part(xi, 1, h * w)], 0);
        const v = tf.concat([part(ps, 2, p), part(xi, 2, h * w)], 0);
        const { relH, relW } = relativePositionTerms(q.expandDims(0) as tf.Tensor3D, [h, w], [h, w], params.get('a.rel_pos_h')!, params.get('a.rel_pos_w')!);
        const rel = relativePositionBias(relH, relW).reshape([h * w, h * w]);
        const logits = tf.add(tf.matMul(q, k.transpose()).div(Math.sqrt(hd)), tf.concat([tf.zeros([h * w, p]), rel], 1));
        perHead.push(tf.matMul(tf.softmax(logits), v));
      }
      outs.push(tf.concat(perHead, 1));
    }
    const expected = tf.add(tf.matMul(tf.concat(outs, 0), params.get('a.proj.weight')!), params.get('a.proj.bias')!).reshape([n, h, w, c]);
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5);
  });

  it('LoRA only touches the selected layers', () => {
    const m = tinyModel();
    const report = injectAdapter(m, parseAdapterConfig({ method: 'lora', layers: [1], trainDecoder: false }));
    expect([...m.adapters[0]!.weights.keys()]).toEqual(['image_encoder.blocks.1.attn.qkv.lora_A', 'image_encoder.blocks.1.attn.qkv.lora_B']);
    expect(report.trainable).toBe(3 * (32 + 96));
    expect(() => injectAdapter(tinyModel(), parseAdapterConfig({ method: 'lora', targetModules: 'nothing' }))).toThrow(/matches no linear module/);
    expect(() => injectAdapter(tinyModel(), parseAdapterConfig({ method: 'lora', layers: [5] }))).toThrow('layers has 5, but the encoder has 2 blocks (0..1)');
  });

  it.each(['lora', 'adapter', 'ssf', 'vpt', 'sam-adapter', 'lst', 'bitfit', 'decoder-only'] as const)('%s: only the intended variables get gradients, frozen weights stay bit-identical', (method) => {
    const m = tinyModel();
    injectAdapter(m, parseAdapterConfig({ method }));
    perturb(m);
    const frozen = new Map([...m.params].filter(([k]) => !m.unfrozen.has(k)).map(([k, v]) => [k, v.dataSync().slice()]));
    const vars = trainableVariables(m);
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.sum(tf.square(samForward(image(), prompts(), m.params, m.config).masks)) as tf.Scalar), vars);
    const optimizer = tf.train.adam(0.1);
    optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    value.dispose();
    for (const [k, before] of frozen) expect(m.params.get(k)!.dataSync(), k).toEqual(before);
    const withGrad = new Set(Object.keys(grads));
    expect(withGrad.size).toBeGreaterThan(0);
    for (const v of vars) expect(withGrad.has(v.name), `${method}: variable ${v.name} got no gradient`).toBe(method !== 'decoder-only' || !v.name.includes('iou'));
    if (method === 'bitfit') expect([...m.unfrozen.keys()].filter((k) => k.startsWith('image_encoder.')).every((k) => k.endsWith('.bias'))).toBe(true);
    if (method === 'decoder-only') expect([...m.unfrozen.keys()].every((k) => k.startsWith('mask_decoder.') && !k.startsWith('mask_decoder.iou_prediction_head'))).toBe(true);
  });

  it('reports trainable parameters for vit_b like the spec counts them', () => {
    const lora = parameterReport(SAM_PRESETS.vit_b, parseAdapterConfig({ method: 'lora', trainDecoder: false }));
    expect(lora.trainable).toBe(12 * 3 * (768 + 3 * 768)); // 110,592
    const conv = parameterReport(SAM_PRESETS.vit_b, parseAdapterConfig({ method: 'conv-lora', trainDecoder: false }));
    expect(conv.trainable).toBe(119_232); // spec §1.2: 9,936 per layer × 12
    // With SAM's whole decoder (4 mask tokens) full fine-tuning trains everything.
    const full = parameterReport(SAM_PRESETS.vit_b, parseAdapterConfig({ method: 'full', maskTokens: 4 }));
    expect(full.percent).toBe(100);
    // by hand: encoder 89,670,912 + prompt encoder 6,476 + decoder 4,058,340
    expect(full.total).toBe(93_735_728);
    // The 1-token decoder never runs mask tokens 1..3 nor their MLPs (3 x 139,808 + 3 x 256), so they never train.
    const fullOneToken = parameterReport(SAM_PRESETS.vit_b, parseAdapterConfig({ method: 'full' }));
    expect(fullOneToken.total).toBe(93_735_728);
    expect(fullOneToken.trainable).toBe(93_735_728 - 3 * 139_808 - 3 * 256);
  });
});
