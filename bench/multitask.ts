/**
 * `npm run bench:multitask`: TA-LoRA (T = 3) against its baselines LoRA-STL (one LoRA per task)
 * and LoRA-HPS (one shared LoRA), as ta-lora-multitask builds them (adapterParams):
 *
 * 1. a whole mSAM training step (encoder per task, 3 task decoders, the three losses + R_orth,
 *    gradients of every trainable variable) on the small built-in config, batch 2;
 * 2. a one-block vit_b encoder at 1024² (one windowed block, 64×64 tokens), forward + backward
 *    of the adapter's variables, the encoder run as mSAM runs it (T passes for TA-LoRA and STL, one for HPS);
 * 3. trainable parameters of each for vit_b with NYUv2's tasks (encoder adaptation + norms, and
 *    mSAM's heads: 3 decoder copies and 17 no-mask rows).
 *
 * Prints figures, asserts nothing. BENCH_BACKEND picks the backend (default: the best there is);
 * BENCH_RUNS the timed steps per row (default 3, median).
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { parseAdapterConfig } from '../src/nodes/adapters/config.ts';
import { injectAdapter } from '../src/nodes/adapters/inject.ts';
import { orthogonalityLoss } from '../src/nodes/adapters/ta-lora/inject.ts';
import { crossEntropy } from '../src/nodes/losses/cross-entropy.ts';
import { depthL1 } from '../src/nodes/losses/depth-l1.ts';
import { normalCosine } from '../src/nodes/losses/normal-cosine.ts';
import { weightedSum } from '../src/nodes/losses/weighted-sum.ts';
import { SAM_PRESETS, type SamConfig } from '../src/nodes/sam/config.ts';
import { imageEncoder } from '../src/nodes/sam/image-encoder.ts';
import { createSamModel, disposeModel, setActiveTasks, trainableVariables, type SamModel } from '../src/nodes/sam/model.ts';
import { createMsamHeads, disposeMsamHeads, isIdleDecoderKey } from '../src/nodes/sam/msam/decoders.ts';
import { msamForward } from '../src/nodes/sam/msam/forward.ts';
import { NYUV2_TASKS, parseTasks } from '../src/nodes/sam/msam/tasks.ts';
import { officialShapes, randomSamParams } from '../src/nodes/sam/params.ts';
import { parameterReport } from '../src/nodes/adapters/report.ts';
import { adapterParams, MULTITASK_METHODS, SYNTHETIC_TASKS, type MultitaskMethod } from '../pipelines/ta-lora-multitask.ts';
import { SMALL_SAM } from '../pipelines/conv-lora-binary.ts';
import { selectBackend, type BackendChoice } from '../workers/backend.ts';
import { timeIt } from './timing.ts';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const recipe = (method: MultitaskMethod, paper: boolean) => ({ method, ...(paper ? { recipe: 'paper' as const } : {}) });

function adapted(config: SamConfig, method: MultitaskMethod, paper: boolean): SamModel {
  const model = createSamModel(config, randomSamParams(config, 1), 'random:1');
  const { initFrom: _none, ...params } = adapterParams(recipe(method, paper), 3);
  injectAdapter(model, parseAdapterConfig({ ...params, tuckerDropout: 0 }));
  return model;
}


/** A whole mSAM step on the small config. */
function msamStep(method: MultitaskMethod): number {
  const config = SMALL_SAM;
  const model = adapted(config, method, false);
  const tasks = parseTasks(SYNTHETIC_TASKS, 'bench');
  const heads = createMsamHeads(model, tasks);
  const s = config.image_size;
  const images = tf.randomUniform([2, s, s, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const labels = tf.randomUniform([2, s, s, 1], 0, 4, 'int32', 2) as tf.Tensor4D;
  const depth = tf.randomUniform([2, s, s, 1], 0.5, 5, 'float32', 3) as tf.Tensor4D;
  const normals = tf.tidy(() => {
    const n = tf.randomNormal([2, s, s, 3], 0, 1, 'float32', 4);
    return tf.div(n, tf.norm(n, 2, -1, true)) as tf.Tensor4D;
  });
  const vars = [...trainableVariables(model), ...heads.variables.values()];
  const ms = timeIt(runs, () =>
    tf.tidy(() => {
      for (const a of model.adapters) a.beginStep?.(true, 0);
      const { grads } = tf.variableGrads(() => {
        const [seg, d, n] = msamForward(model, heads, images, { normalize: false, batched: false }) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const losses = [crossEntropy(seg, labels), depthL1(d, depth), normalCosine(n, normals)];
        return weightedSum({ losses, weights: [1, 1, 4], normalize: true, ...(method === 'ta-lora' ? { orth: orthogonalityLoss(model), orthWeight: 1 } : {}) });
      }, vars);
      Object.values(grads).forEach((g) => g.dataSync());
    }),
  );
  disposeMsamHeads(heads);
  disposeModel(model);
  tf.dispose([images, labels, depth, normals]);
  return ms;
}

/** One vit_b block at 1024²: the encoder as mSAM runs it per method, gradients of the adapter's variables. */
function blockStep(method: MultitaskMethod): number {
  const config: SamConfig = { ...SAM_PRESETS.vit_b, encoder_depth: 1, encoder_global_attn_indexes: [] };
  const model = adapted(config, method, true);
  const images = tf.randomUniform([1, 1024, 1024, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const vars = trainableVariables(model);
  const passes = method === 'lora-hps' ? [undefined] : [0, 1, 2];
  const ms = timeIt(runs, () =>
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => {
        const sums = passes.map((t) => {
          if (t !== undefined) setActiveTasks(model, [t]);
          return tf.mean(imageEncoder(images, model.params, config));
        });
        return tf.addN(sums) as tf.Scalar;
      }, vars);
      Object.values(grads).forEach((g) => g.dataSync());
    }),
  );
  disposeModel(model);
  images.dispose();
  return ms;
}

/** Trainable parameters for vit_b with NYUv2's tasks: the encoder adaptation (+ norms) and mSAM's heads. */
function vitBParameters(method: MultitaskMethod): { encoder: number; heads: number } {
  const c = SAM_PRESETS.vit_b;
  const { initFrom: _none, ...params } = adapterParams(recipe(method, true), 3);
  const encoder = parameterReport(c, parseAdapterConfig(params)).trainable;
  const shapes = officialShapes(c);
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const decoder = [...shapes].filter(([k]) => k.startsWith('mask_decoder.') && !isIdleDecoderKey(k)).reduce((n, [, s]) => n + size(s), 0);
  const rows = parseTasks(NYUV2_TASKS, 'bench').reduce((n, t) => n + t.channels, 0);
  return { encoder, heads: 3 * decoder + rows * c.prompt_embed_dim };
}

const report = await selectBackend(process.env.BENCH_BACKEND ? (process.env.BENCH_BACKEND as BackendChoice) : undefined);
console.log('samflow multi-task benchmark: TA-LoRA (T = 3) vs LoRA-STL vs LoRA-HPS');
console.log(`  node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores; backend ${report.selected}; median of ${runs} steps\n`);
const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`${'method'.padEnd(10)} ${pad('small mSAM step (ms)', 21)} ${pad('vit_b block step (ms)', 22)} ${pad('vit_b encoder trainable', 24)} ${pad('+ mSAM heads', 13)} ${pad('total', 12)}`);
for (const method of MULTITASK_METHODS) {
  const small = msamStep(method);
  const block = process.env.BENCH_SKIP_VITB ? NaN : blockStep(method);
  const p = vitBParameters(method);
  console.log(`${method.padEnd(10)} ${pad(small.toFixed(0), 21)} ${pad(block.toFixed(0), 22)} ${pad(p.encoder.toLocaleString('en-US'), 24)} ${pad(p.heads.toLocaleString('en-US'), 13)} ${pad((p.encoder + p.heads).toLocaleString('en-US'), 12)}`);
}
console.log('\nsmall: SMALL_SAM (64², 4 blocks), batch 2, synthetic tasks (seg 4, depth, normals); vit_b block: one windowed block at 1024², 3 encoder passes (TA-LoRA, STL) or 1 (HPS).');
console.log('vit_b encoder: paper ranks (Tucker 32/32/4; LoRA r = 32) on every qkv; TA-LoRA also trains the 12 blocks\' LayerNorms. Heads: 3 decoder copies (mask token 0 path) + 17 no-mask rows.');
