/**
 * Point sampling for the set loss (Mask2Former / PointRend, HF `sample_point` and
 * `sample_points_using_uncertainty`): a mask is scored at a few thousand points instead of every
 * pixel, the prediction (low resolution) and the ground truth (full resolution) each sampled
 * bilinearly at the same normalised points.
 *
 * A point (x, y) in [0, 1]² sits at pixel coordinate (x·w − 0.5, y·h − 0.5) of an h × w map, as
 * `grid_sample(align_corners=False)` places it. Its four neighbours and their bilinear weights are
 * its *taps*; with `edges: 'zeros'` taps outside the map weigh 0 (grid_sample's zero padding),
 * with `'clamp'` the coordinate is clamped to the map (F.interpolate's, for the all-pixels mode).
 */
import * as tf from '@tensorflow/tfjs';

export type Edges = 'zeros' | 'clamp';

/** Four taps per point: flat indices into an h × w map and their weights. */
export interface Taps {
  readonly points: number;
  readonly index: Int32Array;
  readonly weight: Float32Array;
}

/** n uniform points, x and y interleaved. */
export function randomPoints(n: number, random: () => number): Float32Array {
  const out = new Float32Array(2 * n);
  for (let i = 0; i < out.length; i++) out[i] = random();
  return out;
}

/** The centre of every pixel of an H × W map, row-major: scoring at these is scoring every pixel. */
export function pixelCentres(h: number, w: number): Float32Array {
  const out = new Float32Array(2 * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      out[2 * (y * w + x)] = (x + 0.5) / w;
      out[2 * (y * w + x) + 1] = (y + 0.5) / h;
    }
  }
  return out;
}

export function bilinearTaps(points: Float32Array, h: number, w: number, edges: Edges): Taps {
  const n = points.length / 2;
  const index = new Int32Array(4 * n);
  const weight = new Float32Array(4 * n);
  const clamp = edges === 'clamp';
  for (let i = 0; i < n; i++) {
    let sx = points[2 * i]! * w - 0.5;
    let sy = points[2 * i + 1]! * h - 0.5;
    if (clamp) {
      sx = Math.min(Math.max(sx, 0), w - 1);
      sy = Math.min(Math.max(sy, 0), h - 1);
    }
    const x0 = Math.floor(sx);
    const y0 = Math.floor(sy);
    const fx = sx - x0;
    const fy = sy - y0;
    // With zeros, a neighbour outside the map weighs 0 (its index is clamped only to stay readable).
    const wx0 = x0 >= 0 && x0 < w ? 1 - fx : 0;
    const wx1 = x0 + 1 >= 0 && x0 + 1 < w ? fx : 0;
    const wy0 = y0 >= 0 && y0 < h ? 1 - fy : 0;
    const wy1 = y0 + 1 >= 0 && y0 + 1 < h ? fy : 0;
    const cx0 = x0 < 0 ? 0 : x0 >= w ? w - 1 : x0;
    const cx1 = x0 + 1 >= w ? w - 1 : x0 + 1 < 0 ? 0 : x0 + 1;
    const cy0 = (y0 < 0 ? 0 : y0 >= h ? h - 1 : y0) * w;
    const cy1 = (y0 + 1 >= h ? h - 1 : y0 + 1 < 0 ? 0 : y0 + 1) * w;
    const k = 4 * i;
    index[k] = cy0 + cx0;
    weight[k] = wy0 * wx0;
    index[k + 1] = cy0 + cx1;
    weight[k + 1] = wy0 * wx1;
    index[k + 2] = cy1 + cx0;
    weight[k + 2] = wy1 * wx0;
    index[k + 3] = cy1 + cx1;
    weight[k + 3] = wy1 * wx1;
  }
  return { points: n, index, weight };
}

/** Samples `rows` maps of a flat array (row r starts at offsets[r]) at the taps: [rows × points]. */
export function sampleMaps(data: ArrayLike<number>, offsets: ArrayLike<number>, taps: Taps): Float32Array {
  const { points, index, weight } = taps;
  const out = new Float32Array(offsets.length * points);
  for (let r = 0; r < offsets.length; r++) {
    const base = offsets[r]!;
    const row = r * points;
    for (let p = 0, k = 0; p < points; p++, k += 4) {
      out[row + p] =
        weight[k]! * data[base + index[k]!]! +
        weight[k + 1]! * data[base + index[k + 1]!]! +
        weight[k + 2]! * data[base + index[k + 2]!]! +
        weight[k + 3]! * data[base + index[k + 3]!]!;
    }
  }
  return out;
}

/**
 * The binary mask of each class of one label map (ids at `offset`, H × W) sampled at the taps,
 * [classes × points]: the fraction of the bilinear footprint that carries the class.
 */
