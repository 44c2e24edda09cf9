/**
 * The domain-shift knob of the synthetic data sets: how far a set drifts from the "source"
 * look, in three independent directions, each 0 (none; the default) to 1 (strong):
 * - texture: striped / checkered background patterns of growing contrast;
 * - colour: a hue rotation of the whole image (1 = 120 degrees, so reddish targets turn green);
 * - shape: objects become star-like instead of smooth ellipses.
 * Fine-tuning on shifted data after training on the default shows adaptation. The knob draws
 * from its own random stream, so a zero knob leaves every image exactly as it was.
 */
import { z } from 'zod';
import { mixSeed, mulberry32 } from '../random.ts';

export const DomainParams = z
  .object({
    texture: z.number().min(0).max(1).default(0).describe('background pattern strength'),
    colour: z.number().min(0).max(1).default(0).describe('hue rotation, 1 = 120 degrees'),
    shape: z.number().min(0).max(1).default(0).describe('how star-like object outlines become'),
  })
  .default({ texture: 0, colour: 0, shape: 0 })
  .describe('domain shift away from the default look (all 0: none)');
export type Domain = z.output<typeof DomainParams>;

export const NO_SHIFT: Domain = { texture: 0, colour: 0, shape: 0 };

export const isShifted = (d: Domain) => d.texture > 0 || d.colour > 0 || d.shape > 0;

/** The knob's own random stream for one image. */
export function domainRandom(seed: number): () => number {
  return mulberry32(mixSeed(seed, 0xd0a1));
}

/** A background pattern in [-1, 1] for pixel (x, y): stripes or a checkerboard, drawn once per image. */
export function texturePattern(size: number, random: () => number): (x: number, y: number) => number {
  const angle = random() * Math.PI;
  const period = size * (0.06 + 0.12 * random());
  const checker = random() < 0.5;
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  return (x, y) => {
    const u = (x * c + y * s) / period;
    if (!checker) return Math.sin(2 * Math.PI * u);
    const v = (-x * s + y * c) / period;
    return (Math.floor(u) + Math.floor(v)) % 2 === 0 ? 1 : -1;
  };
}

/** Adds the texture pattern to the pixels where `background(i)` holds. */
export function applyTexture(image: Uint8Array, size: number, strength: number, random: () => number, background: (i: number) => boolean): void {
  if (strength <= 0) return;
  const pattern = texturePattern(size, random);
  const amplitude = 60 * strength;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      if (!background(i)) continue;
      const d = pattern(x, y) * amplitude;
      for (let c = 0; c < 3; c++) image[i * 3 + c] = clamp255(image[i * 3 + c]! + d);
    }
  }
}

/** Rotates every pixel's hue by `colour` x 120 degrees (a luminance-preserving RGB rotation). */
export function applyHueRotation(image: Uint8Array, colour: number): void {
  if (colour <= 0) return;
  const t = (colour * 2 * Math.PI) / 3;
  const [cos, sin] = [Math.cos(t), Math.sin(t)];
  const k = 1 / 3;
  const q = Math.sqrt(k);
  // Rotation about the grey axis (1, 1, 1).
  const m = [
    cos + (1 - cos) * k, k * (1 - cos) - q * sin, k * (1 - cos) + q * sin,
    k * (1 - cos) + q * sin, cos + k * (1 - cos), k * (1 - cos) - q * sin,
    k * (1 - cos) - q * sin, k * (1 - cos) + q * sin, cos + k * (1 - cos),
  ];
  for (let i = 0; i < image.length; i += 3) {
    const [r, g, b] = [image[i]!, image[i + 1]!, image[i + 2]!];
    image[i] = clamp255(m[0]! * r + m[1]! * g + m[2]! * b);
    image[i + 1] = clamp255(m[3]! * r + m[4]! * g + m[5]! * b);
    image[i + 2] = clamp255(m[6]! * r + m[7]! * g + m[8]! * b);
  }
}

/**
 * An outline test for an object: a unit ellipse at shape 0, a star whose arms deepen with
 * `shape` (drawn with probability `shape` per object). u, v are object-normalised coordinates.
 */
export function outline(shape: number, random: () => number): (u: number, v: number) => boolean {
  if (shape <= 0 || random() >= shape) {
    random();
    random();
    return (u, v) => u * u + v * v <= 1;
  }
  const arms = 3 + Math.floor(random() * 4);
  const phase = random() * Math.PI * 2;
  const depth = 0.25 + 0.4 * shape;
  return (u, v) => {
    const r = Math.sqrt(u * u + v * v);
    const limit = 1 - depth * (0.5 + 0.5 * Math.cos(arms * Math.atan2(v, u) + phase));
    return r <= limit;
  };
}

export function clamp255(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}
