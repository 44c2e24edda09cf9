/**
 * `sam/prompted`: SAM as a promptable segmenter, trained and scored the way SAM was (in
 * miniature: no interactive rounds). Up to `prompts` objects of each image's instance map are
 * targets (data/pick-instance.ts), each run through the decoder on its own with a prompt
 * simulated from its mask (pretrain-prompts.ts): in training a random foreground point or, with
 * probability `boxShare`, a noisy box; on every other split the centre point, SAM's zero-shot
 * single-point protocol. A single point is ambiguous, so it takes the multimask output (tokens
 * 1..3) and the lowest-loss mask trains; a box takes token 0 (selectMasks). The loss is SAM's
 * (pretrain-loss.ts), averaged over the targets, plus any adapter's auxiliary loss. `probs` is the
 * mask SAM would return, the one with the highest predicted IoU, and `masks` its target, one row
 * per target in image order.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { ImageBatch, LabelBatch, Loss, MaskBatch, MaskProbs, SamModelPort } from '../ports.ts';
import { pickInstances } from '../data/pick-instance.ts';
import { mixSeed, mulberry32 } from '../random.ts';
import { gatherRows } from '../tensor/gather-rows.ts';
import { AdapterSteps } from './adapter-steps.ts';
import { imageEncoder } from './image-encoder.ts';
import { maskDecoder, selectMasks } from './mask-decoder.ts';
import { maskTokenCount } from './mask-tokens.ts';
import { promptableLoss } from './pretrain-loss.ts';
import { centrePoint, noisyBox, randomPoint, type Box, type PointPrompt } from './pretrain-prompts.ts';
import { densePositionalEncoding, promptEncoder, type SamPrompts } from './prompt-encoder.ts';
import { normalizeAndPad } from './transforms.ts';

type Prompt = { kind: 'point'; point: PointPrompt } | { kind: 'box'; box: Box };

interface Target {
  /** The batch image it is an object of. */
  readonly image: number;
  readonly mask: Float32Array;
  readonly prompt: Prompt;
}

