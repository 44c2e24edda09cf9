/**
 * Mean E-measure (enhanced-alignment measure; Fan et al., IJCAI 2018) over 256 thresholds, as
 * the Conv-LoRA code reports it (PySODMetrics' `Emeasure`, "curve" averaged): the min-max
 * normalised prediction (see `sodPrepare`) is truncated to `uint8(pred · 255)` and binarised at
 * every threshold t = 0..255 (`pred ≥ t`, via a reversed cumulative histogram). Higher is better.
 *
 * Quirks kept from that code: the enhanced-alignment sum is divided by `HW − 1 + eps`, so a
 * perfect score is slightly above 1; an all-background ground truth scores the fraction of
 * pixels predicted background (and an all-foreground one the fraction predicted foreground),
 * over the same `HW − 1`.
 *
 * ```ts
 * eMeasureCurve(sodPrepare(img)); // Float64Array(256), index k is threshold 255 − k
 * ```
 */
import { EPS, sodPrepare, type BinaryImage, type SodInput } from './binary-image.ts';

/** The mean of the 256-threshold E-measure curve of one image. */
export function eMeasure(img: BinaryImage): number {
  return eMeasurePrepared(sodPrepare(img));
}

export function eMeasurePrepared(input: SodInput): number {
  const curve = eMeasureCurve(input);
  let s = 0;
  for (let i = 0; i < 256; i++) s += curve[i]!;
  return s / 256;
}

/** E-measure at each threshold; index k holds threshold 255 − k (the toolbox's order). */
export function eMeasureCurve({ pred, gt, foreground }: SodInput): Float64Array {
  const size = gt.length;
  const fgHist = new Float64Array(256);
  const bgHist = new Float64Array(256);
  for (let i = 0; i < size; i++) {
    const bin = Math.trunc(pred[i]! * 255) & 255; // numpy's astype(uint8) on [0, 255]
    if (gt[i]) fgHist[bin]!++;
    else bgHist[bin]!++;
  }
  const curve = new Float64Array(256);
  const gtMean = foreground / size;
  let fgFg = 0;
  let fgBg = 0;
  for (let k = 0; k < 256; k++) {
    fgFg += fgHist[255 - k]!;
    fgBg += bgHist[255 - k]!;
    const predFg = fgFg + fgBg;
    const predBg = size - predFg;
    let sum: number;
    if (foreground === 0) {
      sum = predBg;
    } else if (foreground === size) {
      sum = predFg;
    } else {
      const bgFg = foreground - fgFg;
      const bgBg = predBg - bgFg;
      const predMean = predFg / size;
      sum =
        enhanced(1 - predMean, 1 - gtMean) * fgFg +
        enhanced(1 - predMean, -gtMean) * fgBg +
        enhanced(-predMean, 1 - gtMean) * bgFg +
        enhanced(-predMean, -gtMean) * bgBg;
    }
    curve[k] = sum / (size - 1 + EPS);
  }
  return curve;
}

function enhanced(a: number, b: number): number {
  const align = (2 * (a * b)) / (a * a + b * b + EPS);
  return ((align + 1) * (align + 1)) / 4;
}
