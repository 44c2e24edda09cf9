/**
 * One bench:train case in its own process (so its peak RSS is its own): a conv-lora-binary
 * training step on random weights, the way the pipeline's worker runs it — SAM with the method on
 * every qkv, the promptless one-token decoder (sam/semantic), the structure loss plus the balance
 * loss, the gradients of what trains and an AdamW update (lr 1e-4, weight decay 1e-4). Prints one
 * JSON line like bench/reference/train_step.py's: seconds per timed step (after one warm-up), RSS
 * after each step, peak RSS, and live tensors after each step.
 *
 *   node [--expose-gc] --import tsx bench/train-step.ts small|vit_b SIZE BATCH METHOD STEPS
 */
import * as tf from '@tensorflow/tfjs';
import { SMALL_SAM } from '../pipelines/conv-lora-binary.ts';
import { parseAdapterConfig, type AdapterMethodName } from '../src/nodes/adapters/config.ts';
import { injectAdapter } from '../src/nodes/adapters/inject.ts';
import { structureLoss } from '../src/nodes/losses/structure-loss.ts';
import { SAM_PRESETS } from '../src/nodes/sam/config.ts';
import { createSamModel, trainableVariables } from '../src/nodes/sam/model.ts';
import { randomSamParams } from '../src/nodes/sam/params.ts';
import { SamSemantic } from '../src/nodes/sam/semantic-node.ts';
import { AdamW } from '../src/nodes/train/adamw.ts';
import { selectBackend } from '../workers/backend.ts';

const [config, sizeArg, batchArg, method, stepsArg] = process.argv.slice(2) as [string, string, string, AdapterMethodName, string];
const [size, batch, steps] = [Number(sizeArg), Number(batchArg), Number(stepsArg)];
await selectBackend();
const arch = { ...(config === 'small' ? SMALL_SAM : SAM_PRESETS.vit_b), image_size: size };
const model = createSamModel(arch, randomSamParams(arch, 1), 'random:1');
injectAdapter(model, parseAdapterConfig({ method }));
const segment = await SamSemantic.worker.create(SamSemantic.params.parse({}), { node: 'segment', kind: SamSemantic.kind, seed: 1, emit: () => undefined });
const images = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
const masks = tf.cast(tf.greater(tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 3), 0.7), 'float32') as tf.Tensor4D;
const variables = new Map(trainableVariables(model).map((v) => [v.name, v]));
const optimizer = new AdamW({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-4, clipNorm: 0 });

const step = (index: number) =>
  tf.tidy(() => {
    const meta = { index, split: 'train', epoch: 0, groupEnd: false };
    const { grads } = tf.variableGrads(() => {
      const out = segment.forward({ model, images }, { meta, training: true, emit: () => undefined } as never);
      return tf.add(structureLoss(out.logits, masks), out.aux) as tf.Scalar;
    }, [...variables.values()]);
    optimizer.apply(variables, new Map(Object.entries(grads)), 1e-4);
  });

step(0);
const seconds: number[] = [];
const rss: number[] = [];
const tensors: number[] = [];
for (let i = 1; i <= steps; i++) {
  const start = performance.now();
  step(i);
  seconds.push((performance.now() - start) / 1000);
  // Under --expose-gc (the memory test), RSS after a full collection: what is kept, not garbage not yet collected.
  (globalThis as { gc?: () => void }).gc?.();
  rss.push(process.memoryUsage().rss);
  tensors.push(tf.memory().numTensors);
}
console.log(JSON.stringify({ steps: seconds, rss, peak_rss: process.resourceUsage().maxRSS * 1024, tensors }));
