/**
 * Colour jitter on the image alone (masks, class ids, depth and normals are untouched):
 * brightness, contrast and saturation factors drawn uniformly from [1 - x, 1 + x] and a hue
 * shift from [-hue, hue] degrees, with sharp. Training items only.
 */
import sharp from 'sharp';
import { z } from 'zod';
import type { RawImage } from '../ports.ts';
import { defineAugment } from './define-augment.ts';

export interface Jitter {
  readonly brightness: number;
  readonly contrast: number;
  readonly saturation: number;
  /** Degrees. */
  readonly hue: number;
}

export async function jitterColour(image: RawImage, jitter: Jitter): Promise<RawImage> {
  const { width, height, channels } = image;
  if (channels !== 3) throw new Error(`colour jitter: expected an RGB image, got ${channels} channels`);
  const { data, info } = await sharp(image.data, { raw: { width, height, channels: 3 } })
    .modulate({ brightness: jitter.brightness, saturation: jitter.saturation, hue: Math.round(jitter.hue) })
    // Contrast about mid-grey.
    .linear(jitter.contrast, 128 * (1 - jitter.contrast))
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export const {
  binary: ColourJitter,
  labels: ColourJitterLabels,
  multiTask: ColourJitterMultiTask,
} = defineAugment({
  name: 'colour-jitter',
  description: 'jitter brightness, contrast, saturation and hue of the image only',
  params: z.object({
    brightness: z.number().min(0).max(1).default(0.2).describe('factor range 1 ± this'),
    contrast: z.number().min(0).max(1).default(0.2).describe('factor range 1 ± this'),
    saturation: z.number().min(0).max(1).default(0.2).describe('factor range 1 ± this'),
    hue: z.number().min(0).max(180).default(0).describe('shift range ± this many degrees'),
  }),
  trainOnly: true,
  plan: () => [],
  image: (p, image, random) => {
    const factor = (x: number) => 1 + (random() * 2 - 1) * x;
    return jitterColour(image, { brightness: factor(p.brightness), contrast: factor(p.contrast), saturation: factor(p.saturation), hue: (random() * 2 - 1) * p.hue });
  },
});
