/**
 * Exact Euclidean distance transform with nearest-feature indices on a 2-D grid (Maurer, Qi and
 * Raghavan, PAMI 2003), step for step as `scipy.ndimage.distance_transform_edt(input,
 * return_indices=True)` computes it: a pass down each column, then a Voronoi pass along each
 * row, with the same tie-breaking (equidistant features: the earlier one wins). The weighted
 * F-measure copies errors from the nearest foreground pixel, so which of two equidistant
 * pixels is "nearest" changes the score; matching scipy keeps our numbers on the toolbox's.
 *
 * ```ts
 * // features: 1 where the distance is 0 (scipy's input == 0)
 * const { distance, nearest } = distanceTransform(new Uint8Array([1, 0, 0]), 3, 1);
 * // distance [0, 1, 2], nearest [0, 0, 0]
 * ```
 */
export interface DistanceTransform {
  /** Euclidean distance to the nearest feature pixel (Infinity when there is none). */
  readonly distance: Float64Array;
  /** Flat index of the nearest feature pixel (−1 when there is none). */
  readonly nearest: Int32Array;
}

export function distanceTransform(features: Uint8Array, width: number, height: number): DistanceTransform {
  if (features.length !== width * height) {
    throw new Error(`distanceTransform: ${width}x${height} needs ${width * height} values, got ${features.length}`);
  }
  // Feature coordinates per pixel: row (−1 = none yet) and column.
  const fr = new Int32Array(width * height).fill(-1);
  const fc = new Int32Array(width * height);

  // Pass 1, down each column: the nearest feature in the column (ties: the upper one).
  for (let c = 0; c < width; c++) {
    let prev = -1; // last feature row above
    for (let r = 0; r < height; r++) {
      const i = r * width + c;
      if (features[i]) prev = r;
      fr[i] = prev;
    }
    let next = -1;
    for (let r = height - 1; r >= 0; r--) {
      const i = r * width + c;
      if (features[i]) next = r;
      const up = fr[i]!;
      if (next >= 0 && (up < 0 || next - r < r - up)) fr[i] = next;
      if (fr[i]! >= 0) fc[i] = c;
    }
  }

  // Pass 2, along each row: the lower envelope of the column features' parabolas.
  const g = new Int32Array(width); // stack of candidate columns
  const rowR = new Int32Array(width);
  const rowC = new Int32Array(width);
  for (let r = 0; r < height; r++) {
    const base = r * width;
    for (let ii = 0; ii < width; ii++) {
      rowR[ii] = fr[base + ii]!;
      rowC[ii] = fc[base + ii]!;
    }
    let l = -1;
    for (let ii = 0; ii < width; ii++) {
      if (rowR[ii]! < 0) continue;
      const fd = rowC[ii]!;
      const tw = rowR[ii]! - r;
      const wR = tw * tw;
      while (l >= 1) {
        const idx1 = g[l]!;
        const idx2 = g[l - 1]!;
        const f1 = rowC[idx1]!;
        const a = f1 - rowC[idx2]!;
        const b = fd - f1;
        const c = a + b;
        const tu = rowR[idx2]! - r;
        const tv = rowR[idx1]! - r;
        const uR = tu * tu;
        const vR = tv * tv;
        if (c * vR - b * uR - a * wR - a * b * c <= 0) break;
        l--;
      }
      g[++l] = ii;
    }
    const maxl = l;
    if (maxl < 0) continue;
    l = 0;
    for (let ii = 0; ii < width; ii++) {
      let t0 = rowR[g[l]!]! - r;
      let t1 = rowC[g[l]!]! - ii;
      let delta1 = t0 * t0 + t1 * t1;
      while (l < maxl) {
        t0 = rowR[g[l + 1]!]! - r;
        t1 = rowC[g[l + 1]!]! - ii;
        const delta2 = t0 * t0 + t1 * t1;
        if (delta1 <= delta2) break;
        delta1 = delta2;
        l++;
      }
      fr[base + ii] = rowR[g[l]!]!;
      fc[base + ii] = rowC[g[l]!]!;
    }
  }

  const distance = new Float64Array(width * height);
  const nearest = new Int32Array(width * height);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const i = r * width + c;
      const R = fr[i]!;
      if (R < 0) {
        distance[i] = Infinity;
        nearest[i] = -1;
        continue;
      }
      const dr = R - r;
      const dc = fc[i]! - c;
      distance[i] = Math.sqrt(dr * dr + dc * dc);
      nearest[i] = R * width + fc[i]!;
    }
  }
  return { distance, nearest };
}
