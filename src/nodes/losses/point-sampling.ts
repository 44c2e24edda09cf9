/**
 * Point sampling for the set loss (Mask2Former / PointRend, HF `sample_point` and
 * `sample_points_using_uncertainty`): a mask is scored at a few thousand points instead of every
 * pixel, the prediction (low resolution) and the ground truth (full resolution) each sampled
 * bilinearly at the same normalised points.
 *
 * A point (x, y) in [0, 1]² sits at pixel coordinate (x·w − 0.5, y·h − 0.5) of an h × w map, as
 * `grid_sample(align_corners=False)` places it, and is read from its four neighbours; with
 * `clamp` off, neighbours outside the map weigh 0 (grid_sample's zero padding), with it on the
 * coordinate is clamped to the map (F.interpolate's, for the all-pixels mode). A class mask at a
 * point is the weight of the neighbours labelled with that class. Points are Float32Arrays of
 * (x, y) pairs, never materialised as index tables: a batch's points number in the millions.
 *
 * The set loss's loops are whole kernels (matching costs, importance sampling, the point losses
 * and their gradient), so that a native version runs each as one threaded pass over the maps. They
 * run in plain JS here; the tensor worker's native backend swaps in its C++ versions
 * (native/src/point_sampling.cc) through `usePointSamplingKernels`, the same functions.
 */

import { SpareArrays } from './spare-arrays.ts';

/** A grid: an h × w map, read with zero padding or clamped edges. */
export interface Grid {
  readonly h: number;
  readonly w: number;
  readonly clamp: boolean;
}

/** Label ids as the label batch holds them, or compacted to bytes (presentClasses). */
export type LabelIds = Int32Array | Uint8Array;

/** The id of ignored pixels in compact labels. */
export const COMPACT_IGNORE = 255;

/**
 * The loops, in JS or native (the same results, to float rounding). Maps are rows of a flat
 * array: row r starts at offsets[r].
 */
export interface PointSamplingKernels {
  /**
   * present[b·numClasses + id] = 1 for each id in [0, numClasses) of image b; returns the index of
   * the first other label that is not the ignore index, or −1. With `compact` (numClasses ≤ 255)
   * the labels are also written there as bytes, ignored ones COMPACT_IGNORE: the kernels read a
   * quarter of the memory (a 1024² map fits in a core's L2).
   */
  presentClasses(labels: Int32Array, images: number, numClasses: number, ignoreIndex: number, present: Uint8Array, compact?: Uint8Array): number;
  /**
   * HF's matching costs of one image's rows [rows × columns] against the class masks of its
   * label map (class id → column slot[id] where ≥ 0), at points shared by all: bce = mean BCE,
   * dice = 1 − (2Σpt + 1)/(Σp + Σt + 1) with p = σ(logit).
   */
  matchingCosts(data: Float32Array, offsets: Float64Array, points: Float32Array, h: number, w: number, labels: LabelIds, labelH: number, labelW: number, clamp: boolean, slot: Int32Array, bce: Float64Array, dice: Float64Array): void;
  /** out[r·count + p] = row r's map at point p of `count` = points.length / 2 shared ones. */
  samplePoints(data: Float32Array, offsets: Float64Array, points: Float32Array, h: number, w: number, clamp: boolean, out: Float32Array): void;
  /**
   * PointRend's importance sampling of each row's map (zero padding). Row r's block of draws
   * holds 2·drawn candidate coordinates, then 2·(points − uncertain) uniform ones; out [rows × 2·points]
   * gets the `uncertain` candidates of smallest |logit| (in draw order, ties: the earlier), then
   * the uniform ones, and logits [rows × points] the map at them. `draws` may instead be the
   * state of a mulberry32 stream (advanced past them), whose draws are then made row by row.
   */
  importancePoints(data: Float32Array, offsets: Float64Array, draws: Float32Array | Uint32Array, h: number, w: number, drawn: number, uncertain: number, out: Float32Array, logits: Float32Array): void;
  /**
   * Row r's truth (class classes[r] of the label map at labelOffsets[r]) at its points (rows =
   * classes.length, `count` = logits.length / rows, shared or per row) into truth [rows × count],
   * and with its logits x there stats[r] = (Σ softplus(x) − x·t, Σp, Σp·t, Σt), p = σ(x).
   */
  pointLoss(logits: Float32Array, points: Float32Array, perRow: boolean, labels: LabelIds, labelOffsets: Float64Array, classes: Int32Array, labelH: number, labelW: number, clamp: boolean, truth: Float32Array, stats: Float64Array): void;
  /**
   * The array pointLossGrad writes into: n floats, zero outside [start, start + span) for each
   * of `starts` and stale inside, where pointLossGrad writes (the native backend recycles one,
   * clearing only what its last writer wrote and this one does not).
   */
  gradientArray(n: number, starts: Float64Array, span: number): Float32Array;
  /**
   * The gradient of the point losses: at each point of row r, a·(p − t) + (b·t + c)·p(1 − p) with
   * (a, b, c) = coefficients[r], p = σ(logit) and t the truth, summed at the point's neighbours
   * on row r's map, which is written in full (cleared first; rows that share a map sum into it).
   */
  pointLossGrad(dx: Float32Array, offsets: Float64Array, points: Float32Array, perRow: boolean, h: number, w: number, clamp: boolean, logits: Float32Array, truth: Float32Array, coefficients: Float64Array): void;
  /** The next out.length floats of the mulberry32 stream whose state is state[0] (advanced). */
  mulberry32Fill(state: Uint32Array, out: Float32Array): void;
}

