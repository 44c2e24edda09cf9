/**
 * Horizontal flip of image and targets together, with probability p, on training items only
 * (the Conv-LoRA recipe's one augmentation; MTAN's flip, which also negates the normals' x).
 * Uses sharp, so the work runs on libvips threads and overlaps the worker's step.
 */
import sharp from 'sharp';
import { z } from 'zod';
import type { RawImage } from '../ports.ts';
import { defineAugment } from './define-augment.ts';

export async function flipHorizontal(image: RawImage): Promise<RawImage> {
  const { width, height, channels } = image;
  let pipeline = sharp(image.data, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } }).flop();
  // sharp writes single-channel input back as sRGB unless told to stay grey.
  if (channels === 1) pipeline = pipeline.toColourspace('b-w');
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels) throw new Error(`flip: sharp returned ${info.channels} channels for a ${channels}-channel image`);
  return { width, height, channels, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export const {
  binary: RandomFlip,
  labels: RandomFlipLabels,
  multiTask: RandomFlipMultiTask,
} = defineAugment({
  name: 'random-flip',
  description: 'flip horizontally with probability p',
  params: z.object({
    p: z.number().min(0).max(1).default(0.5).describe('probability of flipping a training item'),
  }),
  trainOnly: true,
  plan: (p, _size, random) => (random() < p.p ? [{ op: 'flip' }] : []),
});
