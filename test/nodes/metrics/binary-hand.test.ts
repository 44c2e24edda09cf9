/**
 * Each binary metric on tiny cases worked out by hand from the definitions (spec §4), including
 * the edge cases the toolboxes special-case; the numpy reference cases live in
 * binary-reference.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ber } from '../../../src/nodes/metrics/ber.ts';
import { sodPrepare } from '../../../src/nodes/metrics/binary-image.ts';
import { iou } from '../../../src/nodes/metrics/binary-iou.ts';
import { parseBinaryMetricNames } from '../../../src/nodes/metrics/binary-metrics.ts';
import { dice } from '../../../src/nodes/metrics/dice.ts';
import { distanceTransform } from '../../../src/nodes/metrics/distance-transform.ts';
import { eMeasure, eMeasureCurve } from '../../../src/nodes/metrics/e-measure.ts';
import { mae } from '../../../src/nodes/metrics/mae.ts';
import { roundHalfEven, sMeasure } from '../../../src/nodes/metrics/s-measure.ts';
import { gaussianKernel1d, weightedF } from '../../../src/nodes/metrics/weighted-f.ts';

const img = (pred: number[], gt: number[], width = pred.length, height = 1) => ({ width, height, pred: Float64Array.from(pred), gt: Float64Array.from(gt) });

describe('binary metrics by hand', () => {
  it('IoU and Dice at 0.5 (strictly above); both empty score 0; 8-bit input reads v / 255', () => {
    expect(iou(img([0.9, 0.9, 0.1, 0.5], [1, 0, 1, 0]))).toBeCloseTo(1 / 3, 12);
    expect(dice(img([0.9, 0.9, 0.1, 0.5], [1, 0, 1, 0]))).toBeCloseTo(2 / 4, 12);
    expect(iou(img([0, 0], [0, 0]))).toBe(0);
    expect(dice(img([0, 0], [0, 0]))).toBe(0);
    expect(iou(img([1, 1], [1, 1]))).toBe(1);
    // 128/255 > 0.5 but 127/255 is not
    expect(iou({ width: 2, height: 1, pred: new Uint8Array([128, 127]), gt: new Uint8Array([255, 255]) })).toBe(0.5);
  });

  it('BER per image: the mean of per-class recalls, a class absent from both left out', () => {
    expect(ber(img([1, 1], [1, 0]))).toBeCloseTo(0.5, 12); // recalls: fg 1, bg 0
    expect(ber(img([1, 0, 0, 0], [0, 0, 0, 0]))).toBeCloseTo(1 - (0 + 3 / 4) / 2, 12); // fg predicted but absent: recall 0 counts
    expect(ber(img([0, 0, 0, 0], [0, 0, 0, 0]))).toBe(0); // fg in neither: only bg counts
    // 0.49·255 = 124.95 ≤ 125 is background, 0.5·255 > 125 foreground: fg recall 1/2; bg is absent from
    // the truth but predicted once, so its recall (0/0 → 0) counts: BER = 1 − (1/2 + 0)/2
    expect(ber(img([0.49, 0.5], [1, 1]))).toBeCloseTo(0.75, 12);
  });

  it('MAE on the min-max normalised prediction; a constant prediction is left as is', () => {
    expect(mae(img([0.5, 0.5], [1, 0]))).toBeCloseTo(0.5, 12);
    expect(mae(img([0.2, 0.6, 0.4], [0, 1, 1]))).toBeCloseTo((0 + 0 + 0.5) / 3, 12); // → [0, 1, 0.5]
  });

  it('S-measure: empty / full ground truth use the mean prediction', () => {
    expect(sMeasure(img([0.2, 0.2], [0, 0]))).toBeCloseTo(0.8, 12);
    expect(sMeasure(img([0.25, 0.25], [1, 1]))).toBeCloseTo(0.25, 12);
    expect(sMeasure(img([0.1, 0.9], [0, 0]))).toBeCloseTo(0.5, 12); // normalised to [0, 1]
    expect([2.5, 3.5, 26.5, 26.4, 26.6].map(roundHalfEven)).toEqual([2, 4, 26, 26, 27]);
  });

  it('S-measure of a perfect prediction is 1, unless a quadrant has one pixel (the toolbox’s NaN → 0)', () => {
    // 5×5, foreground rows/cols 1–2: centroid 1.5 rounds (half to even) to 2, so x = y = 3 and the
    // quadrants are 3×3, 3×2, 2×3, 2×2. Object part: x̄ = 1, σ = 0 → 2/(1 + 1) = 1 for fg and bg;
    // each quadrant: x̄ = ȳ and σx = σy = σxy → 4x̄²σ / (2x̄² · 2σ) = 1, or 0/0 → 1 where constant.
    const gt5 = Array.from({ length: 25 }, (_, i) => (Math.floor(i / 5) >= 1 && Math.floor(i / 5) <= 2 && i % 5 >= 1 && i % 5 <= 2 ? 1 : 0));
    expect(sMeasure(img(gt5, gt5, 5, 5))).toBeCloseTo(1, 12);
    // 4×4 with the same square: the bottom-right quadrant is 1×1, its N − 1 = 0 variance is NaN
    const gt4 = [0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0];
    expect(sMeasure(img(gt4, gt4, 4, 4))).toBe(0);
  });

  it('E-measure: all-background truth and prediction, over HW − 1 (the toolbox’s quirk)', () => {
    const prepared = sodPrepare({ width: 2, height: 2, pred: new Uint8Array(4), gt: new Uint8Array(4) });
    const curve = eMeasureCurve(prepared);
    // threshold 0 (index 255) calls every pixel foreground: no background pixel scores
    expect(curve[255]).toBe(0);
    expect(curve[0]).toBeCloseTo(4 / 3, 12);
    expect(eMeasure({ width: 2, height: 2, pred: new Uint8Array(4), gt: new Uint8Array(4) })).toBeCloseTo((255 * 4) / 3 / 256, 12);
  });

  it('weighted F: 0 on an empty ground truth, 1 on a perfect prediction', () => {
    expect(weightedF(img([0.3, 0.9, 0.1, 0], [0, 0, 0, 0], 2, 2))).toBe(0);
    expect(weightedF(img([0, 1, 1, 0], [0, 1, 1, 0], 2, 2))).toBeCloseTo(1, 12);
  });

  it('Matlab’s fspecial(gaussian, 7, 5) as a normalised, symmetric 1-D factor', () => {
    const k = gaussianKernel1d(7, 5);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 15);
    const raw = [-3, -2, -1, 0, 1, 2, 3].map((x) => Math.exp(-(x * x) / 50));
    const sum = raw.reduce((a, b) => a + b, 0);
    raw.forEach((v, i) => expect(k[i]).toBeCloseTo(v / sum, 15));
  });

  it('distance transform: exact distances, ties go to the earlier feature as scipy’s do', () => {
    const line = distanceTransform(Uint8Array.from([1, 0, 1, 0, 0]), 5, 1);
    expect([...line.distance]).toEqual([0, 1, 0, 1, 2]);
    expect([...line.nearest]).toEqual([0, 0, 2, 2, 2]);
    // features at (0,1) and (1,0): (0,0) is 1 from both; scipy's column pass keeps (1,0)
    const square = distanceTransform(Uint8Array.from([0, 1, 1, 0]), 2, 2);
    expect(square.nearest[0]).toBe(2);
    expect([...square.distance]).toEqual([1, 0, 0, 1]);
    const far = distanceTransform(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1]), 3, 3);
    expect(far.distance[0]).toBeCloseTo(Math.SQRT2 * 2, 12);
    expect(distanceTransform(new Uint8Array(4), 2, 2).nearest[0]).toBe(-1);
  });

  it('names an image whose arrays do not fit its size, and metrics it does not know', () => {
    expect(() => iou({ width: 2, height: 2, pred: new Float32Array(4), gt: new Float32Array(3) })).toThrow(
      'image: prediction holds 4 values and ground truth 3; a 2x2 image needs 4 each',
    );
    expect(() => parseBinaryMetricNames('iou,fm')).toThrow(
      "unknown metric 'fm'; choose from iou, dice, sm, em, wfm, mae, ber ('fm' in the Conv-LoRA code is the weighted F-measure, here 'wfm')",
    );
  });
});
