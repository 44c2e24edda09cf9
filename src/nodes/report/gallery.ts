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
            const sizes = [nhwc(masks, 'masks', 1), nhwc(probs, 'probs', 1)];
            for (const [port, s] of [['masks', sizes[0]!], ['probs', sizes[1]!]] as const) {
              if (s[0] !== n || s[1] !== h || s[2] !== w) throw new Error(`${port} is [${s.join(', ')}, 1] but images [${n}, ${h}, ${w}, 3]; expected the same batch at the same size`);
            }
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
