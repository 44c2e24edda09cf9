/**
 * A synthetic multi-class segmentation set, deterministic by seed: a textured grey background
 * (class 0) with 1 to 4 objects of classes 1..classes-1, each class with its own colour and
 * outline (ellipse, rectangle, triangle, ring, ...). Like VOC, a 1-pixel band along object
 * edges carries the ignore label (255) when `ignoreEdges` is on. `domain` shifts the look.
 */
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { IGNORE_LABEL, Image, LabelMap, type RawImage } from '../ports.ts';
import { mulberry32 } from '../random.ts';
import { applyHueRotation, applyTexture, clamp255, domainRandom, NO_SHIFT, outline, type Domain } from './synthetic-domain.ts';
import { SyntheticSetParams, syntheticItems, syntheticTotal } from './synthetic-source.ts';

const FORMS = ['ellipse', 'rectangle', 'triangle', 'ring'] as const;

/** Class k's colour: hues spread around the wheel, strong saturation. */
export function classColour(k: number, classes: number): [number, number, number] {
  const h = ((k - 1) / Math.max(1, classes - 1)) * 300;
  const f = (n: number) => {
    const a = (n + h / 60) % 6;
    return 40 + 190 * Math.max(0, Math.min(1, Math.min(a, 4 - a)));
  };
  return [f(5), f(3), f(1)];
}

/** Draws one sample: image and class-id map (0 = background, 255 = ignore band). */
export function syntheticClasses(size: number, seed: number, classes: number, options: { domain?: Domain; ignoreEdges?: boolean } = {}): { image: RawImage; label: RawImage } {
  const domain = options.domain ?? NO_SHIFT;
  const random = mulberry32(seed);
  const shift = domainRandom(seed);
  const range = (lo: number, hi: number) => lo + (hi - lo) * random();
  const image = new Uint8Array(size * size * 3);
  const label = new Uint8Array(size * size);
  const grey = range(90, 170);
  for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) image[i * 3 + c] = clamp255(grey + range(-15, 15));
  const objects = 1 + Math.floor(range(0, 4));
  for (let o = 0; o < objects; o++) {
    const k = 1 + Math.floor(range(0, classes - 1));
    const form = FORMS[(k - 1) % FORMS.length]!;
    const colour = classColour(k, classes);
    const [cx, cy] = [range(0.2, 0.8) * size, range(0.2, 0.8) * size];
    const [rx, ry] = [range(0.08, 0.2) * size, range(0.08, 0.2) * size];
    const round = outline(domain.shape, shift);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const u = (x - cx) / rx;
        const v = (y - cy) / ry;
        const r2 = u * u + v * v;
        const inside =
          form === 'rectangle' ? Math.abs(u) <= 1 && Math.abs(v) <= 1
          : form === 'triangle' ? v <= 1 && v >= -1 && Math.abs(u) <= (v + 1) / 2
          : form === 'ring' ? r2 <= 1 && r2 >= 0.3
          : round(u, v);
        if (!inside) continue;
        const i = y * size + x;
        label[i] = k;
        for (let c = 0; c < 3; c++) image[i * 3 + c] = clamp255(colour[c]! + range(-20, 20));
      }
    }
  }
  if (options.ignoreEdges ?? true) {
    const edges: number[] = [];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const k = label[y * size + x]!;
        if ((x + 1 < size && label[y * size + x + 1] !== k) || (y + 1 < size && label[(y + 1) * size + x] !== k)) edges.push(y * size + x);
      }
    }
    for (const i of edges) label[i] = IGNORE_LABEL;
  }
  applyTexture(image, size, domain.texture, shift, (i) => label[i] === 0);
  applyHueRotation(image, domain.colour);
  return { image: { width: size, height: size, channels: 3, data: image }, label: { width: size, height: size, channels: 1, data: label } };
}

export const SyntheticClassesParams = SyntheticSetParams.extend({
  classes: z.number().int().min(2).max(32).default(4).describe('classes including the background (class 0)'),
  ignoreEdges: z.boolean().default(true).describe('mark a 1-pixel band along object edges as ignore (255)'),
});

export const SyntheticClasses = defineNode({
  kind: 'data/synthetic-classes',
  description: 'deterministic synthetic multi-class segmentation set (coloured shapes, ignore band on edges)',
  placement: 'main',
  inputs: {},
  outputs: { image: Image, label: LabelMap },
  params: SyntheticClassesParams,
  main: {
    type: 'source',
    resumable: true,
    total: syntheticTotal,
    create: (p, ctx) => syntheticItems(p, ctx.seed, (seed) => syntheticClasses(p.size, seed, p.classes, { domain: p.domain, ignoreEdges: p.ignoreEdges }), ctx.skip),
  },
});
