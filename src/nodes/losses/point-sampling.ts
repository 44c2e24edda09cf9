/**
 * Point sampling for the set loss (Mask2Former / PointRend, HF `sample_point` and
 * `sample_points_using_uncertainty`): a mask is scored at a few thousand points instead of every
 * pixel, the prediction (low resolution) and the ground truth (full resolution) each sampled
 * bilinearly at the same normalised points.
 *
 * A point (x, y) in [0, 1]² sits at pixel coordinate (x·w − 0.5, y·h − 0.5) of an h × w map, as
 * `grid_sample(align_corners=False)` places it, and is read from its four neighbours; with
 * `clamp` off, neighbours outside the map weigh 0 (grid_sample's zero padding), with it on the
 * coordinate is clamped to the map (F.interpolate's, for the all-pixels mode). Points are
 * Float32Arrays of (x, y) pairs, never materialised as index tables: a batch's points number in
 * the millions.
 *
 * The loops run in plain JS here; the tensor worker's native backend swaps in its C++ versions
 * (native/src/point_sampling.cc) through `usePointSamplingKernels`, the same functions.
 */
import * as tf from '@tensorflow/tfjs';

/** A grid: an h × w map, read with zero padding or clamped edges. */
export interface Grid {
  readonly h: number;
  readonly w: number;
  readonly clamp: boolean;
}

/** The loops, in JS or native (the same results, to float rounding). */
export interface PointSamplingKernels {
  /** out[r·count + p] = map r at point p; `points` has `count` points shared by every row, or `count` per row. */
  samplePoints(data: Float32Array, offsets: Float64Array, points: Float32Array, count: number, perRow: boolean, h: number, w: number, clamp: boolean, out: Float32Array): void;
  /** The gradient of samplePoints, added into dx. */
  scatterPoints(dx: Float32Array, offsets: Float64Array, points: Float32Array, count: number, perRow: boolean, h: number, w: number, clamp: boolean, dy: Float32Array): void;
  /** out[slot[id]·count + p] += the weight of each neighbour whose id has a slot (≥ 0). */
  sampleClassMasks(labels: Int32Array, h: number, w: number, points: Float32Array, clamp: boolean, slot: Int32Array, out: Float32Array): void;
  /** Per row of x [rows × cols]: prob = σ(x) and the row sums of softplus(x) and of σ(x). */
  softplusSigmoid(x: Float32Array, rows: number, cols: number, prob: Float32Array, softplusSum: Float64Array, probSum: Float64Array): void;
  kthSmallestAbs(values: Float32Array, k: number): number;
  /** The next out.length floats of the mulberry32 stream whose state is state[0] (advanced). */
  mulberry32Fill(state: Uint32Array, out: Float32Array): void;
}

/** The four neighbours of point (px, py) on a grid: flat indices and weights, into `at`. */
function neighbours(px: number, py: number, h: number, w: number, clamp: boolean, index: Int32Array, weight: Float32Array): void {
  let sx = px * w - 0.5;
  let sy = py * h - 0.5;
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
  const cx0 = Math.min(Math.max(x0, 0), w - 1);
  const cx1 = Math.min(Math.max(x0 + 1, 0), w - 1);
  const cy0 = Math.min(Math.max(y0, 0), h - 1) * w;
  const cy1 = Math.min(Math.max(y0 + 1, 0), h - 1) * w;
  index[0] = cy0 + cx0;
  weight[0] = wy0 * wx0;
  index[1] = cy0 + cx1;
  weight[1] = wy0 * wx1;
  index[2] = cy1 + cx0;
  weight[2] = wy1 * wx0;
  index[3] = cy1 + cx1;
  weight[3] = wy1 * wx1;
}