/**
 * The four neighbours of point (px, py) on a grid: flat indices and weights, into index / weight
 * at `at`. In float32 steps (each rounded with Math.fround), as grid_sample's float kernel and
 * the native version compute them.
 */
function neighbours(px: number, py: number, h: number, w: number, clamp: boolean, index: Int32Array, weight: Float32Array, at = 0): void {
  // px · w − 0.5 rounded to float once, as the native fused multiply-add does (the double is exact unless px < 2⁻²⁰).
  let sx = Math.fround(px * w - 0.5);
  let sy = Math.fround(py * h - 0.5);
  if (clamp) {
    sx = Math.min(Math.max(sx, 0), w - 1);
    sy = Math.min(Math.max(sy, 0), h - 1);
  }
  const x0 = Math.floor(sx);
  const y0 = Math.floor(sy);
  const fx = Math.fround(sx - x0);
  const fy = Math.fround(sy - y0);
  // With zeros, a neighbour outside the map weighs 0 (its index is clamped only to stay readable).
  const wx0 = x0 >= 0 && x0 < w ? Math.fround(1 - fx) : 0;
  const wx1 = x0 + 1 >= 0 && x0 + 1 < w ? fx : 0;
  const wy0 = y0 >= 0 && y0 < h ? Math.fround(1 - fy) : 0;
  const wy1 = y0 + 1 >= 0 && y0 + 1 < h ? fy : 0;
  const cx0 = Math.min(Math.max(x0, 0), w - 1);
  const cx1 = Math.min(Math.max(x0 + 1, 0), w - 1);
  const cy0 = Math.min(Math.max(y0, 0), h - 1) * w;
  const cy1 = Math.min(Math.max(y0 + 1, 0), h - 1) * w;
  index[at] = cy0 + cx0;
  weight[at] = wy0 * wx0;
  index[at + 1] = cy0 + cx1;
  weight[at + 1] = wy0 * wx1;
  index[at + 2] = cy1 + cx0;
  weight[at + 2] = wy1 * wx0;
  index[at + 3] = cy1 + cx1;
  weight[at + 3] = wy1 * wx1;
}

const tapIndex = new Int32Array(4);
const tapWeight = new Float32Array(4);