export const SamPrompted = defineNode({
  kind: 'sam/prompted',
  description: "promptable SAM: objects of instance maps prompted by simulated points / boxes, multimask min-loss focal + dice and the IoU head's MSE (SAM's training), best-IoU mask out",
  placement: 'worker',
  inputs: { model: SamModelPort, images: ImageBatch, labels: LabelBatch },
  outputs: { loss: Loss, probs: MaskProbs, masks: MaskBatch },
  params: z.object({
    prompts: z.number().int().min(1).default(4).describe('objects prompted per image, each on its own (SAM trains many masks per image: the decoder is cheap next to the encoder)'),
    minArea: z.number().min(0).max(1).default(0.005).describe('smallest visible area of an object that is prompted, as a fraction of the image'),
    boxShare: z.number().min(0).max(1).default(0.5).describe('training: share of objects prompted with a noisy box instead of a random point'),
    focalWeight: z.number().min(0).default(20).describe('weight of the focal loss (SAM: 20)'),
    focalAlpha: z.number().max(1).default(-1).describe("the focal loss's foreground weight α (negative: none; the SAM paper names none, and α = 0.25 makes the empty mask a long plateau for a model trained from scratch)"),
    diceWeight: z.number().min(0).default(1).describe('weight of the dice loss (SAM: 1)'),
    iouWeight: z.number().min(0).default(1).describe("weight of the IoU head's MSE"),
  }),
  worker: {
    create: (p, ctx) => {
      const steps = new AdapterSteps(ctx.seed);
      const weights = { focal: p.focalWeight, dice: p.diceWeight, iou: p.iouWeight };
      return {
        forward: ({ model, images, labels }, step) => {
          const c = model.config;
          const [b, h, w] = images.shape;
          if (h !== c.image_size || w !== c.image_size) {
            throw new Error(`node '${ctx.node}': images are ${h}x${w}, but the SAM config takes ${c.image_size}x${c.image_size}: resize to a square of image_size first`);
          }
          if (labels.shape[0] !== b || labels.shape[1] !== h || labels.shape[2] !== w) {
            throw new Error(`node '${ctx.node}': instance maps [${labels.shape.join(', ')}] do not match images [${images.shape.join(', ')}]`);
          }
          if (maskTokenCount(c) < 2) throw new Error(`node '${ctx.node}': point prompts take the multimask output, but the config has num_multimask_outputs 0`);
          // Targets and prompts are data, drawn from the maps' values: the same on a replay of the same (epoch, item).
          const ids = labels.dataSync();
          const random = mulberry32(mixSeed(ctx.seed, step.meta.epoch, step.meta.index));
          const pickSeed = step.training ? mixSeed(ctx.seed, step.meta.epoch) : ctx.seed;
          const targets: Target[] = [];
          for (let i = 0; i < b; i++) {
            const plane = ids.subarray(i * h * w, (i + 1) * h * w);
            for (const id of pickInstances(plane, p.prompts, pickSeed, p.minArea)) {
              const mask = new Float32Array(h * w);
              for (let j = 0; j < mask.length; j++) mask[j] = plane[j] === id ? 1 : 0;
              const prompt: Prompt = !step.training
                ? { kind: 'point', point: centrePoint(mask, w) }
                : random() < p.boxShare
                  ? { kind: 'box', box: noisyBox(mask, w, random) }
                  : { kind: 'point', point: randomPoint(mask, w, random) };
              targets.push({ image: i, mask, prompt });
            }
          }
          const n = targets.length;
          const truth = tf.tensor4d(concatMasks(targets, h * w), [n, h, w, 1]);
          steps.begin(model, step);
          const embeddings = imageEncoder(normalizeAndPad(tf.mul(images, 255) as tf.Tensor4D, c.image_size), model.params, c);
          if (!n) {
            // No object in the whole batch: nothing to learn, but the step still runs.
            const aux = steps.end(model, step);
            return { loss: tf.add(tf.mul(tf.sum(embeddings), 0), aux) as tf.Scalar, probs: tf.zeros([0, h, w, 1]) as tf.Tensor4D, masks: truth };
          }
          const pe = densePositionalEncoding(model.params, c);
          let maskLoss: tf.Scalar = tf.scalar(0);
          let iouLoss: tf.Scalar = tf.scalar(0);
          const order: number[] = [];
          const chosen: tf.Tensor4D[] = [];
          for (const kind of ['point', 'box'] as const) {
            const idx = targets.flatMap((t, i) => (t.prompt.kind === kind ? [i] : []));
            if (!idx.length) continue;
            const m = idx.length;
            const prompts = idx.map((i) => targets[i]!.prompt);
            const group: SamPrompts =
              kind === 'point'
                ? {
                    points: {
                      coords: tf.tensor3d(prompts.flatMap((q) => (q.kind === 'point' ? [q.point.x, q.point.y] : [])), [m, 1, 2]),
                      labels: tf.tensor2d(prompts.map((q) => (q.kind === 'point' ? q.point.label : 0)), [m, 1]),
                    },
                  }
                : { boxes: tf.tensor2d(prompts.flatMap((q) => (q.kind === 'box' ? [...q.box] : [])), [m, 4]) };
            const { sparse, dense } = promptEncoder(group, m, model.params, c);
            const source = gatherRows(embeddings, idx.map((i) => targets[i]!.image));
            const decoded = selectMasks(maskDecoder(source as tf.Tensor4D, pe, sparse, dense, model.params, c), kind === 'point');
            const k = decoded.masks.shape[1];
            const logits = tf.image.resizeBilinear(tf.transpose(decoded.masks, [0, 2, 3, 1]) as tf.Tensor4D, [h, w], false, true);
            const loss = promptableLoss(logits, decoded.iou, tf.gather(truth, tf.tensor1d(idx, 'int32')) as tf.Tensor4D, weights, { alpha: p.focalAlpha });
            maskLoss = tf.add(maskLoss, loss.mask);
            iouLoss = tf.add(iouLoss, loss.iou);
            // SAM returns the mask it scores highest.
            const probs = tf.sigmoid(logits);
            chosen.push(k === 1 ? probs : (tf.sum(tf.mul(probs, tf.oneHot(tf.argMax(decoded.iou, 1), k).reshape([m, 1, 1, k])), 3, true) as tf.Tensor4D));
            order.push(...idx);
          }
          const inverse = tf.tensor1d(order.map((_, i) => order.indexOf(i)), 'int32');
          const probs = tf.gather(chosen.length === 1 ? chosen[0]! : tf.concat(chosen, 0), inverse) as tf.Tensor4D;
          const aux = steps.end(model, step);
          if (!step.dryRun) {
            const where = { split: step.meta.split, epoch: step.meta.epoch };
            step.emit({ type: 'metric', name: 'mask_loss', value: maskLoss.dataSync()[0]! / n, ...where });
            if (p.iouWeight > 0) step.emit({ type: 'metric', name: 'iou_mse', value: iouLoss.dataSync()[0]! / (n * p.iouWeight), ...where });
          }
          return { loss: tf.add(tf.div(tf.add(maskLoss, iouLoss), n), aux) as tf.Scalar, probs, masks: truth };
        },
      };
    },
  },
});

function concatMasks(targets: readonly Target[], size: number): Float32Array {
  const out = new Float32Array(targets.length * size);
  targets.forEach((t, i) => out.set(t.mask, i * size));
  return out;
}
