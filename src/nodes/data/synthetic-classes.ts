/**
 * A synthetic multi-class segmentation set, deterministic by seed: a textured grey background
 * (class 0) with 1 to 4 objects of classes 1..classes-1, possibly overlapping. A class is a
 * shape (ellipse, rectangle, triangle, ring, cross, diamond), never a colour: every object
 * takes a random colour and size, so a model must learn outlines to tell classes apart. Like
 * VOC, a 1-pixel band along object edges carries the ignore label (255) when `ignoreEdges` is on.
 * `domain` shifts the look.
 */
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { IGNORE_LABEL, Image, LabelMap, type RawImage } from '../ports.ts';
import { mulberry32 } from '../random.ts';
import { applyHueRotation, applyTexture, clamp255, domainRandom, NO_SHIFT, outline, type Domain } from './synthetic-domain.ts';
import { SyntheticSetParams, syntheticItems, syntheticTotal } from './synthetic-source.ts';

export const FORMS = ['ellipse', 'rectangle', 'triangle', 'ring', 'cross', 'diamond'] as const;

/** Class k's display colour (the prediction writer's palette): hues spread around the wheel. */
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
  if (!Number.isInteger(classes) || classes < 2 || classes > FORMS.length + 1) {
    throw new Error(`synthetic classes: ${classes} classes, but there are ${FORMS.length} shapes, so 2..${FORMS.length + 1} (with the background)`);
  }
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
    const form = FORMS[k - 1]!;
    // Any colour for any class: a random hue at a random brightness.
    const colour = classColour(1 + Math.floor(range(0, 12)), 13).map((v) => v * range(0.6, 1.1));
    const [cx, cy] = [range(0.2, 0.8) * size, range(0.2, 0.8) * size];
    const scale = range(0.08, 0.24);
    const [rx, ry] = [scale * range(0.7, 1.3) * size, scale * range(0.7, 1.3) * size];
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
          : form === 'cross' ? (Math.abs(u) <= 1 && Math.abs(v) <= 0.35) || (Math.abs(v) <= 1 && Math.abs(u) <= 0.35)
          : form === 'diamond' ? Math.abs(u) + Math.abs(v) <= 1
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
  classes: z.number().int().min(2).max(FORMS.length + 1).default(4).describe(`classes including the background (class 0); each other class is one shape, so at most ${FORMS.length + 1}`),
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
