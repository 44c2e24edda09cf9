/**
 * Binary IoU at threshold 0.5, per image, averaged over each (split, epoch) group. An image
 * whose prediction and ground truth are both empty scores 0, as torchmetrics' binary Jaccard
 * does in the Conv-LoRA benchmarks. The full binary set (Dice, S-measure, E-measure, weighted F,
 * MAE, BER), scored off the main thread, is the `metrics/binary` node (binary-set.ts).
 */
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import type { TensorData } from '../../graph/port.ts';
import { MaskBatch, MaskProbs } from '../ports.ts';
import { above, checkBinaryImage, splitBinaryBatch, type BinaryImage } from './binary-image.ts';

/**
 * IoU of one image: P = prob > threshold, G = gt > 0.5 (8-bit values are read as v / 255);
 * |P ∩ G| / |P ∪ G|, and 0 when both are empty.
 *
 * ```ts
 * iou({ width: 2, height: 1, pred: new Float32Array([0.9, 0.9]), gt: new Uint8Array([255, 0]) }); // 0.5
 * ```
 */
export function iou(img: BinaryImage, threshold = 0.5): number {
  checkBinaryImage(img);
  const p = above(img.pred, threshold);
  const g = above(img.gt, 0.5);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < p.length; i++) {
    inter += p[i]! & g[i]!;
    union += p[i]! | g[i]!;
  }
  return union === 0 ? 0 : inter / union;
}

/** IoU of each image in a batch of NHW1 probabilities against NHW1 binary masks. */
export function binaryIou(probs: TensorData, masks: TensorData, threshold = 0.5): number[] {
  return splitBinaryBatch(probs, masks).map((image) => iou(image, threshold));
}

export const BinaryIou = defineNode({
  kind: 'metrics/binary-iou',
  description: 'per-image binary IoU at a threshold, averaged per split and epoch',
  placement: 'main',
  inputs: { probs: MaskProbs, masks: MaskBatch },
  outputs: {},
  params: z.object({ threshold: z.number().min(0).max(1).default(0.5) }),
  main: {
    type: 'map',
    create: (p, ctx) => {
      let scores: number[] = [];
      let group: { split: string; epoch: number } | undefined;
      const flush = () => {
        if (group && scores.length) {
          const value = scores.reduce((a, b) => a + b, 0) / scores.length;
          ctx.emit({ type: 'metric', name: 'iou', value, split: group.split, epoch: group.epoch });
        }
        scores = [];
        group = undefined;
      };
      return {
        process: ({ probs, masks }, meta) => {
          if (group && (group.split !== meta.split || group.epoch !== meta.epoch)) flush();
          group = { split: meta.split, epoch: meta.epoch };
          scores.push(...binaryIou(probs, masks, p.threshold));
          if (meta.groupEnd) flush();
          return {};
        },
        finish: flush,
        // A run resumed inside a group keeps the scores of the group's images scored before.
        state: {
          save: () => ({ group, scores }),
          restore: (saved) => ({ group, scores } = saved as { group?: { split: string; epoch: number }; scores: number[] }),
        },
      };
    },
  },
});