/** The map at `offset` of `data`, on `grid`, read at point (x, y): float32, as the kernels read it. */
export function sampleMap(data: Float32Array, offset: number, x: number, y: number, grid: Grid): number {
  neighbours(x, y, grid.h, grid.w, grid.clamp, tapIndex, tapWeight);
  let v = 0;
  for (let k = 0; k < 4; k++) v += tapWeight[k]! * data[offset + tapIndex[k]!]!;
  return Math.fround(v);
}

/** The mask of class `cls` of the label map at `offset`, on `grid`, at point (x, y): the weight of the neighbours carrying it. */
export function sampleClassMask(labels: LabelIds, offset: number, cls: number, x: number, y: number, grid: Grid): number {
  neighbours(x, y, grid.h, grid.w, grid.clamp, tapIndex, tapWeight);
  let t = 0;
  for (let k = 0; k < 4; k++) if (tapWeight[k] !== 0 && labels[offset + tapIndex[k]!] === cls) t = Math.fround(t + tapWeight[k]!);
  return t;
}

/** softplus(x) and σ(x) from e = exp(−|x|), which neither overflows. */
function softplusOf(x: number, e: number): number {
  return Math.max(x, 0) + Math.log1p(e);
}

function sigmoidOf(x: number, e: number): number {
  return (x >= 0 ? 1 : e) / (1 + e);
}

