/**
 * S-measure (structure measure; Fan et al., ICCV 2017) with α = 0.5, as the Conv-LoRA code
 * computes it (PySODMetrics' `Smeasure` on the min-max normalised prediction, see
 * `sodPrepare`). Higher is better, in [0, 1].
 *
 * Kept quirks of that code, on purpose (users compare with its tables):
 * - an all-background ground truth scores `1 − mean(pred)`, an all-foreground one `mean(pred)`;
 * - standard deviations use N − 1, so a part with one pixel yields NaN, and so does a
 *   quadrant with no pixel (the centroid on the last row or column); a NaN score becomes 0
 *   (Python's `max(0, nan)`);
 * - the centroid is rounded half to even (`np.round`) and shifted by one, Matlab style.
 *
 * One deliberate difference: block means are computed relative to the block's first value,
 * so a constant block has exactly zero variance. numpy's plain mean can miss a non-dyadic
 * constant by one ulp and score such a block 0 instead of 1; exact arithmetic gives 1.
 *
 * ```ts
 * sMeasure({ width: 2, height: 1, pred: new Float32Array([0.2, 0.2]), gt: new Uint8Array([0, 0]) }); // 0.8
 * ```
 */
import { EPS, sodPrepare, type BinaryImage, type SodInput } from './binary-image.ts';

export function sMeasure(img: BinaryImage, alpha = 0.5): number {
  return sMeasurePrepared(sodPrepare(img), alpha);
}

export function sMeasurePrepared(input: SodInput, alpha = 0.5): number {
  const { pred, gt, width, height, foreground } = input;
  const n = width * height;
  if (foreground === 0) return 1 - mean(pred, 0, n);
  if (foreground === n) return mean(pred, 0, n);
  const score = alpha * objectScore(input) + (1 - alpha) * regionScore(input);
  // Python's max(0, nan) is 0.
  return score > 0 ? score : 0;
}

function mean(a: Float64Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i]!;
  return s / (to - from);
}

/** 2x̄ / (x̄² + 1 + σ + eps) over the pixels whose mask equals `which`, with v = f(pred). */
function objectPart(pred: Float64Array, gt: Uint8Array, which: 0 | 1): number {
  let count = 0;
  let shift = 0;
  let sum = 0;
  for (let i = 0; i < gt.length; i++) {
    if (gt[i] !== which) continue;
    const v = which === 1 ? pred[i]! : 1 - pred[i]!;
    if (count === 0) shift = v;
    sum += v - shift;
    count++;
  }
  const x = shift + sum / count;
  let ss = 0;
  for (let i = 0; i < gt.length; i++) {
    if (gt[i] !== which) continue;
    const d = (which === 1 ? pred[i]! : 1 - pred[i]!) - x;
    ss += d * d;
  }
  const sigma = Math.sqrt(ss / (count - 1)); // NaN for one pixel, as np.std(ddof=1)
  return (2 * x) / (x * x + 1 + sigma + EPS);
}

function objectScore({ pred, gt, foreground }: SodInput): number {
  const u = foreground / gt.length;
  return u * objectPart(pred, gt, 1) + (1 - u) * objectPart(pred, gt, 0);
}

/** numpy's round: half to even. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function regionScore({ pred, gt, width: w, height: h, foreground }: SodInput): number {
  let sy = 0;
  let sx = 0;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      if (gt[r * w + c]) {
        sy += r;
        sx += c;
      }
    }
  }
  const x = roundHalfEven(sx / foreground) + 1;
  const y = roundHalfEven(sy / foreground) + 1;
  const area = h * w;
  const w1 = (x * y) / area;
  const w2 = (y * (w - x)) / area;
  const w3 = ((h - y) * x) / area;
  const w4 = 1 - w1 - w2 - w3;
  return (
    w1 * ssim(pred, gt, w, 0, y, 0, x) +
    w2 * ssim(pred, gt, w, 0, y, x, w) +
    w3 * ssim(pred, gt, w, y, h, 0, x) +
    w4 * ssim(pred, gt, w, y, h, x, w)
  );
}

/** The SSIM-like block score over rows [r0, r1) and columns [c0, c1); NaN for ≤ 1 pixel. */
function ssim(pred: Float64Array, gt: Uint8Array, w: number, r0: number, r1: number, c0: number, c1: number): number {
  const n = (r1 - r0) * (c1 - c0);
  if (n <= 1) return NaN;
  const shift = pred[r0 * w + c0]!;
  let sp = 0;
  let sg = 0;
  for (let r = r0; r < r1; r++) {
    for (let c = c0; c < c1; c++) {
      sp += pred[r * w + c]! - shift;
      sg += gt[r * w + c]!;
    }
  }
  const x = shift + sp / n;
  const y = sg / n;
  let vx = 0;
  let vy = 0;
  let vxy = 0;
  for (let r = r0; r < r1; r++) {
    for (let c = c0; c < c1; c++) {
      const dx = pred[r * w + c]! - x;
      const dy = gt[r * w + c]! - y;
      vx += dx * dx;
      vy += dy * dy;
      vxy += dx * dy;
    }
  }
  const sigmaX = vx / (n - 1);
  const sigmaY = vy / (n - 1);
  const sigmaXY = vxy / (n - 1);
  const a = 4 * x * y * sigmaXY;
  const b = (x * x + y * y) * (sigmaX + sigmaY);
  if (a !== 0) return a / (b + EPS);
  return b === 0 ? 1 : 0;
}
