/**
 * AutoGluon's input geometry for Conv-LoRA: resize to a `size` x `size` square, aspect ratio
 * not kept, no padding (bicubic image, nearest masks). Every split gets it.
 */
import { z } from 'zod';
import { defineAugment } from './define-augment.ts';

export const {
  binary: ResizeSquare,
  labels: ResizeSquareLabels,
  multiTask: ResizeSquareMultiTask,
  image: ResizeSquareImage,
} = defineAugment({
  name: 'resize-square',
  description: 'resize to a size x size square, aspect not kept (AutoGluon / Conv-LoRA)',
  params: z.object({
    size: z.number().int().min(8).max(4096).default(1024).describe('side of the square output'),
    kernel: z.enum(['nearest', 'linear', 'cubic', 'lanczos3']).default('cubic').describe("the image's resampling kernel (masks are always nearest)"),
  }),
  trainOnly: false,
  plan: (p) => [{ op: 'resize', width: p.size, height: p.size, kernel: p.kernel }],
});
