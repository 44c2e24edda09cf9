/**
 * A generic synthetic scene set for promptable pre-training (SAM's SA-1B in miniature),
 * deterministic by seed: a textured background with many objects (4 to 9) of varied forms
 * (ellipses, rotated rectangles, triangles, rings, stars, crosses, polygons), fills (solid,
 * stripes, checks, gradients, speckle), colours and scales, drawn back to front so later objects
 * occlude earlier ones. The label map holds instance ids of the visible parts (0: background,
 * 1..n), not classes: any object is a segmentation target, as in SA-1B. `domain` shifts the
 * background texture and the colours (its shape knob does not apply: the forms vary anyway).
 */
import { z } from 'zod';
import { defineNode, type Emission } from '../../graph/node.ts';
import { Image, LabelMap, type RawImage } from '../ports.ts';
import { mixSeed, mulberry32 } from '../random.ts';
import { applyHueRotation, applyTexture, clamp255, domainRandom, NO_SHIFT, type Domain } from './synthetic-domain.ts';
import { SyntheticSetParams, syntheticItems, syntheticTotal } from './synthetic-source.ts';

export const GENERIC_FORMS = ['ellipse', 'rectangle', 'triangle', 'ring', 'star', 'cross', 'polygon'] as const;
const FILLS = ['solid', 'stripes', 'checks', 'gradient', 'speckle'] as const;

type Rgb = readonly [number, number, number];

/** A pixel colour for a fill at object-normalised (u, v), drawn once per object. */
function makeFill(random: () => number, base: Rgb): (u: number, v: number) => Rgb {
  const fill = FILLS[Math.floor(random() * FILLS.length)]!;
  const other: Rgb = [random() * 255, random() * 255, random() * 255];
  const period = 0.25 + 0.5 * random();
  const angle = random() * Math.PI;
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  const mix = (t: number): Rgb => [base[0] * (1 - t) + other[0] * t, base[1] * (1 - t) + other[1] * t, base[2] * (1 - t) + other[2] * t];
  switch (fill) {
    case 'stripes':
      return (u, v) => mix(Math.sin(((u * c + v * s) / period) * Math.PI) > 0 ? 0.6 : 0);
    case 'checks':
      return (u, v) => mix((Math.floor(u / period) + Math.floor(v / period)) % 2 === 0 ? 0.6 : 0);
    case 'gradient':
      return (u, v) => mix(Math.max(0, Math.min(1, 0.5 + 0.5 * (u * c + v * s))));
    default:
      return () => base;
  }
}

