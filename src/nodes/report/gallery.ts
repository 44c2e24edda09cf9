/**
 * `report/gallery`: keeps the first `count` images of the validation split in every epoch, with
 * their ground truth and predicted probabilities, for the run report's gallery (gallery-data.ts
 * says how they travel; the report picks the best epoch's, else the last). A main-thread node
 * downstream of the model, so its pictures are what the metrics scored.
 *
 * ```ts
 * g.add('gallery', Gallery, { inputs: { images: batch.out.images, masks: batch.out.masks, probs: seg.out.probs } });
 * ```
 */
import { z } from 'zod';
import { defineNode, optional } from '../../graph/node.ts';
import { checkTensorData, type TensorData } from '../../graph/port.ts';
import { ImageBatch, MaskBatch, MaskProbs, SampleInfos } from '../ports.ts';
import { bytesOf, GalleryKeeper, GalleryParams } from './gallery-data.ts';

export const BinaryGalleryParams = GalleryParams.extend({
  threshold: z.number().min(0).max(1).default(0.5).describe('foreground where the probability is above this (the overlay and error colours)'),
});

/** [N, H, W, C] of a float32 NHWC batch, or an error naming the port and what it expected. */
export function nhwc(t: TensorData, port: string, channels: number): [number, number, number] {
  if (t.dtype !== 'float32' || t.shape.length !== 4 || t.shape[3] !== channels) {
    throw new Error(`${port} must be float32 NHW${channels}, got ${t.dtype} [${t.shape.join(', ')}]`);
  }
  checkTensorData(t, port);
  return [t.shape[0]!, t.shape[1]!, t.shape[2]!];
}

/**
 * Throws unless port `port`'s [N, H, W] is the images' batch at their size; `shown` is the port's
 * shape as the message gives it (default: one channel).
 */
export function requireImageSize(port: string, size: readonly number[], images: readonly [number, number, number], shown: readonly number[] = [...size, 1]): void {
  const [n, h, w] = images;
  if (size[0] !== n || size[1] !== h || size[2] !== w) throw new Error(`${port} is [${shown.join(', ')}] but images [${n}, ${h}, ${w}, 3]; expected the same batch at the same size`);
}

export const Gallery = defineNode({
  kind: 'report/gallery',
  description: "keeps the first validation images of each epoch with ground truth and predicted probabilities, for the run report's gallery",
  placement: 'main',
  inputs: { images: ImageBatch, masks: MaskBatch, probs: MaskProbs, infos: optional(SampleInfos) },
  outputs: {},
  params: BinaryGalleryParams,
  main: {
    type: 'map',
    concurrency: 1,
    create: (p, ctx) => {
      const keeper = new GalleryKeeper(p, ctx, { kind: 'binary', threshold: p.threshold });
      return {
        async process({ images, masks, probs, infos }, meta) {
          const wanted = keeper.wants(meta);
          if (wanted > 0) {
            const [n, h, w] = nhwc(images, 'images', 3);
            requireImageSize('masks', nhwc(masks, 'masks', 1), [n, h, w]);
            requireImageSize('probs', nhwc(probs, 'probs', 1), [n, h, w]);
            const per = h * w;
            const planes = Array.from({ length: Math.min(n, wanted) }, (_, b) => ({
              width: w,
              height: h,
              image: bytesOf(images.data as Float32Array, b, per * 3),
              truth: bytesOf(masks.data as Float32Array, b, per),
              pred: bytesOf(probs.data as Float32Array, b, per),
            }));
            await keeper.keep(planes, infos);
          }
          keeper.end(meta);
          return {};
        },
        state: keeper.state,
      };
    },
  },
});
