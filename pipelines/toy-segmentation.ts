/**
 * The built-in default job (until the Conv-LoRA pipeline replaces it): synthetic images ->
 * flip augmentation (main, sharp) -> batching (main) -> patch-MLP segmenter + BCE loss + Adam
 * (one worker segment, one gradient tape) -> IoU on the validation split (main).
 */
import { GraphBuilder, type Graph } from '../src/graph/graph.ts';
import { RandomFlip } from '../src/nodes/augment/random-flip.ts';
import { Batch } from '../src/nodes/data/batch.ts';
import { SyntheticShapes } from '../src/nodes/data/synthetic-shapes.ts';
import { SigmoidBce } from '../src/nodes/losses/sigmoid-bce.ts';
import { BinaryIou } from '../src/nodes/metrics/binary-iou.ts';
import { PatchMlp } from '../src/nodes/models/patch-mlp.ts';
import { Adam } from '../src/nodes/train/adam.ts';

export interface ToySegmentationOptions {
  readonly epochs?: number;
  readonly size?: number;
  readonly train?: number;
  readonly val?: number;
  readonly batchSize?: number;
  readonly lr?: number;
  readonly seed?: number;
}

export function toySegmentation(options: ToySegmentationOptions = {}): Graph {
  const g = new GraphBuilder({ name: 'toy-segmentation', seed: options.seed ?? 42 });
  const data = g.add('data', SyntheticShapes, {
    params: { size: options.size ?? 64, train: options.train ?? 192, val: options.val ?? 64, epochs: options.epochs ?? 8 },
  });
  const flip = g.add('flip', RandomFlip, { params: { p: 0.5 }, inputs: { image: data.out.image, mask: data.out.mask } });
  const batch = g.add('batch', Batch, { params: { size: options.batchSize ?? 8 }, inputs: { image: flip.out.image, mask: flip.out.mask } });
  const model = g.add('model', PatchMlp, { params: { patch: 4, hidden: 32 }, inputs: { images: batch.out.images } });
  const loss = g.add('loss', SigmoidBce, { inputs: { logits: model.out.logits, masks: batch.out.masks } });
  g.add('optimizer', Adam, { params: { lr: options.lr ?? 2e-2 }, inputs: { loss: loss.out.loss } });
  g.add('iou', BinaryIou, { inputs: { probs: model.out.probs, masks: batch.out.masks } });
  return g.build();
}