export const JS_POINT_SAMPLING: PointSamplingKernels = {
  presentClasses(labels, images, numClasses, ignoreIndex, present, compact) {
    if (compact && (compact.length !== labels.length || numClasses > COMPACT_IGNORE)) throw new Error('presentClasses: compact labels need as many entries as labels and at most 255 classes');
    const pixels = labels.length / images;
    for (let b = 0; b < images; b++) {
      for (let i = b * pixels; i < (b + 1) * pixels; i++) {
        const id = labels[i]!;
        if (id >= 0 && id < numClasses) present[b * numClasses + id] = 1;
        else if (id !== ignoreIndex) return i;
        if (compact) compact[i] = id >= 0 && id < numClasses ? id : COMPACT_IGNORE;
      }
    }
    return -1;
  },
  matchingCosts(data, offsets, points, h, w, labels, labelH, labelW, clamp, slot, bce, dice) {
    const rows = offsets.length;
    const count = points.length / 2;
    const columns = bce.length / rows;
    // Per point: its neighbours on the maps, and its class masks as at most 4 (column, weight) entries.
    const index = new Int32Array(4 * count);
    const weight = new Float32Array(4 * count);
    const entries = new Uint8Array(count);
    const column = new Int32Array(4 * count);
    const share = new Float32Array(4 * count);
    const targetSum = new Float64Array(columns);
    for (let p = 0; p < count; p++) {
      neighbours(points[2 * p]!, points[2 * p + 1]!, h, w, clamp, index, weight, 4 * p);
      neighbours(points[2 * p]!, points[2 * p + 1]!, labelH, labelW, clamp, tapIndex, tapWeight);
      let used = 0;
      for (let k = 0; k < 4; k++) {
        if (tapWeight[k] === 0) continue;
        const id = labels[tapIndex[k]!]!;
        const s = id >= 0 && id < slot.length ? slot[id]! : -1;
        if (s < 0) continue;
        let e = 0;
        while (e < used && column[4 * p + e] !== s) e++;
        if (e === used) column[4 * p + used++] = s;
        share[4 * p + e]! += tapWeight[k]!;
      }
      entries[p] = used;
    }
    for (let p = 0; p < count; p++) for (let e = 0; e < entries[p]!; e++) targetSum[column[4 * p + e]!]! += share[4 * p + e]!;
    const xt = new Float64Array(columns);
    const pt = new Float64Array(columns);
    for (let r = 0; r < rows; r++) {
      const base = offsets[r]!;
      xt.fill(0);
      pt.fill(0);
      let softplusSum = 0;
      let probSum = 0;
      for (let p = 0; p < count; p++) {
        let v = 0;
        for (let k = 4 * p; k < 4 * p + 4; k++) v += weight[k]! * data[base + index[k]!]!;
        const x = Math.fround(v);
        const e = Math.exp(-Math.abs(x));
        const prob = sigmoidOf(x, e);
        softplusSum += softplusOf(x, e);
        probSum += prob;
        for (let q = 4 * p; q < 4 * p + entries[p]!; q++) {
          xt[column[q]!]! += share[q]! * x;
          pt[column[q]!]! += share[q]! * prob;
        }
      }
      for (let j = 0; j < columns; j++) {
        bce[r * columns + j] = (softplusSum - xt[j]!) / count;
        dice[r * columns + j] = 1 - (2 * pt[j]! + 1) / (probSum + targetSum[j]! + 1);
      }
    }
  },
  samplePoints(data, offsets, points, h, w, clamp, out) {
    const count = points.length / 2;
    const grid = { h, w, clamp };
    for (let r = 0; r < offsets.length; r++) for (let p = 0; p < count; p++) out[r * count + p] = sampleMap(data, offsets[r]!, points[2 * p]!, points[2 * p + 1]!, grid);
  },
  importancePoints(data, offsets, source, h, w, drawn, uncertain, out, logits) {
    const rows = offsets.length;
    const points = out.length / 2 / rows;
    const block = 2 * drawn + 2 * (points - uncertain);
    const draws = source instanceof Float32Array ? source : drawBuffer(rows * block);
    if (source instanceof Uint32Array) JS_POINT_SAMPLING.mulberry32Fill(source, draws);
    const grid = { h, w, clamp: false };
    const values = new Float32Array(drawn);
    for (let r = 0; r < rows; r++) {
      const candidates = draws.subarray(r * block, (r + 1) * block);
      for (let i = 0; i < drawn; i++) values[i] = sampleMap(data, offsets[r]!, candidates[2 * i]!, candidates[2 * i + 1]!, grid);
      // The `uncertain` smallest |logit|: a threshold by selection, then candidates in order (ties: the earlier ones).
      const threshold = uncertain > 0 ? kthSmallest(values.map(Math.abs), uncertain - 1) : -1;
      let below = 0;
      for (let i = 0; i < drawn; i++) if (Math.abs(values[i]!) < threshold) below++;
      let ties = uncertain - below;
      const chosen = out.subarray(2 * points * r, 2 * points * (r + 1));
      const x = logits.subarray(points * r, points * (r + 1));
      for (let i = 0, o = 0; i < drawn && o < uncertain; i++) {
        const m = Math.abs(values[i]!);
        if (m < threshold || (m === threshold && ties-- > 0)) {
          chosen[2 * o] = candidates[2 * i]!;
          chosen[2 * o + 1] = candidates[2 * i + 1]!;
          x[o] = values[i]!;
          o++;
        }
      }
      chosen.set(candidates.subarray(2 * drawn), 2 * uncertain);
      for (let p = uncertain; p < points; p++) x[p] = sampleMap(data, offsets[r]!, chosen[2 * p]!, chosen[2 * p + 1]!, grid);
    }
  },
  pointLoss(logits, points, perRow, labels, labelOffsets, classes, labelH, labelW, clamp, truth, stats) {
    const rows = classes.length;
    const count = logits.length / rows;
    const labelGrid = { h: labelH, w: labelW, clamp };
    for (let r = 0; r < rows; r++) {
      let bce = 0;
      let probSum = 0;
      let overlap = 0;
      let targetSum = 0;
      for (let p = 0; p < count; p++) {
        const at = 2 * (perRow ? r * count + p : p);
        const x = logits[r * count + p]!;
        const t = sampleClassMask(labels, labelOffsets[r]!, classes[r]!, points[at]!, points[at + 1]!, labelGrid);
        truth[r * count + p] = t;
        const e = Math.exp(-Math.abs(x));
        const prob = sigmoidOf(x, e);
        bce += softplusOf(x, e) - x * t;
        probSum += prob;
        overlap += prob * t;
        targetSum += t;
      }
      stats.set([bce, probSum, overlap, targetSum], 4 * r);
    }
  },
  gradientArray: (n) => new Float32Array(n),
  pointLossGrad(dx, offsets, points, perRow, h, w, clamp, logits, truth, coefficients) {
    const rows = offsets.length;
    const count = logits.length / rows;
    for (const offset of offsets) dx.fill(0, offset, offset + h * w);
    for (let r = 0; r < rows; r++) {
      const [a, b, c] = coefficients.subarray(3 * r, 3 * r + 3);
      for (let p = 0; p < count; p++) {
        const x = logits[r * count + p]!;
        const t = truth[r * count + p]!;
        const e = Math.exp(-Math.abs(x));
        const g = a! * (sigmoidOf(x, e) - t) + (b! * t + c!) * (e / ((1 + e) * (1 + e)));
        const at = 2 * (perRow ? r * count + p : p);
        neighbours(points[at]!, points[at + 1]!, h, w, clamp, tapIndex, tapWeight);
        for (let k = 0; k < 4; k++) dx[offsets[r]! + tapIndex[k]!]! += tapWeight[k]! * g;
      }
    }
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
  /** A mulberry32 stream's state, which a kernel may advance itself instead of being handed the draws. */
  readonly state?: Uint32Array;
}

export function seededUniforms(seed: number): UniformSource {
  const state = Uint32Array.of(seed >>> 0);
  return { fill: (out) => kernels.mulberry32Fill(state, out), state };
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

/** The set loss's arrays kept for its backward (points, logits, truth), reused once it has run. */
export const spare = new SpareArrays(8);

// The importance sampling's draws, reused: a batch's are ~26 MB, and fresh memory costs page
// faults on every call. Only the importance sampling uses it, and only while it runs.
let reusedDraws = new Float32Array(0);

function drawBuffer(size: number): Float32Array {
  if (reusedDraws.length < size) reusedDraws = new Float32Array(size);
  return reusedDraws.subarray(0, size);
}

/**
 * PointRend's importance sampling of maps (logits at `offsets`, h × w each): per map, of
 * `points · oversample` uniform points the `⌊importance · points⌋` most uncertain (smallest
 * |logit|), then uniform points for the rest; points [maps × 2·points] and the logits there
 * [maps × points]. Ties keep the earlier point. The chosen points keep their draw order (HF's
 * top-k orders them by uncertainty; the losses are sums, so order does not matter). The draws are
 * taken map by map: candidates, then the rest.
 */
export function importancePoints(
  logits: Float32Array,
  offsets: Float64Array,
  h: number,
  w: number,
  options: { points: number; oversample: number; importance: number },
  uniforms: UniformSource,
): { points: Float32Array; logits: Float32Array } {
  const { points } = options;
  const drawn = Math.floor(points * options.oversample);
  const uncertain = Math.min(Math.floor(options.importance * points), drawn);
  const size = offsets.length * (2 * drawn + 2 * (points - uncertain));
  // A seeded stream's draws are made inside the kernel (the native one makes each row's where it
  // uses them); other streams' are filled in first.
  let draws: Float32Array | Uint32Array | undefined = uniforms.state;
  if (!draws) uniforms.fill((draws = drawBuffer(size)));
  const out = { points: spare.take(2 * points * offsets.length), logits: spare.take(points * offsets.length) };
  kernels.importancePoints(logits, offsets, draws, h, w, drawn, uncertain, out.points, out.logits);
  return out;
}

/** Samples maps (rows of `data` at `offsets`) on a grid at points shared by all: [maps × points]. */
export function sampleMaps(data: Float32Array, offsets: Float64Array, points: Float32Array, grid: Grid): Float32Array {
  const out = spare.take(offsets.length * (points.length / 2));
  kernels.samplePoints(data, offsets, points, grid.h, grid.w, grid.clamp, out);
  return out;
}

/** The k-th smallest value (0-based) of `a`, which it reorders (Hoare's selection, O(n) on average). */
function kthSmallest(a: Float32Array, k: number): number {
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