export function sampleClassMasks(labels: ArrayLike<number>, offset: number, classes: readonly number[], taps: Taps): Float32Array {
  const { points, index, weight } = taps;
  const out = new Float32Array(classes.length * points);
  // class id → its row (ids are small: label maps hold 0..254)
  const slot = new Int32Array(Math.max(0, ...classes) + 1).fill(-1);
  classes.forEach((c, i) => (slot[c] = i));
  const top = slot.length;
  for (let p = 0, k = 0; p < points; p++, k += 4) {
    for (let j = k; j < k + 4; j++) {
      const w = weight[j]!;
      if (w === 0) continue;
      const id = labels[offset + index[j]!]!;
      const s = id >= 0 && id < top ? slot[id]! : -1;
      if (s >= 0) out[s * points + p]! += w;
    }
  }
  return out;
}

/**
 * PointRend's importance sampling of one predicted map (logits at `offset`, h × w): of
 * `points · oversample` uniform points, the `⌊importance · points⌋` most uncertain (smallest
 * |logit|), then uniform points for the rest. Ties keep the earlier point. The chosen points keep
 * their draw order (HF's top-k orders them by uncertainty; the losses are sums, so order does not matter).
 */
export function uncertainPoints(
  logits: ArrayLike<number>,
  offset: number,
  h: number,
  w: number,
  options: { points: number; oversample: number; importance: number },
  random: () => number,
): Float32Array {
  const { points } = options;
  const drawn = Math.floor(points * options.oversample);
  const candidates = randomPoints(drawn, random);
  const values = sampleMaps(logits, [offset], bilinearTaps(candidates, h, w, 'zeros'));
  const uncertain = Math.min(Math.floor(options.importance * points), drawn);
  // The `uncertain` smallest |logit|: a threshold from a native sort, then candidates in order (ties: the earlier ones).
  const magnitude = values.map(Math.abs);
  const threshold = uncertain > 0 ? kthSmallest(magnitude.slice(), uncertain - 1) : -1;
  let below = 0;
  for (let i = 0; i < drawn; i++) if (magnitude[i]! < threshold) below++;
  let ties = uncertain - below;
  const out = new Float32Array(2 * points);
  for (let i = 0, o = 0; i < drawn && o < uncertain; i++) {
    const m = magnitude[i]!;
    if (m < threshold || (m === threshold && ties-- > 0)) {
      out[2 * o] = candidates[2 * i]!;
      out[2 * o + 1] = candidates[2 * i + 1]!;
      o++;
    }
  }
  for (let i = 2 * uncertain; i < out.length; i++) out[i] = random();
  return out;
}

/** The k-th smallest value (0-based) of `a`, which it reorders (Hoare's selection, O(n) on average). */
export function kthSmallest(a: Float32Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

/**
 * Differentiable sampling of a flat tensor: row r of the [rows, points] result is the taps
 * `taps[r]` read at offset `offsets[r]`. The gradient scatters back through the same taps.
 * Written as a custom gradient because tfjs's gather has no gradient on every backend.
 */
export function gatherTaps(flat: tf.Tensor1D, offsets: ArrayLike<number>, taps: readonly Taps[]): tf.Tensor2D {
  const rows = offsets.length;
  const points = taps[0]?.points ?? 0;
  if (taps.length !== rows || taps.some((t) => t.points !== points)) throw new Error(`gatherTaps: ${rows} offsets for ${taps.length} tap sets of ${points} points each`);
  const op = tf.customGrad((x) => {
    const data = (x as tf.Tensor1D).dataSync();
    const out = new Float32Array(rows * points);
    for (let r = 0; r < rows; r++) out.set(sampleMaps(data, [offsets[r]!], taps[r]!), r * points);
    return {
      value: tf.tensor2d(out, [rows, points]),
      gradFunc: (dy) => {
        const g = (dy as tf.Tensor).dataSync();
        const dx = new Float32Array((x as tf.Tensor).size);
        for (let r = 0; r < rows; r++) {
          const base = offsets[r]!;
          const { index, weight } = taps[r]!;
          for (let p = 0, k = 0; p < points; p++, k += 4) {
            const d = g[r * points + p]!;
            dx[base + index[k]!]! += weight[k]! * d;
            dx[base + index[k + 1]!]! += weight[k + 1]! * d;
            dx[base + index[k + 2]!]! += weight[k + 2]! * d;
            dx[base + index[k + 3]!]! += weight[k + 3]! * d;
          }
        }
        return tf.tensor1d(dx);
      },
    };
  });
  return op(flat) as tf.Tensor2D;
}
