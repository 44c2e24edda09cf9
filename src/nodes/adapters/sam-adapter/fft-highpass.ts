/**
 * EVP's handcrafted feature (Liu et al. 2023, used by SAM-Adapter): the FFT high-pass of the
 * image. Per channel, the 2-D spectrum (fft2, norm 'forward') is fftshifted, a centred square of
 * side 2L, L = ⌊√(H·W·rate) / 2⌋, is zeroed (the low frequencies), and the result is shifted
 * back, inverted (ifft2) and its real part's absolute value kept.
 *
 * tfjs has no FFT kernel on the wasm and native backends, so this is written as matMuls with
 * constant matrices, which every backend has. The zeroed square is the outer product of two 1-D
 * masks (frequencies k ∈ [−L, L) on each axis), so the removed low-pass part is P·X·Pᵀ with the
 * circulant 1-D low-pass P[m, n] = (1/N) Σ_{k=−L}^{L−1} e^{2πik(m−n)/N} = A + iB, and
 *
 *   high(X) = |X − Re(P X Pᵀ)| = |X − (A X Aᵀ − B X Bᵀ)|.
 *
 * That is two rank-2 matMuls per image batch: X·[Aᵀ | Bᵀ] along the width, then, after a
 * transpose, ·[Aᵀ; −Bᵀ] along the height. Cost: 4·N³ multiply-adds per channel, 12.9 G for a
 * 1024² RGB image, about 3 % of a vit_b encoder forward (~460 G), and none in backward (the
 * image is a constant). The matrices are [N, 2N] and [2N, N]: 16 MB at N = 1024. A real FFT
 * would be O(N² log N) but needs gathers and complex arithmetic that tfjs lacks on these
 * backends; at SAM's fixed input size the matMul is the fast path there.
 */
import * as tf from '@tensorflow/tfjs';

/** L: the zeroed square spans frequencies [−L, L) on each axis of an n × n spectrum, as EVP's fft(x, rate). */
export function lowFrequencyHalfWidth(n: number, rate: number): number {
  return Math.floor(Math.sqrt(n * n * rate) / 2);
}

/** The 1-D low-pass [n, n] as real and imaginary parts (float64), P[m, k] = p((m − k) mod n). */
export function lowPassMatrix(n: number, rate: number): { re: Float64Array; im: Float64Array } {
  const half = lowFrequencyHalfWidth(n, rate);
  const pRe = new Float64Array(n);
  const pIm = new Float64Array(n);
  for (let d = 0; d < n; d++) {
    let re = 0;
    let im = 0;
    for (let k = -half; k < half; k++) {
      // (k·d) mod n keeps the angle small, so cos/sin stay exact in float64 at n = 1024.
      const angle = (2 * Math.PI * (((k * d) % n) + n)) / n;
      re += Math.cos(angle);
      im += Math.sin(angle);
    }
    pRe[d] = re / n;
    pIm[d] = im / n;
  }
  const re = new Float64Array(n * n);
  const im = new Float64Array(n * n);
  for (let m = 0; m < n; m++) {
    for (let k = 0; k < n; k++) {
      const d = (((m - k) % n) + n) % n;
      re[m * n + k] = pRe[d]!;
      im[m * n + k] = pIm[d]!;
    }
  }
  return { re, im };
}

/** The constant operands of the high-pass at one image side and rate; owned by the caller (dispose). */
export interface HighPassOperator {
  readonly size: number;
  readonly rate: number;
  /** [Aᵀ | Bᵀ], [n, 2n]: applied along the width. */
  readonly along: tf.Tensor2D;
  /** [Aᵀ; −Bᵀ], [2n, n]: applied along the height, summing the two products. */
  readonly across: tf.Tensor2D;
}

export function createHighPassOperator(size: number, rate: number): HighPassOperator {
  if (!(rate > 0 && rate <= 1)) throw new Error(`FFT high-pass: rate ${rate} must be in (0, 1] (the share of the spectrum's area removed)`);
  const { re, im } = lowPassMatrix(size, rate);
  const along = new Float32Array(size * 2 * size);
  const across = new Float32Array(2 * size * size);
  for (let m = 0; m < size; m++) {
    for (let k = 0; k < size; k++) {
      // along[k, m] = A[m, k] and along[k, n + m] = B[m, k]; across[k, m] = A[m, k] and across[n + k, m] = −B[m, k].
      along[k * 2 * size + m] = re[m * size + k]!;
      along[k * 2 * size + size + m] = im[m * size + k]!;
      across[k * size + m] = re[m * size + k]!;
      across[(size + k) * size + m] = -im[m * size + k]!;
    }
  }
  return { size, rate, along: tf.tensor2d(along, [size, 2 * size]), across: tf.tensor2d(across, [2 * size, size]) };
}

/** High-pass of square NHWC images [B, n, n, C], per channel: |X − Re(P X Pᵀ)|, same shape. */
export function fftHighPass(images: tf.Tensor4D, op: HighPassOperator): tf.Tensor4D {
  const [b, h, w, c] = images.shape;
  const n = op.size;
  if (h !== n || w !== n) throw new Error(`FFT high-pass: built for ${n}x${n} images, got [${images.shape.join(', ')}]`);
  return tf.tidy(() => {
    // Rows (b, c, y), columns x: multiply along the width.
    const rows = images.transpose([0, 3, 1, 2]).reshape([b * c * n, n]);
    const widthPass = tf.matMul(rows, op.along); // [(b, c, y), (part, x')]
    // Rows (b, c, x'), columns (part, y): multiply along the height and sum the two parts.
    const cols = widthPass.reshape([b * c, n, 2, n]).transpose([0, 3, 2, 1]).reshape([b * c * n, 2 * n]);
    const low = tf.matMul(cols, op.across).reshape([b, c, n, n]).transpose([0, 3, 2, 1]); // [b, y', x', c]
    return tf.abs(tf.sub(images, low)) as tf.Tensor4D;
  });
}
