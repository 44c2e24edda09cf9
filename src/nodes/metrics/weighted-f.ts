/**
 * Weighted F-measure (Margolin, Zelnik-Manor and Tal, CVPR 2014) with β² = 0.3, as the
 * Conv-LoRA code computes it (PySODMetrics' `WeightedFmeasure`, a port of the authors' Matlab)
 * on the min-max normalised prediction (see `sodPrepare`). Higher is better, in [0, 1].
 *
 * Steps: E = |pred − gt|; background pixels take the error of their nearest foreground pixel
 * (exact EDT, scipy's tie-breaking, see `distanceTransform`); that map is blurred with Matlab's
 * `fspecial('gaussian', 7, 5)` (zero padding); on the foreground the smaller of E and the blur
 * is kept; background errors are weighted by `2 − exp(ln 0.5 / 5 · distance)`. Then
 * R = 1 − mean(Ew on fg), P = TPw / (TPw + FPw + eps), Q = (1 + β²)RP / (R + β²P + eps).
 * An empty ground truth scores 0. Note the code's parameter named `beta` is used as β².
 *
 * ```ts
 * weightedF({ width: 2, height: 1, pred: new Float32Array([1, 0]), gt: new Uint8Array([255, 0]) }); // 1
 * ```
 */
import { EPS, sodPrepare, type BinaryImage, type SodInput } from './binary-image.ts';
import { distanceTransform } from './distance-transform.ts';

export function weightedF(img: BinaryImage, betaSquared = 0.3): number {
  return weightedFPrepared(sodPrepare(img), betaSquared);
}

/** Matlab's fspecial('gaussian', size, sigma) as its separable 1-D factor (it is an outer product). */
export function gaussianKernel1d(size = 7, sigma = 5): Float64Array {
  const half = (size - 1) / 2;
  const k = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = i - half;
    k[i] = Math.exp(-(x * x) / (2 * sigma * sigma));
    sum += k[i]!;
  }
  for (let i = 0; i < size; i++) k[i]! /= sum;
  return k;
}

const KERNEL = gaussianKernel1d(7, 5);

/** Zero-padded "same" convolution with the separable kernel k ⊗ k (scipy mode='constant'). */
export function gaussianBlur(src: Float64Array, width: number, height: number, k: Float64Array = KERNEL): Float64Array {
  const half = (k.length - 1) / 2;
  const tmp = new Float64Array(width * height);
  for (let r = 0; r < height; r++) {
    const row = r * width;
    for (let c = 0; c < width; c++) {
      const lo = c < half ? half - c : 0;
      const hi = c + half >= width ? half + (width - 1 - c) : 2 * half;
      let s = 0;
      for (let j = lo, at = row + c - half + lo; j <= hi; j++, at++) s += k[j]! * src[at]!;
      tmp[row + c] = s;
    }
  }
  // Vertical pass row by row (cache friendly); each pixel still sums its taps in order.
  const out = new Float64Array(width * height);
  for (let r = 0; r < height; r++) {
    const row = r * width;
    const lo = r < half ? half - r : 0;
    const hi = r + half >= height ? half + (height - 1 - r) : 2 * half;
    for (let j = lo; j <= hi; j++) {
      const kj = k[j]!;
      const from = (r - half + j) * width;
      for (let c = 0; c < width; c++) out[row + c]! += kj * tmp[from + c]!;
    }
  }
  return out;
}

export function weightedFPrepared({ pred, gt, width, height, foreground }: SodInput, betaSquared = 0.3): number {
  if (foreground === 0) return 0;
  const n = width * height;
  const { distance, nearest } = distanceTransform(gt, width, height);
  const e = new Float64Array(n);
  for (let i = 0; i < n; i++) e[i] = Math.abs(pred[i]! - gt[i]!);
  const et = new Float64Array(n);
  for (let i = 0; i < n; i++) et[i] = gt[i] ? e[i]! : e[nearest[i]!]!;
  const ea = gaussianBlur(et, width, height);
  const decay = Math.log(0.5) / 5;
  let ewFg = 0;
  let ewBg = 0;
  for (let i = 0; i < n; i++) {
    if (gt[i]) {
      ewFg += ea[i]! < e[i]! ? ea[i]! : e[i]!;
    } else {
      ewBg += e[i]! * (2 - Math.exp(decay * distance[i]!));
    }
  }
  const tpw = foreground - ewFg;
  const fpw = ewBg;
  const recall = 1 - ewFg / foreground;
  const precision = tpw / (tpw + fpw + EPS);
  return ((1 + betaSquared) * recall * precision) / (recall + betaSquared * precision + EPS);
}