/** An inside test in object-normalised coordinates (the object's frame, radius 1). */
function makeForm(random: () => number): (u: number, v: number) => boolean {
  const form = GENERIC_FORMS[Math.floor(random() * GENERIC_FORMS.length)]!;
  const inner = 0.35 + 0.35 * random();
  const arms = 3 + Math.floor(random() * 5);
  const phase = random() * Math.PI * 2;
  const depth = 0.3 + 0.4 * random();
  // A random convex-ish polygon: radii per vertex.
  const radii = Array.from({ length: arms }, () => 0.6 + 0.4 * random());
  switch (form) {
    case 'rectangle':
      return (u, v) => Math.abs(u) <= 1 && Math.abs(v) <= 1;
    case 'triangle':
      return (u, v) => v <= 1 && v >= -1 && Math.abs(u) <= (v + 1) / 2;
    case 'ring':
      return (u, v) => {
        const r2 = u * u + v * v;
        return r2 <= 1 && r2 >= inner * inner;
      };
    case 'star':
      return (u, v) => Math.hypot(u, v) <= 1 - depth * (0.5 + 0.5 * Math.cos(arms * Math.atan2(v, u) + phase));
    case 'cross':
      return (u, v) => (Math.abs(u) <= 1 && Math.abs(v) <= inner / 1.5) || (Math.abs(v) <= 1 && Math.abs(u) <= inner / 1.5);
    case 'polygon':
      return (u, v) => {
        const a = (((Math.atan2(v, u) + phase) % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
        const k = (a / (2 * Math.PI)) * arms;
        const i = Math.floor(k) % arms;
        const t = k - Math.floor(k);
        return Math.hypot(u, v) <= radii[i]! * (1 - t) + radii[(i + 1) % arms]! * t;
      };
    default:
      return (u, v) => u * u + v * v <= 1;
  }
}

/** Draws one scene: the image and its instance-id map (visible parts after occlusion). */
export interface SceneComplexity {
  /** Objects drawn per scene, at least and at most. */
  readonly objects: readonly [number, number];
  /** Smallest object radius, as a fraction of the image side (the largest is 0.4). */
  readonly minScale: number;
}

export const GENERIC_COMPLEXITY: SceneComplexity = { objects: [4, 9], minScale: 0.06 };

export function syntheticGenericScene(size: number, seed: number, domain: Domain = NO_SHIFT, complexity: SceneComplexity = GENERIC_COMPLEXITY): { image: RawImage; instances: RawImage } {
  const random = mulberry32(seed);
  const range = (lo: number, hi: number) => lo + (hi - lo) * random();
  const image = new Uint8Array(size * size * 3);
  const instances = new Uint8Array(size * size);
  // Background: a colour gradient with mild noise, sometimes a fill pattern of its own.
  const base: Rgb = [range(40, 215), range(40, 215), range(40, 215)];
  const background = makeFill(random, base);
  const [bc, bs] = [range(-1, 1), range(-1, 1)];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const [u, v] = [(2 * x) / size - 1, (2 * y) / size - 1];
      const colour = background(u * 2, v * 2);
      const shade = 30 * (u * bc + v * bs);
      for (let c = 0; c < 3; c++) image[(y * size + x) * 3 + c] = clamp255(colour[c]! + shade + range(-10, 10));
    }
  }
  const [fewest, most] = complexity.objects;
  const objects = fewest + Math.floor(range(0, most - fewest + 1));
  for (let o = 1; o <= objects; o++) {
    const inside = makeForm(random);
    const fill = makeFill(random, [range(0, 255), range(0, 255), range(0, 255)]);
    // Scales from small parts to large regions, log-uniform.
    const scale = complexity.minScale * Math.exp(range(0, Math.log(0.4 / complexity.minScale)));
    const [rx, ry] = [scale * range(0.6, 1.4) * size, scale * range(0.6, 1.4) * size];
    const [cx, cy] = [range(0.05, 0.95) * size, range(0.05, 0.95) * size];
    const rot = range(0, Math.PI);
    const [cos, sin] = [Math.cos(rot), Math.sin(rot)];
    const noise = range(0, 25);
    const reach = Math.ceil(Math.max(rx, ry) * 1.5);
    for (let y = Math.max(0, Math.floor(cy - reach)); y < Math.min(size, Math.ceil(cy + reach)); y++) {
      for (let x = Math.max(0, Math.floor(cx - reach)); x < Math.min(size, Math.ceil(cx + reach)); x++) {
        const [dx, dy] = [x + 0.5 - cx, y + 0.5 - cy];
        const u = (dx * cos + dy * sin) / rx;
        const v = (-dx * sin + dy * cos) / ry;
        if (!inside(u, v)) continue;
        const i = y * size + x;
        instances[i] = o;
        const colour = fill(u, v);
        for (let c = 0; c < 3; c++) image[i * 3 + c] = clamp255(colour[c]! + range(-noise, noise));
      }
    }
  }
  const shift = domainRandom(seed);
  applyTexture(image, size, domain.texture, shift, (i) => instances[i] === 0);
  applyHueRotation(image, domain.colour);
  return { image: { width: size, height: size, channels: 3, data: image }, instances: { width: size, height: size, channels: 1, data: instances } };
}

export const SyntheticGenericParams = SyntheticSetParams.extend({
  test: z.number().int().min(0).default(0).describe("held-out 'test' scenes, made from seeds train and val never use"),
  testOnly: z.boolean().default(false).describe("yield only the 'test' scenes, once (an evaluation)"),
  objects: z.tuple([z.number().int().min(1), z.number().int().min(1)]).default([4, 9]).describe('objects drawn per scene: at least, at most (at most 254)'),
  minScale: z.number().gt(0).max(0.4).default(0.06).describe("smallest object radius as a fraction of the image side (the largest: 0.4)"),
}).refine((p) => p.objects[0] <= p.objects[1] && p.objects[1] <= 254, { message: "'objects' must be [fewest, most] with fewest <= most <= 254", path: ['objects'] });
export type SyntheticGenericParams = z.output<typeof SyntheticGenericParams>;

/** Not synthetic-source's split ids (train 1, val 2): the test scenes are a third set. */
const TEST_SPLIT_ID = 3;

function* genericItems(p: SyntheticGenericParams, nodeSeed: number, skip: number): Generator<Emission<ReturnType<typeof syntheticGenericScene>>> {
  const make = (seed: number) => syntheticGenericScene(p.size, seed, p.domain, p);
  if (!p.testOnly) yield* syntheticItems(p, nodeSeed, make, skip);
  const seed = mixSeed(nodeSeed, p.seed);
  const done = p.testOnly ? 0 : syntheticTotal(p);
  for (let index = 0; index < p.test; index++) {
    if (done + index < skip) continue;
    yield { values: make(mixSeed(seed, TEST_SPLIT_ID, index)), meta: { split: 'test', epoch: 0, groupEnd: index === p.test - 1 } };
  }
}

export const SyntheticGeneric = defineNode({
  kind: 'data/synthetic-generic',
  description: 'deterministic generic scenes for promptable pre-training: many occluding objects of varied form, fill, colour and scale, with instance ids',
  placement: 'main',
  inputs: {},
  outputs: { image: Image, instances: LabelMap },
  params: SyntheticGenericParams,
  main: {
    type: 'source',
    resumable: true,
    total: (p) => (p.testOnly ? 0 : syntheticTotal(p)) + p.test,
    create: (p, ctx) => genericItems(p, ctx.seed, ctx.skip),
  },
});
