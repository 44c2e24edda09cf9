/**
 * Rotation about the centre by a uniform angle in [-degrees, degrees], keeping the size; the
 * corners get the padding values (image `fill`, mask 0, class ids the ignore label, depth 0).
 * Training items only. Not for surface normals (they would have to turn too).
 */
import { z } from 'zod';
import { defineAugment } from './define-augment.ts';

export const {
  binary: RandomRotate,
  labels: RandomRotateLabels,
  multiTask: RandomRotateMultiTask,
} = defineAugment({
  name: 'random-rotate',
  description: 'rotate by a random angle in [-degrees, degrees]',
  params: z.object({
    degrees: z.number().min(0).max(180).default(15).describe('largest rotation either way'),
    p: z.number().min(0).max(1).default(1).describe('probability of rotating a training item'),
    fill: z.number().int().min(0).max(255).default(0).describe("the image's grey level in the uncovered corners"),
  }),
  trainOnly: true,
  plan: (p, _size, random) => {
    if (random() >= p.p) return [];
    return [{ op: 'rotate', degrees: (random() * 2 - 1) * p.degrees, fill: p.fill }];
  },
});
