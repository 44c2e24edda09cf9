/**
 * A synthetic binary segmentation set, made on the fly and deterministic by seed: textured
 * backgrounds with reddish target blobs (the mask) and blue-green distractor shapes (not the
 * mask). Each epoch yields the training split in a fresh shuffled order, then the validation
 * split, whose images the model never trains on. `domain` shifts the look (textures, colours,
 * shapes; see synthetic-domain.ts) so that a model trained on the default has something to adapt to.
 */
import { defineNode } from '../../graph/node.ts';
import { BinaryMask, Image, type RawImage } from '../ports.ts';
import { mulberry32 } from '../random.ts';
import { SyntheticSetParams, syntheticItems, syntheticTotal } from './synthetic-source.ts';
import { applyHueRotation, applyTexture, domainRandom, DomainParams, NO_SHIFT, outline, type Domain } from './synthetic-domain.ts';

/** The shared synthetic-set schedule (splits, epochs, seeds; see synthetic-source.ts). */
export const SyntheticShapesParams = SyntheticSetParams;

/** Draws one sample; exported for tests and benchmarks. */
export function syntheticShape(size: number, seed: number, domain: Domain = NO_SHIFT): { image: RawImage; mask: RawImage } {
  const random = mulberry32(seed);
  const shift = domainRandom(seed);
  const object = new Uint8Array(size * size);
  const range = (lo: number, hi: number) => lo + (hi - lo) * random();
  const image = new Uint8Array(size * size * 3);
  const mask = new Uint8Array(size * size);
  // Greyish backgrounds with a mild tint: never as red as a target.
  const grey = range(70, 190);
  const base = [grey + range(-25, 10), grey + range(-20, 20), grey + range(-20, 20)];
  const grad = [range(-60, 60), range(-60, 60), range(-60, 60)];
  const angle = range(0, Math.PI * 2);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = ((x - size / 2) * Math.cos(angle) + (y - size / 2) * Math.sin(angle)) / size;
      for (let c = 0; c < 3; c++) image[(y * size + x) * 3 + c] = clamp(base[c]! + grad[c]! * t + range(-18, 18));
    }
  }
  const blob = (target: boolean) => {
    const cx = range(0.15, 0.85) * size;
    const cy = range(0.15, 0.85) * size;
    const rx = range(0.07, 0.22) * size;
    const ry = range(0.07, 0.22) * size;
    const rot = range(0, Math.PI);
    const square = !target && random() < 0.5;
    const round = outline(domain.shape, shift);
    const colour = target
      ? [range(170, 250), range(30, 100), range(30, 100)]
      : [range(20, 90), range(90, 220), range(90, 220)];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const dx = x - cx;
        const dy = y - cy;
        const u = (dx * Math.cos(rot) + dy * Math.sin(rot)) / rx;
        const v = (-dx * Math.sin(rot) + dy * Math.cos(rot)) / ry;
        const inside = square ? Math.abs(u) <= 1 && Math.abs(v) <= 1 : round(u, v);
        if (!inside) continue;
        object[y * size + x] = 1;
        for (let c = 0; c < 3; c++) image[(y * size + x) * 3 + c] = clamp(colour[c]! + range(-25, 25));
        mask[y * size + x] = target ? 1 : 0;
      }
    }
  };
  const distractors = Math.floor(range(0, 3));
  for (let i = 0; i < distractors; i++) blob(false);
  const targets = 1 + Math.floor(range(0, 2));
  for (let i = 0; i < targets; i++) blob(true);
  applyTexture(image, size, domain.texture, shift, (i) => object[i] === 0);
  applyHueRotation(image, domain.colour);
  return {
    image: { width: size, height: size, channels: 3, data: image },
    mask: { width: size, height: size, channels: 1, data: mask },
  };
}

function clamp(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

export const SyntheticShapes = defineNode({
  kind: 'data/synthetic-shapes',
  description: 'deterministic synthetic binary segmentation set (reddish blobs vs distractors)',
  placement: 'main',
  inputs: {},
  outputs: { image: Image, mask: BinaryMask },
  params: SyntheticShapesParams,
  main: {
    type: 'source',
    resumable: true,
    total: syntheticTotal,
    create: (p, ctx) => syntheticItems(p, ctx.seed, (seed) => syntheticShape(p.size, seed, p.domain), ctx.skip),
  },
});
