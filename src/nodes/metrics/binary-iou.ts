/**
 * Binary IoU at threshold 0.5, per image, averaged over each (split, epoch) group. An image
 * whose prediction and ground truth are both empty scores 0, as torchmetrics' binary Jaccard
 * does in the Conv-LoRA benchmarks.
 */
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { checkTensorData, type TensorData } from '../../graph/port.ts';
import { MaskBatch, MaskProbs } from '../ports.ts';

/** IoU of each image in a batch of NHW1 probabilities against NHW1 binary masks. */
export function binaryIou(probs: TensorData, masks: TensorData, threshold = 0.5): number[] {
  if (probs.shape.join() !== masks.shape.join()) {
    throw new Error(`probs [${probs.shape.join(', ')}] and masks [${masks.shape.join(', ')}] differ in shape`);
  }
  checkTensorData(probs, 'probs');
  checkTensorData(masks, 'masks');
  const batch = probs.shape[0]!;
  const per = probs.data.length / batch;
  const scores: number[] = [];
  for (let b = 0; b < batch; b++) {
    let inter = 0;
    let union = 0;
    for (let i = b * per; i < (b + 1) * per; i++) {
      const p = probs.data[i]! > threshold;
      const g = masks.data[i]! > 0.5;
      if (p && g) inter++;
      if (p || g) union++;
    }
    scores.push(union === 0 ? 0 : inter / union);
  }
  return scores;
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
      };
    },
  },
});
