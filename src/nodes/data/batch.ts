/**
 * Collates single samples into batches: NHWC float32 images scaled to [0, 1] and NHW1 float32
 * masks, ready to cross to the worker as transferables. A batch never spans two (split, epoch)
 * groups: it is cut short at a group's end, so metrics see whole groups.
 */
import { Observable } from 'rxjs';
import { z } from 'zod';
import type { Item } from '../../graph/node.ts';
import { defineNode } from '../../graph/node.ts';
import { tensorData, type TensorData } from '../../graph/port.ts';
import { BinaryMask, Image, ImageBatch, MaskBatch, type RawImage } from '../ports.ts';

type Sample = { image: RawImage; mask: RawImage };

export function collate(samples: readonly Sample[]): { images: TensorData; masks: TensorData } {
  const first = samples[0]!.image;
  const { width, height } = first;
  const images = new Float32Array(samples.length * width * height * 3);
  const masks = new Float32Array(samples.length * width * height);
  samples.forEach(({ image, mask }, b) => {
    if (image.width !== width || image.height !== height || image.channels !== 3) {
      throw new Error(`sample ${b} of the batch is ${image.width}x${image.height}x${image.channels}; expected ${width}x${height}x3 like the first (resize before batching)`);
    }
    if (mask.width !== width || mask.height !== height || mask.channels !== 1) {
      throw new Error(`mask ${b} of the batch is ${mask.width}x${mask.height}x${mask.channels}; expected ${width}x${height}x1`);
    }
    if (image.data.length !== width * height * 3 || mask.data.length !== width * height) {
      throw new Error(`sample ${b} of the batch: its buffers hold ${image.data.length} image and ${mask.data.length} mask bytes, expected ${width * height * 3} and ${width * height}`);
    }
    const offset = b * width * height;
    for (let i = 0; i < width * height * 3; i++) images[offset * 3 + i] = image.data[i]! / 255;
    for (let i = 0; i < width * height; i++) masks[offset + i] = mask.data[i]! > 0 ? 1 : 0;
  });
  return {
    images: tensorData(images, [samples.length, height, width, 3]),
    masks: tensorData(masks, [samples.length, height, width, 1]),
  };
}

export const Batch = defineNode({
  kind: 'data/batch',
  description: 'collate image/mask samples into float32 NHWC batches (never across split or epoch)',
  placement: 'main',
  inputs: { image: Image, mask: BinaryMask },
  outputs: { images: ImageBatch, masks: MaskBatch },
  params: z.object({ size: z.number().int().min(1).default(8).describe('samples per batch') }),
  main: {
    type: 'operator',
    itemsPerOutput: (p) => p.size,
    create: (p) => (input) =>
      new Observable<Item<{ images: TensorData; masks: TensorData }>>((subscriber) => {
        let pending: Item<Sample>[] = [];
        let batches = 0;
        const flush = () => {
          if (!pending.length) return;
          const group = pending;
          pending = [];
          const last = group.at(-1)!.meta;
          subscriber.next({
            meta: { index: batches++, split: last.split, epoch: last.epoch, groupEnd: last.groupEnd },
            weight: group.reduce((sum, item) => sum + item.weight, 0),
            values: collate(group.map((item) => item.values)),
          });
        };
        return input.subscribe({
          next: (item) => {
            try {
              const head = pending[0]?.meta;
              if (head && (head.split !== item.meta.split || head.epoch !== item.meta.epoch)) flush();
              pending.push(item);
              if (pending.length >= p.size || item.meta.groupEnd) flush();
            } catch (error) {
              subscriber.error(error);
            }
          },
          error: (error) => subscriber.error(error),
          complete: () => {
            try {
              flush();
              subscriber.complete();
            } catch (error) {
              subscriber.error(error);
            }
          },
        });
      }),
  },
});
