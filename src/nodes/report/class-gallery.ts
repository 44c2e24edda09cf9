/**
 * `report/class-gallery`: the multi-class form of report/gallery. Keeps the first `count`
 * validation images of each epoch with their ground-truth and predicted class-id maps (ignored
 * pixels as 255); the report colours them with one colour per class.
 *
 * ```ts
 * g.add('gallery', ClassGallery, { params: { classes }, inputs: { images: batch.out.images, labels: batch.out.labels, pred: infer.out.labels } });
 * ```
 */
import { z } from 'zod';
import { defineNode, optional } from '../../graph/node.ts';
import { checkTensorData, type TensorData } from '../../graph/port.ts';
import { IGNORE_LABEL, ImageBatch, LabelBatch, SampleInfos } from '../ports.ts';
import { bytesOf, GalleryKeeper, GalleryParams } from './gallery-data.ts';
import { nhwc, requireImageSize } from './gallery.ts';

export const ClassGalleryParams = GalleryParams.extend({
  classes: z.number().int().min(2).max(255).describe('classes including class 0, for one colour per class'),
});

/** Image `b` of an int32 NHW1 id batch as 8-bit ids; -1 (ignore) becomes 255, an id outside 0..classes-1 an error. */
export function idPlane(t: TensorData, port: string, b: number, per: number, classes: number): Uint8Array {
  const out = new Uint8Array(per);
  for (let i = 0; i < per; i++) {
    const v = t.data[b * per + i]!;
    if (v === -1) out[i] = IGNORE_LABEL;
    else if (v >= 0 && v < classes) out[i] = v;
    else throw new Error(`${port} holds class ${v} at image ${b}; expected 0..${classes - 1} or -1 (ignore)`);
  }
  return out;
}

/** [N, H, W] of an int32 NHW1 class-id batch, or an error naming the port. */
export function ids(t: TensorData, port: string): [number, number, number] {
  if (t.dtype !== 'int32' || t.shape.length !== 4 || t.shape[3] !== 1) throw new Error(`${port} must be int32 NHW1 class ids, got ${t.dtype} [${t.shape.join(', ')}]`);
  checkTensorData(t, port);
  return [t.shape[0]!, t.shape[1]!, t.shape[2]!];
}

export const ClassGallery = defineNode({
  kind: 'report/class-gallery',
  description: "keeps the first validation images of each epoch with ground-truth and predicted class maps, for the run report's gallery",
  placement: 'main',
  inputs: { images: ImageBatch, labels: LabelBatch, pred: LabelBatch, infos: optional(SampleInfos) },
  outputs: {},
  params: ClassGalleryParams,
  main: {
    type: 'map',
    concurrency: 1,
    create: (p, ctx) => {
      const keeper = new GalleryKeeper(p, ctx, { kind: 'classes', classes: p.classes });
      return {
        async process({ images, labels, pred, infos }, meta) {
          const wanted = keeper.wants(meta);
          if (wanted > 0) {
            const [n, h, w] = nhwc(images, 'images', 3);
            requireImageSize('labels', ids(labels, 'labels'), [n, h, w]);
            requireImageSize('pred', ids(pred, 'pred'), [n, h, w]);
            const per = h * w;
            const planes = Array.from({ length: Math.min(n, wanted) }, (_, b) => ({
              width: w,
              height: h,
              image: bytesOf(images.data as Float32Array, b, per * 3),
              truth: idPlane(labels, 'labels', b, per, p.classes),
              pred: idPlane(pred, 'pred', b, per, p.classes),
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
