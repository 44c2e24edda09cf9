/**
 * The multi-class set loss at the paper's sizes against a small-config training step, in one
 * invocation: Q = 100 mask tokens, 20 classes, 256² low-resolution masks at batch 4 against
 * 1024² labels, loss + backward (mask and class gradients), with HF's 12,544 sampled points and,
 * for contrast, every pixel of 256² labels. The reference is one training step of
 * conv-lora-binary's small config (SMALL_SAM, 64 px, batch 4: Conv-LoRA forward, structure +
 * balance loss, gradients of every trainable variable). Medians of 9 steps and 15 set losses
 * after a warm-up (the first set losses after the step run slower while the heap and the output
 * pool settle; a training run is in the steady state).
 *
 *   npm run bench:set-loss            # the worker's default backend (native, then wasm, cpu)
 *   npm run bench:set-loss -- cpu
 */
import * as tf from '@tensorflow/tfjs';
import { SMALL_SAM } from '../pipelines/conv-lora-binary.ts';
import { parseAdapterConfig } from '../src/nodes/adapters/config.ts';
import { injectAdapter } from '../src/nodes/adapters/inject.ts';
import { setLoss } from '../src/nodes/losses/set-loss.ts';
import { structureLoss } from '../src/nodes/losses/structure-loss.ts';
import { createSamModel, trainableVariables } from '../src/nodes/sam/model.ts';
import { randomSamParams } from '../src/nodes/sam/params.ts';
import { SamSemantic } from '../src/nodes/sam/semantic-node.ts';
import { parseBackendChoice, selectBackend } from '../workers/backend.ts';
import { timeIt } from './timing.ts';



const report = await selectBackend(parseBackendChoice(process.argv[2], 'bench:set-loss backend'));
console.log(`backend ${report.active}`);

// The reference: a small-config Conv-LoRA training step.
const model = createSamModel(SMALL_SAM, randomSamParams(SMALL_SAM, 1), 'random:1');
injectAdapter(model, parseAdapterConfig({ method: 'conv-lora' }));
const segment = await SamSemantic.worker.create(SamSemantic.params.parse({}), { node: 'segment', kind: SamSemantic.kind, seed: 1, emit: () => undefined });
const images = tf.randomUniform([4, 64, 64, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
const truth = tf.cast(tf.greater(tf.randomUniform([4, 64, 64, 1], 0, 1, 'float32', 3), 0.7), 'float32') as tf.Tensor4D;
const variables = trainableVariables(model);
const small = timeIt(9, (run) =>
  tf.tidy(() => {
    const step = { meta: { index: run + 1, split: 'train', epoch: 0, groupEnd: false }, training: true, emit: () => undefined };
    const { grads } = tf.variableGrads(() => {
      const out = segment.forward({ model, images }, step);
      return tf.add(structureLoss(out.logits, truth), out.aux) as tf.Scalar;
    }, variables);
    Object.values(grads).forEach((g) => g.dataSync());
  }),
);

// Q = 100, 20 classes, 256² masks, batch 4; labels of blocks of classes at 1024².
function labelsAt(size: number): tf.Tensor4D {
  const ids = new Int32Array(4 * size * size);
  for (let i = 0; i < ids.length; i++) {
    const x = i % size;
    const y = Math.floor(i / size) % size;
    const b = Math.floor(i / (size * size));
    ids[i] = (Math.floor((x * 8) / size) + 3 * Math.floor((y * 5) / size) + b) % 20;
  }
  return tf.tensor4d(ids, [4, size, size, 1], 'int32');
}
const masks = tf.randomNormal([4, 100, 256, 256], 0, 3, 'float32', 4) as tf.Tensor4D;
const classes = tf.randomNormal([4, 100, 21], 0, 1, 'float32', 5) as tf.Tensor3D;
const lossAndBackward = (labels: tf.Tensor4D, points: number) => (run: number) => {
  const [maskGrad, classGrad] = tf.grads((m: tf.Tensor, c: tf.Tensor) => setLoss(m as tf.Tensor4D, c as tf.Tensor3D, labels, { points, seed: run + 1 }))([masks, classes]);
  // The mask gradient is not read out: in a step it goes on to the decoder's backward, and the
  // native backend never recycles an array read out. (These backends compute synchronously: it
  // is complete when tf.grads returns.)
  classGrad!.dataSync();
  tf.dispose([maskGrad!, classGrad!]);
};
const full = labelsAt(1024);
const low = labelsAt(256);
const sampled = timeIt(15, lossAndBackward(full, 12544));
const everyPixel = timeIt(2, lossAndBackward(low, 0));

const rows = [
  ['small-config training step (64 px, batch 4, Conv-LoRA)', small],
  ['set loss + backward, 12,544 points, labels 1024² (the default)', sampled],
  ['set loss + backward, every pixel of 256² labels', everyPixel],
] as const;
console.log('Q = 100 tokens, 20 classes, 256² mask logits, batch 4\n');
for (const [name, ms] of rows) console.log(`${name.padEnd(66)} ${ms.toFixed(0).padStart(7)} ms  ${((100 * ms) / small).toFixed(0).padStart(5)} % of the small step`);
