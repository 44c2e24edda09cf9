/**
 * MTAN's RandomScaleCrop: pick a zoom sc from `scales`, crop a random (H/sc) x (W/sc) window
 * and resize it back to H x W (image and normals bilinear, class ids and depth nearest), and
 * divide depth by sc (the scene looks sc times closer). Training items only.
 */
import { z } from 'zod';
import { defineAugment } from './define-augment.ts';
import type { GeometryOp } from './geometry.ts';

export function scaleCropPlan(size: { width: number; height: number }, scale: number, random: () => number): GeometryOp[] {
  if (scale === 1) return [];
  const { width, height } = size;
  const cropWidth = Math.max(1, Math.floor(width / scale));
  const cropHeight = Math.max(1, Math.floor(height / scale));
  const top = Math.floor(random() * (height - cropHeight + 1));
  const left = Math.floor(random() * (width - cropWidth + 1));
  return [
    { op: 'crop', left, top, width: cropWidth, height: cropHeight },
    { op: 'resize', width, height, kernel: 'linear' },
    { op: 'scale-depth', by: 1 / scale },
  ];
}

export const {
  binary: RandomScaleCrop,
  labels: RandomScaleCropLabels,
  multiTask: RandomScaleCropMultiTask,
} = defineAugment({
  name: 'random-scale-crop',
  description: "zoom into a random window by a factor from scales, depth divided by it (MTAN's RandomScaleCrop)",
  params: z.object({
    scales: z.array(z.number().min(1).max(8)).min(1).default([1, 1.2, 1.5]).describe('zoom factors, one picked uniformly per item'),
  }),
  trainOnly: true,
  plan: (p, size, random) => scaleCropPlan(size, p.scales[Math.floor(random() * p.scales.length)]!, random),
});
