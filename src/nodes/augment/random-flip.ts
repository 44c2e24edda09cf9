/**
 * Horizontal flip of image and mask together, with probability p, on training items only
 * (the Conv-LoRA recipe's one augmentation). Uses sharp, so the work runs on libvips threads
 * and overlaps the worker's step.
 */
import sharp from 'sharp';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { BinaryMask, Image, type RawImage } from '../ports.ts';
import { mixSeed, mulberry32 } from '../random.ts';

export async function flipHorizontal(image: RawImage): Promise<RawImage> {
  const { width, height, channels } = image;
  let pipeline = sharp(image.data, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } }).flop();
  // sharp writes single-channel input back as sRGB unless told to stay grey.
  if (channels === 1) pipeline = pipeline.toColourspace('b-w');
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels) throw new Error(`flip: sharp returned ${info.channels} channels for a ${channels}-channel image`);
  return { width, height, channels, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export const RandomFlip = defineNode({
  kind: 'augment/random-flip',
  description: 'flip image and mask horizontally together with probability p (training items only)',
  placement: 'main',
  inputs: { image: Image, mask: BinaryMask },
  outputs: { image: Image, mask: BinaryMask },
  params: z.object({
    p: z.number().min(0).max(1).default(0.5).describe('probability of flipping a training item'),
  }),
  main: {
    type: 'map',
    concurrency: 2,
    create: (p, ctx) => ({
      async process({ image, mask }, meta) {
        if (image.width !== mask.width || image.height !== mask.height) {
          throw new Error(`image is ${image.width}x${image.height} but its mask is ${mask.width}x${mask.height}`);
        }
        const flip = meta.split === 'train' && mulberry32(mixSeed(ctx.seed, meta.epoch, meta.index))() < p.p;
        if (!flip) return { image, mask };
        const [flippedImage, flippedMask] = await Promise.all([flipHorizontal(image), flipHorizontal(mask)]);
        return { image: flippedImage, mask: flippedMask };
      },
    }),
  },
});
