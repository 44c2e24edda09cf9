/**
 * A synthetic multi-task set (segmentation + depth + surface normals), deterministic by seed:
 * a pinhole view of a room, with a back wall (class 0), a floor (class 1), spheres (class 2)
 * and boxes (class 3), Lambert-shaded. Depth is in metres; normals are unit vectors with x to
 * the right, y up and z towards the camera. Some images have a sensor hole, as NYUv2 does:
 * depth 0, normal (0, 0, 0) and label 255 (ignore) there. `domain` shifts the look.
 */
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { DepthMap, IGNORE_LABEL, Image, LabelMap, NormalMap, type FloatImage, type RawImage } from '../ports.ts';
import { mulberry32 } from '../random.ts';
import { applyHueRotation, applyTexture, clamp255, domainRandom, NO_SHIFT, outline, type Domain } from './synthetic-domain.ts';
import { SyntheticSetParams, syntheticItems, syntheticTotal } from './synthetic-source.ts';

export const SCENE_CLASSES = ['wall', 'floor', 'sphere', 'box'] as const;

export interface SceneSample {
  image: RawImage;
  label: RawImage;
  depth: FloatImage;
  normal: FloatImage;
}

export function syntheticScene(size: number, seed: number, domain: Domain = NO_SHIFT): SceneSample {
  const random = mulberry32(seed);
  const shift = domainRandom(seed);
  const range = (lo: number, hi: number) => lo + (hi - lo) * random();
  const n = size * size;
  const albedo = new Float32Array(n * 3);
  const label = new Uint8Array(n);
  const depth = new Float32Array(n);
  const normal = new Float32Array(n * 3);
  const set = (i: number, k: number, d: number, nx: number, ny: number, nz: number, colour: readonly number[]) => {
    label[i] = k;
    depth[i] = d;
    normal.set([nx, ny, nz], i * 3);
    albedo.set(colour, i * 3);
  };
  // Camera: focal length `size` pixels, 1.4 m above the floor, horizon at row `horizon`.
  const focal = size;
  const cameraHeight = 1.4;
  const horizon = size * range(0.15, 0.3);
  const wallDepth = range(3.5, 6);
  const wallColour = [range(150, 210), range(140, 200), range(120, 180)];
  const floorColour = [range(90, 150), range(60, 110), range(40, 80)];
  for (let y = 0; y < size; y++) {
    const floorDepth = y + 0.5 > horizon ? (cameraHeight * focal) / (y + 0.5 - horizon) : Infinity;
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      if (floorDepth < wallDepth) set(i, 1, floorDepth, 0, 1, 0, floorColour);
      else set(i, 0, wallDepth, 0, 0, 1, wallColour);
    }
  }
  // Objects stand on the floor, drawn far to near.
  const objects = Array.from({ length: 1 + Math.floor(range(0, 3)) }, () => ({
    sphere: random() < 0.5,
    depth: range(1.6, wallDepth - 0.6),
    x: range(0.15, 0.85) * size,
    radius: range(0.25, 0.6),
    colour: [range(30, 230), range(30, 230), range(30, 230)],
    round: outline(domain.shape, shift),
  })).sort((a, b) => b.depth - a.depth);
  for (const o of objects) {
    const r = (o.radius * focal) / o.depth; // pixels
    const floorRow = horizon + (cameraHeight * focal) / o.depth;
    if (o.sphere) {
      const cy = floorRow - r;
      for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(size, Math.ceil(cy + r + 1)); y++) {
        for (let x = Math.max(0, Math.floor(o.x - r)); x < Math.min(size, Math.ceil(o.x + r + 1)); x++) {
          const dx = (x + 0.5 - o.x) / r;
          const dy = (y + 0.5 - cy) / r;
          if (!o.round(dx, dy) || dx * dx + dy * dy > 1) continue;
          const nz = Math.sqrt(Math.max(0, 1 - dx * dx - dy * dy));
          const d = o.depth - o.radius * nz;
          const i = y * size + x;
          if (d < depth[i]!) set(i, 2, d, dx, -dy, nz, o.colour);
        }
      }
    } else {
      const half = r;
      for (let y = Math.max(0, Math.floor(floorRow - 2 * half)); y < Math.min(size, Math.ceil(floorRow)); y++) {
        for (let x = Math.max(0, Math.floor(o.x - half)); x < Math.min(size, Math.ceil(o.x + half)); x++) {
          const i = y * size + x;
          if (o.depth < depth[i]!) set(i, 3, o.depth, 0, 0, 1, o.colour);
        }
      }
    }
  }
  // Lambert shading under one light, plus a little noise.
  const light = [-0.4, 0.6, 0.7];
  const norm = Math.hypot(...light);
  const image = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const lambert = (normal[i * 3]! * light[0]! + normal[i * 3 + 1]! * light[1]! + normal[i * 3 + 2]! * light[2]!) / norm;
    const shade = 0.35 + 0.65 * Math.max(0, lambert);
    for (let c = 0; c < 3; c++) image[i * 3 + c] = clamp255(albedo[i * 3 + c]! * shade + range(-8, 8));
  }
  applyTexture(image, size, domain.texture, shift, (i) => label[i]! <= 1);
  applyHueRotation(image, domain.colour);
  // A sensor hole: no depth, no normal, ignored label.
  if (random() < 0.3) {
    const [w, h] = [Math.floor(range(0.05, 0.2) * size), Math.floor(range(0.05, 0.2) * size)];
    const [x0, y0] = [Math.floor(range(0, size - w)), Math.floor(range(0, size - h))];
    for (let y = y0; y < y0 + h; y++) {
      for (let x = x0; x < x0 + w; x++) {
        const i = y * size + x;
        label[i] = IGNORE_LABEL;
        depth[i] = 0;
        normal.set([0, 0, 0], i * 3);
      }
    }
  }
  return {
    image: { width: size, height: size, channels: 3, data: image },
    label: { width: size, height: size, channels: 1, data: label },
    depth: { width: size, height: size, channels: 1, data: depth },
    normal: { width: size, height: size, channels: 3, data: normal },
  };
}

export const SyntheticScenes = defineNode({
  kind: 'data/synthetic-scenes',
  description: 'deterministic synthetic multi-task set: room scenes with class ids, depth and surface normals',
  placement: 'main',
  inputs: {},
  outputs: { image: Image, label: LabelMap, depth: DepthMap, normal: NormalMap },
  params: SyntheticSetParams,
  main: {
    type: 'source',
    resumable: true,
    total: syntheticTotal,
    create: (p, ctx) => syntheticItems(p, ctx.seed, (seed) => syntheticScene(p.size, seed, p.domain), ctx.skip),
  },
});