export const JS_POINT_SAMPLING: PointSamplingKernels = {
  samplePoints(data, offsets, points, count, perRow, h, w, clamp, out) {
    const index = new Int32Array(4);
    const weight = new Float32Array(4);
    for (let r = 0; r < offsets.length; r++) {
      const base = offsets[r]!;
      for (let p = 0; p < count; p++) {
        const j = r * count + p;
        const at = 2 * (perRow ? j : p);
        neighbours(points[at]!, points[at + 1]!, h, w, clamp, index, weight);
        out[j] = weight[0]! * data[base + index[0]!]! + weight[1]! * data[base + index[1]!]! + weight[2]! * data[base + index[2]!]! + weight[3]! * data[base + index[3]!]!;
      }
    }
  },
  scatterPoints(dx, offsets, points, count, perRow, h, w, clamp, dy) {
    const index = new Int32Array(4);
    const weight = new Float32Array(4);
    for (let r = 0; r < offsets.length; r++) {
      const base = offsets[r]!;
      for (let p = 0; p < count; p++) {
        const j = r * count + p;
        const at = 2 * (perRow ? j : p);
        neighbours(points[at]!, points[at + 1]!, h, w, clamp, index, weight);
        const d = dy[j]!;
        for (let k = 0; k < 4; k++) dx[base + index[k]!]! += weight[k]! * d;
      }
    }
  },
  sampleClassMasks(labels, h, w, points, clamp, slot, out) {
    const index = new Int32Array(4);
    const weight = new Float32Array(4);
    const count = points.length / 2;
    for (let p = 0; p < count; p++) {
      neighbours(points[2 * p]!, points[2 * p + 1]!, h, w, clamp, index, weight);
      for (let k = 0; k < 4; k++) {
        if (weight[k] === 0) continue;
        const id = labels[index[k]!]!;
        const s = id >= 0 && id < slot.length ? slot[id]! : -1;
        if (s >= 0) out[s * count + p]! += weight[k]!;
      }
    }
  },
  softplusSigmoid(x, rows, cols, prob, softplusSum, probSum) {
    for (let r = 0; r < rows; r++) {
      let sp = 0;
      let ps = 0;
      for (let i = r * cols; i < (r + 1) * cols; i++) {
        const v = x[i]!;
        const e = Math.exp(-Math.abs(v));
        sp += Math.max(v, 0) + Math.log1p(e);
        const p = v >= 0 ? 1 / (1 + e) : e / (1 + e);
        prob[i] = p;
        ps += p;
      }
      softplusSum[r] = sp;
      probSum[r] = ps;
    }
  },
  kthSmallestAbs(values, k) {
    return kthSmallest(values.map(Math.abs), k);
  },
  mulberry32Fill(state, out) {
    let a = state[0]!;
    for (let i = 0; i < out.length; i++) {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }
    state[0] = a;
  },
};

let kernels = JS_POINT_SAMPLING;

/** Swaps in other loops (the native backend's); undefined restores the JS ones. */
export function usePointSamplingKernels(next: PointSamplingKernels | undefined): void {
  kernels = next ?? JS_POINT_SAMPLING;
}

export function pointSamplingKernels(): PointSamplingKernels {
  return kernels;
}

/**
 * Uniform draws in [0, 1): a mulberry32 stream (src/nodes/random.ts's, value for value) filled in
 * bulk, or any `() => number` (a test's fixed stream).
 */
export interface UniformSource {
  fill(out: Float32Array): void;
}

export function seededUniforms(seed: number): UniformSource {
  const state = Uint32Array.of(seed >>> 0);
  return { fill: (out) => kernels.mulberry32Fill(state, out) };
}

export function uniformsFrom(random: () => number): UniformSource {
  return {
    fill: (out) => {
      for (let i = 0; i < out.length; i++) out[i] = random();
    },
  };
}

