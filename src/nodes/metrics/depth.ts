/**
 * Depth errors over valid pixels (ground truth ≠ 0), accumulated over a dataset:
 * Abs Err = Σ_V |d̂ − d| / |V|, Rel Err = Σ_V |d̂ − d| / d / |V|.
 *
 * The aggregate is the global pixel average (LibMTL weights each batch by its valid pixels,
 * which is the same). MTAN/MTSAM instead average per-batch values with equal weight, i.e. per
 * image at batch 1; `perImage()` gives those per-image values, so either can be reported.
 *
 * ```ts
 * const d = new DepthErrors();
 * d.add(pred, gt); // Float32Arrays, one value per pixel
 * d.absErr(); d.relErr();
 * ```
 */
export class DepthErrors {
  private abs = 0;
  private rel = 0;
  private count = 0;
  private readonly images: { absErr: number; relErr: number; pixels: number }[] = [];

  /** Adds one image (or a batch, as one unit) of predicted and ground-truth depths. */
  add(pred: ArrayLike<number>, gt: ArrayLike<number>): void {
    if (pred.length !== gt.length) throw new Error(`DepthErrors: ${pred.length} predicted depths for ${gt.length} ground-truth depths`);
    let abs = 0;
    let rel = 0;
    let count = 0;
    for (let i = 0; i < gt.length; i++) {
      const d = gt[i]!;
      if (d === 0) continue;
      const e = Math.abs(pred[i]! - d);
      abs += e;
      rel += e / d;
      count++;
    }
    this.abs += abs;
    this.rel += rel;
    this.count += count;
    this.images.push({ absErr: count ? abs / count : NaN, relErr: count ? rel / count : NaN, pixels: count });
  }

  /** Valid pixels seen so far. */
  get pixels(): number {
    return this.count;
  }

  absErr(): number {
    return this.count ? this.abs / this.count : NaN;
  }

  relErr(): number {
    return this.count ? this.rel / this.count : NaN;
  }

  /** Per added unit: its own Abs/Rel Err (NaN when it had no valid pixel) and its valid-pixel count. */
  perImage(): readonly { absErr: number; relErr: number; pixels: number }[] {
    return this.images;
  }
}
