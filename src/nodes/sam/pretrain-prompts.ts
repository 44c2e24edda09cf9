/**
 * Prompts simulated from a ground-truth mask, as SAM's training and its zero-shot evaluation
 * make them (Kirillov et al. 2023, §3 and appendix A): a foreground point drawn uniformly from
 * the mask, a box around the mask with each coordinate jittered by noise of standard deviation
 * 10 % of the box side (at most 20 px), and for evaluation the deterministic "centre" point,
 * the mask pixel farthest from its boundary. Coordinates are pixel indices (x, y) in the model's
 * input frame; the prompt encoder moves them to pixel centres.
 */
import { distanceTransform } from '../metrics/distance-transform.ts';
import { gaussian } from '../random.ts';

export interface PointPrompt {
  readonly x: number;
  readonly y: number;
  /** 1 foreground, 0 background (an empty target gets a background point at the centre). */
  readonly label: 0 | 1;
}

export type Box = readonly [number, number, number, number];

function foreground(mask: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]! > 0.5) out.push(i);
  return out;
}

/** A uniformly drawn foreground pixel of an HxW mask. */
export function randomPoint(mask: ArrayLike<number>, width: number, random: () => number): PointPrompt {
  const fg = foreground(mask);
  if (!fg.length) return { x: Math.floor(width / 2), y: Math.floor(mask.length / width / 2), label: 0 };
  const i = fg[Math.floor(random() * fg.length)]!;
  return { x: i % width, y: Math.floor(i / width), label: 1 };
}

/** The foreground pixel farthest from the background (the first of equals, in raster order). */
export function centrePoint(mask: ArrayLike<number>, width: number): PointPrompt {
  const height = mask.length / width;
  const background = new Uint8Array(mask.length);
  let any = false;
  for (let i = 0; i < mask.length; i++) {
    background[i] = mask[i]! > 0.5 ? 0 : 1;
    any ||= background[i] === 0;
  }
  if (!any) return { x: Math.floor(width / 2), y: Math.floor(height / 2), label: 0 };
  // Pixels outside the image count as background: pad by one, so a mask touching the border has its centre inside.
  const pw = width + 2;
  const padded = new Uint8Array(pw * (height + 2)).fill(1);
  for (let y = 0; y < height; y++) padded.set(background.subarray(y * width, (y + 1) * width), (y + 1) * pw + 1);
  const { distance } = distanceTransform(padded, pw, height + 2);
  let best = -1;
  let at = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const d = distance[(y + 1) * pw + x + 1]!;
      if (d > best) [best, at] = [d, y * width + x];
    }
  }
  return { x: at % width, y: Math.floor(at / width), label: 1 };
}

/** The mask's bounding box (x0, y0, x1, y1), jittered as SAM's training does; the whole image for an empty mask. */
export function noisyBox(mask: ArrayLike<number>, width: number, random: () => number): Box {
  const height = mask.length / width;
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]! <= 0.5) continue;
    const [x, y] = [i % width, Math.floor(i / width)];
    [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
  }
  if (x1 < 0) return [0, 0, width - 1, height - 1];
  const jitter = (side: number) => Math.max(-20, Math.min(20, 0.1 * side * gaussian(random)));
  const [w, h] = [x1 - x0 + 1, y1 - y0 + 1];
  const clampX = (v: number) => Math.max(0, Math.min(width - 1, v));
  const clampY = (v: number) => Math.max(0, Math.min(height - 1, v));
  const [a, b, c, d] = [clampX(x0 + jitter(w)), clampY(y0 + jitter(h)), clampX(x1 + jitter(w)), clampY(y1 + jitter(h))];
  return [Math.min(a, c), Math.min(b, d), Math.max(a, c), Math.max(b, d)];
}
