/**
 * Surface-normal angle errors over valid pixels, accumulated over a dataset (LibMTL's NYUv2
 * protocol: all test pixels pooled): e = degrees(arccos(clamp(⟨n̂, n⟩, −1, 1))) with n̂ the
 * unit-normalised prediction; mean, median and the fractions of pixels with e < 11.25°,
 * < 22.5° and < 30° (fractions; ×100 for %). A pixel is valid when its ground-truth
 * components sum to a non-zero value, as in the benchmark code (`torch.sum(gt, 1) != 0`).
 *
 * The median is read from a histogram of 1e−4° bins (the midpoint of the bin holding each
 * middle value), so it is exact to ±5e−5°, without keeping every pixel's error (NYUv2's test
 * set alone has 72 M). Mean and fractions are exact.
 *
 * ```ts
 * const n = new NormalErrors();
 * n.add(pred, gt); // Float32Arrays of xyz triples
 * n.summary(); // { mean, median, within11_25, within22_5, within30 }
 * ```
 */
const BIN = 1e-4;
const BINS = Math.round(180 / BIN) + 1;

export interface NormalSummary {
  readonly mean: number;
  readonly median: number;
  readonly within11_25: number;
  readonly within22_5: number;
  readonly within30: number;
}

export class NormalErrors {
  private readonly histogram = new Uint32Array(BINS);
  private count = 0;
  private sum = 0;
  private readonly below = [0, 0, 0];

  add(pred: ArrayLike<number>, gt: ArrayLike<number>): void {
    if (pred.length !== gt.length || gt.length % 3 !== 0) {
      throw new Error(`NormalErrors: ${pred.length} predicted and ${gt.length} ground-truth components; both must be the same multiple of 3`);
    }
    for (let i = 0; i < gt.length; i += 3) {
      const gx = gt[i]!;
      const gy = gt[i + 1]!;
      const gz = gt[i + 2]!;
      if (gx + gy + gz === 0) continue;
      const px = pred[i]!;
      const py = pred[i + 1]!;
      const pz = pred[i + 2]!;
      const norm = Math.sqrt(px * px + py * py + pz * pz);
      const cos = (px * gx + py * gy + pz * gz) / norm;
      const e = (Math.acos(Math.min(1, Math.max(-1, cos))) * 180) / Math.PI;
      if (Number.isNaN(e)) throw new Error(`NormalErrors: the predicted normal at pixel ${i / 3} is (0, 0, 0) or not finite`);
      this.sum += e;
      this.count++;
      if (e < 11.25) this.below[0]!++;
      if (e < 22.5) this.below[1]!++;
      if (e < 30) this.below[2]!++;
      this.histogram[Math.min(BINS - 1, Math.floor(e / BIN))]!++;
    }
  }

  get pixels(): number {
    return this.count;
  }

  summary(): NormalSummary {
    const n = this.count;
    if (n === 0) return { mean: NaN, median: NaN, within11_25: NaN, within22_5: NaN, within30: NaN };
    return {
      mean: this.sum / n,
      median: (this.kth(Math.floor((n - 1) / 2)) + this.kth(Math.ceil((n - 1) / 2))) / 2,
      within11_25: this.below[0]! / n,
      within22_5: this.below[1]! / n,
      within30: this.below[2]! / n,
    };
  }

  /** The midpoint of the bin holding the k-th smallest error (0-based). */
  private kth(k: number): number {
    let seen = 0;
    for (let b = 0; b < BINS; b++) {
      seen += this.histogram[b]!;
      if (seen > k) return (b + 0.5) * BIN;
    }
    return 180;
  }
}
