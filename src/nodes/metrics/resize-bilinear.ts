/**
 * Bilinear resize of one float plane with PyTorch's `F.interpolate(mode='bilinear',
 * align_corners=False)` semantics, as the benchmarks apply it to a probability map before
 * scoring it against the ground truth at its own size: half-pixel centres (source x =
 * (x' + 0.5) · in/out − 0.5), coordinates below 0 clamped to 0 and the last pixel repeated past
 * the edge, and no antialiasing when shrinking (each output pixel reads its 2x2 neighbours
 * only). Positions and weights are computed in float32 as PyTorch's CPU kernel does, so values
 * agree with it to float32 rounding (test/fixtures/reference/make_resize_bilinear.py).
 *
 * ```ts
 * resizeBilinear(Float32Array.from([0, 1]), 2, 1, 4, 1); // [0, 0.25, 0.75, 1]
 * ```
 */

/** Per output coordinate: the two source indices and the weight of the second. */
interface Taps {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly w1: Float32Array;
}

const f32 = Math.fround;

function taps(inSize: number, outSize: number): Taps {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w1 = new Float32Array(outSize);
  const scale = f32(inSize / outSize);
  for (let d = 0; d < outSize; d++) {
    const src = Math.max(f32(f32(scale * f32(d + 0.5)) - 0.5), 0);
    const lo = Math.min(Math.floor(src), inSize - 1);
    i0[d] = lo;
    i1[d] = lo < inSize - 1 ? lo + 1 : lo;
    w1[d] = Math.min(Math.max(f32(src - lo), 0), 1);
  }
  return { i0, i1, w1 };
}

/** Resizes a row-major `width` x `height` plane to `outWidth` x `outHeight`. */
export function resizeBilinear(src: Float32Array, width: number, height: number, outWidth: number, outHeight: number): Float32Array {
  for (const [name, v] of [['width', width], ['height', height], ['outWidth', outWidth], ['outHeight', outHeight]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`resizeBilinear: ${name} must be a positive integer, got ${v}`);
  }
  if (src.length !== width * height) {
    throw new Error(`resizeBilinear: a ${width}x${height} plane needs ${width * height} values, got ${src.length}`);
  }
  if (width === outWidth && height === outHeight) return src.slice();
  const xs = taps(width, outWidth);
  const ys = taps(height, outHeight);
  const out = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const r0 = ys.i0[y]! * width;
    const r1 = ys.i1[y]! * width;
    const wy1 = ys.w1[y]!;
    const wy0 = f32(1 - wy1);
    const row = y * outWidth;
    for (let x = 0; x < outWidth; x++) {
      const c0 = xs.i0[x]!;
      const c1 = xs.i1[x]!;
      const wx1 = xs.w1[x]!;
      const wx0 = f32(1 - wx1);
      out[row + x] = wy0 * (wx0 * src[r0 + c0]! + wx1 * src[r0 + c1]!) + wy1 * (wx0 * src[r1 + c0]! + wx1 * src[r1 + c1]!);
    }
  }
  return out;
}
