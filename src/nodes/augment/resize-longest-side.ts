/**
 * SAM's input geometry: scale so the longest side is `size` (aspect kept), then pad right and
 * bottom to a `size` x `size` square. Every split gets it (it is not an augmentation). Masks
 * are resized nearest and padded with 0; class ids are padded with the ignore label.
 */
import { z } from 'zod';
import { defineAugment } from './define-augment.ts';
import type { GeometryOp } from './geometry.ts';

/** SAM's ResizeLongestSide target size: the longest side becomes `size`, rounded half up. */
export function longestSideSize(width: number, height: number, size: number): { width: number; height: number } {
  const scale = size / Math.max(width, height);
  return { width: Math.floor(width * scale + 0.5), height: Math.floor(height * scale + 0.5) };
}

export function resizeLongestSidePlan(size: { width: number; height: number }, target: number, kernel: 'nearest' | 'linear' | 'cubic' | 'lanczos3', fill = 0): GeometryOp[] {
  const scaled = longestSideSize(size.width, size.height, target);
  return [
    { op: 'resize', ...scaled, kernel },
    { op: 'pad', top: 0, left: 0, right: target - scaled.width, bottom: target - scaled.height, fill },
  ];
}

export const {
  binary: ResizeLongestSide,
  labels: ResizeLongestSideLabels,
  multiTask: ResizeLongestSideMultiTask,
  image: ResizeLongestSideImage,
} = defineAugment({
  name: 'resize-longest-side',
  description: "resize the longest side to size and pad to a square (SAM's input)",
  params: z.object({
    size: z.number().int().min(8).max(4096).default(1024).describe('side of the square output'),
    kernel: z.enum(['nearest', 'linear', 'cubic', 'lanczos3']).default('linear').describe("the image's resampling kernel (masks are always nearest)"),
    fill: z.number().int().min(0).max(255).default(0).describe("the image's padding grey level"),
  }),
  trainOnly: false,
  plan: (p, size) => resizeLongestSidePlan(size, p.size, p.kernel, p.fill),
});