/** n uniform points, x and y interleaved. */
export function randomPoints(n: number, uniforms: UniformSource): Float32Array {
  const out = new Float32Array(2 * n);
  uniforms.fill(out);
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

/**
 * Samples `rows` maps of a flat array (row r starts at offsets[r]) on a grid at `count` points,
 * shared by the rows or each row's own: [rows × count].
 */
export function sampleMaps(data: Float32Array, offsets: ArrayLike<number>, points: Float32Array, grid: Grid, perRow = false): Float32Array {
  const count = points.length / 2 / (perRow ? offsets.length : 1);
  const out = new Float32Array(offsets.length * count);
  kernels.samplePoints(data, Float64Array.from(offsets), points, count, perRow, grid.h, grid.w, grid.clamp, out);
  return out;
}

/**
 * The binary mask of each class of one label map (int32 ids, `grid` sized) sampled at the points,
 * [classes × points]: the fraction of the bilinear footprint that carries the class.
 */
export function sampleClassMasks(labels: Int32Array, grid: Grid, classes: readonly number[], points: Float32Array): Float32Array {
  const out = new Float32Array(classes.length * (points.length / 2));
  // class id → its row (ids are small: label maps hold 0..254)
  const slot = new Int32Array(Math.max(0, ...classes) + 1).fill(-1);
  classes.forEach((c, i) => (slot[c] = i));
  kernels.sampleClassMasks(labels, grid.h, grid.w, points, grid.clamp, slot, out);
  return out;
}

/**
 * PointRend's importance sampling of one predicted map (logits at `offset`, h × w): of
 * `points · oversample` uniform points, the `⌊importance · points⌋` most uncertain (smallest
 * |logit|), then uniform points for the rest. Ties keep the earlier point. The chosen points keep
 * their draw order (HF's top-k orders them by uncertainty; the losses are sums, so order does not matter).
 */
export function uncertainPoints(
  logits: Float32Array,
  offset: number,
  h: number,
  w: number,
  options: { points: number; oversample: number; importance: number },
  uniforms: UniformSource,
): Float32Array {
  const { points } = options;
  const drawn = Math.floor(points * options.oversample);
  const candidates = randomPoints(drawn, uniforms);
  const values = sampleMaps(logits, [offset], candidates, { h, w, clamp: false });
  const uncertain = Math.min(Math.floor(options.importance * points), drawn);
  // The `uncertain` smallest |logit|: a threshold by selection, then candidates in order (ties: the earlier ones).
  const threshold = uncertain > 0 ? kernels.kthSmallestAbs(values, uncertain - 1) : -1;
  let below = 0;
  for (let i = 0; i < drawn; i++) if (Math.abs(values[i]!) < threshold) below++;
  let ties = uncertain - below;
  const out = new Float32Array(2 * points);
  for (let i = 0, o = 0; i < drawn && o < uncertain; i++) {
    const m = Math.abs(values[i]!);
    if (m < threshold || (m === threshold && ties-- > 0)) {
      out[2 * o] = candidates[2 * i]!;
      out[2 * o + 1] = candidates[2 * i + 1]!;
      o++;
    }
  }
  uniforms.fill(out.subarray(2 * uncertain));
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
 * Differentiable sampling of a flat tensor: row r of the [rows, count] result reads the map at
 * `offsets[r]` on `grid` at the points (shared, or row r's own). The gradient scatters back
 * through the same points. Written as a custom gradient because tfjs's gather has no gradient
 * on every backend.
 */
export function gatherPoints(flat: tf.Tensor1D, offsets: ArrayLike<number>, points: Float32Array, grid: Grid, perRow = false): tf.Tensor2D {
  const rows = offsets.length;
  const count = points.length / 2 / (perRow ? rows : 1);
  if (!Number.isInteger(count)) throw new Error(`gatherPoints: ${points.length / 2} points do not split into ${rows} rows`);
  const at = Float64Array.from(offsets);
  const op = tf.customGrad((x) => {
    const out = new Float32Array(rows * count);
    kernels.samplePoints((x as tf.Tensor1D).dataSync() as Float32Array, at, points, count, perRow, grid.h, grid.w, grid.clamp, out);
    return {
      value: tf.tensor2d(out, [rows, count]),
      gradFunc: (dy) => {
        const dx = new Float32Array((x as tf.Tensor).size);
        kernels.scatterPoints(dx, at, points, count, perRow, grid.h, grid.w, grid.clamp, (dy as tf.Tensor).dataSync() as Float32Array);
        return tf.tensor1d(dx);
      },
    };
  });
  return op(flat) as tf.Tensor2D;
}
