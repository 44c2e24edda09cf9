/**
 * Forward + backward time of one adapted qkv layer: no adapter, LoRA and Conv-LoRA, at vit_b
 * scale (64×64 tokens, C = 768; a windowed block's 25 windows of 14×14 and a global block's whole
 * grid) and at a small config, with the share the bicubic resizes take inside Conv-LoRA. Then a
 * whole encoder training step per method as injected (bench/adapter-step.ts): step time and
 * peak tensor memory on the small config and on one vit_b block at 1024² (512² on wasm, whose
 * heap it outgrows), SAM-Adapter's FFT high-pass of the full image included. LST runs the frozen
 * blocks off the gradient tape, so its peak lacks the activations backward would need: the point
 * of the method, beside LoRA's.
 *
 *   npm run bench:adapters            # wasm
 *   npm run bench:adapters -- cpu
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { parseConvLoraConfig } from '../src/nodes/adapters/conv-lora/config.ts';
import { resizeBicubic } from '../src/nodes/adapters/conv-lora/bicubic.ts';
import { convLoraDelta, createConvLoraWeights } from '../src/nodes/adapters/conv-lora/layer.ts';
import { createLoraWeights, loraDelta } from '../src/nodes/adapters/lora/layer.ts';
import { SAM_PRESETS } from '../src/nodes/sam/config.ts';
import { SMALL_SAM } from '../pipelines/conv-lora-binary.ts';
import { encoderStep } from './adapter-step.ts';
import { selectBackend, type BackendChoice } from '../workers/backend.ts';
import { timeIt } from './timing.ts';



interface Case {
  readonly name: string;
  readonly shape: [number, number, number, number];
  readonly runs: number;
}

const backend = (process.argv[2] ?? 'wasm') as BackendChoice;
const report = await selectBackend(backend);
console.log('samflow adapter benchmark: one qkv layer, forward + backward (gradients w.r.t. the input and the adapter)');
console.log(`  node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores; backend ${report.selected}\n`);

const cases: Case[] = [
  { name: 'small (16 windows of 4x4, C=96)', shape: [16, 4, 4, 96], runs: 5 },
  { name: 'vit_b windowed (25 windows of 14x14, C=768)', shape: [25, 14, 14, 768], runs: 3 },
  { name: 'vit_b global (64x64 grid, C=768)', shape: [1, 64, 64, 768], runs: 2 },
];
const config = parseConvLoraConfig({});

for (const c of cases) {
  const [n, h, w, dim] = c.shape;
  const x = tf.randomNormal(c.shape, 0, 1, 'float32', 1) as tf.Tensor4D;
  const weight = tf.randomNormal([dim, 3 * dim], 0, 0.02, 'float32', 2);
  const bias = tf.zeros([3 * dim]);
  const r = tf.randomNormal([n, h, w, 3 * dim], 0, 1, 'float32', 3);
  const base = (input: tf.Tensor) => tf.add(tf.matMul(input.reshape([-1, dim]), weight), bias).reshape([n, h, w, 3 * dim]);
  const lora = createLoraWeights(dim, 3 * dim, 3, 4);
  lora.b.assign(tf.randomNormal(lora.b.shape, 0, 0.02, 'float32', 5));
  const conv = createConvLoraWeights(dim, 3 * dim, config, 6);
  conv.b.assign(tf.randomNormal(conv.b.shape, 0, 0.02, 'float32', 7));
  let seed = 0;
  // The input is a variable too, so one backward pass gives its gradient and the adapter's.
  const xVar = tf.variable(x, true);
  const step = (delta?: (input: tf.Tensor) => { y: tf.Tensor; aux?: tf.Scalar }, vars: tf.Variable[] = []) =>
    tf.tidy(() => {
      const f = () => {
        const d = delta?.(xVar);
        const y = d ? tf.add(base(xVar), d.y) : base(xVar);
        return (d?.aux ? tf.add(tf.sum(tf.mul(y, r)), d.aux) : tf.sum(tf.mul(y, r))) as tf.Scalar;
      };
      Object.values(tf.variableGrads(f, [xVar, ...vars]).grads).forEach((g) => g.dataSync());
    });
  const plain = timeIt(c.runs, () => step());
  const loraMs = timeIt(c.runs, () => step((input) => ({ y: loraDelta(input, lora, 32 / 3, 0, true, 0) }), [lora.a, lora.b]));
  let usage: Int32Array = new Int32Array(config.experts);
  const convMs = timeIt(c.runs, () =>
    step((input) => {
      const out = convLoraDelta(input as tf.Tensor4D, conv, config, { training: true, seed: seed++ });
      usage = out.usage;
      return { y: out.delta, aux: out.balanceLoss };
    }, [conv.a, conv.b, conv.wGate, conv.wNoise, ...conv.expertFilters, ...conv.expertBiases]),
  );
  // The bicubic resizes alone, for the same routing: up by each chosen expert's factor and back, with gradients.
  const z = tf.randomNormal([1, h, w, config.rank], 0, 1, 'float32', 8) as tf.Tensor4D;
  const bicubicMs = timeIt(c.runs, () =>
    tf.tidy(() => {
      usage.forEach((count, i) => {
        if (!count || i === 0) return;
        const f = i + 1;
        const zi = tf.tile(z, [count, 1, 1, 1]) as tf.Tensor4D;
        tf.grad((t: tf.Tensor) => tf.sum(resizeBicubic(resizeBicubic(t as tf.Tensor4D, [h * f, w * f]), [h, w])))(zi).dataSync();
      });
    }),
  );
  console.log(c.name);
  console.log(`  no adapter   ${plain.toFixed(1)} ms`);
  console.log(`  LoRA         ${loraMs.toFixed(1)} ms  (${(loraMs / plain).toFixed(2)}x no adapter)`);
  console.log(`  Conv-LoRA    ${convMs.toFixed(1)} ms  (${(convMs / loraMs).toFixed(2)}x LoRA; goal <= 1.5x at vit_b scale)`);
  console.log(`  bicubic      ${bicubicMs.toFixed(1)} ms of it (${((100 * bicubicMs) / convMs).toFixed(0)} %); routing of the last step: [${[...usage].join(', ')}]\n`);
  tf.dispose([x, xVar, weight, bias, r, z, lora.a, lora.b, conv.a, conv.b, conv.wGate, conv.wNoise, ...conv.expertFilters, ...conv.expertBiases]);
}

console.log('Encoder training step per method (injected as the pipelines do, decoder frozen): median ms, peak tensor memory above the model');
const vitbSide = report.active === 'wasm' ? 512 : 1024;
const encoders = [
  { name: `small (SMALL_SAM: ${SMALL_SAM.image_size}² image, ${SMALL_SAM.encoder_depth} blocks, C=${SMALL_SAM.encoder_embed_dim})`, config: SMALL_SAM, runs: 5 },
  // At 1024² a vit_b block's training step needs ~6 GB of tensors (4 × the 1.5 GB measured at 512²), past wasm's 4 GB heap (it aborts): there, 512².
  { name: `vit_b, one windowed block (${vitbSide}² image, C=768)`, config: { ...SAM_PRESETS.vit_b, image_size: vitbSide, encoder_depth: 1, encoder_global_attn_indexes: [] }, runs: 2 },
];
for (const e of encoders) {
  console.log(e.name);
  for (const method of ['none', 'lora', 'conv-lora', 'sam-adapter', 'lst'] as const) {
    const f = await encoderStep(e.config, method, e.runs);
    const label = method === 'none' ? 'no adapter (input gradient)' : `${method} (${f.trainable.toLocaleString('en-US')} params)`;
    console.log(`  ${label.padEnd(30)} ${f.ms.toFixed(1).padStart(8)} ms  ${f.peakMiB.toFixed(1).padStart(7)} MiB peak`);
  }
  console.log('');
}
