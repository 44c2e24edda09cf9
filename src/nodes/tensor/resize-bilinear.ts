/**
 * Bilinear resize with half-pixel centres (PyTorch's align_corners = False) whose gradient is
 * right on every backend. tfjs-backend-cpu's ResizeBilinearGrad (4.22) ignores halfPixelCenters
 * (it differentiates the corner-aligned-origin resize instead) and labels its result [B, W, H, C],
 * so a non-square map, such as mSAM's crop to NYUv2's 288×384 input, fails its shape check, and
 * a square one (Conv-LoRA's 256² masks to 1024²) gets a wrong gradient. The
 * forward pass is tfjs's own; the backward pass applies the transposed interpolation matrices,
 * dx = R_hᵀ · dy · R_w per channel, which is exact because the resize is linear.
 */
import * as tf from '@tensorflow/tfjs';

/** R [out, in]: row o holds the weights of the inputs output o interpolates (TF's half-pixel rule, edges clamped). */
export function interpolationMatrix(inSize: number, outSize: number): tf.Tensor2D {
  const scale = inSize / outSize;
  const r = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const at = (o + 0.5) * scale - 0.5;
    const floor = Math.floor(at);
    const lerp = at - floor;
    const lower = Math.min(Math.max(floor, 0), inSize - 1);
    const upper = Math.min(Math.max(Math.ceil(at), 0), inSize - 1);
    r[o * inSize + lower]! += 1 - lerp;
    r[o * inSize + upper]! += lerp;
  }
  return tf.tensor2d(r, [outSize, inSize]);
}

export function resizeBilinearHalfPixel(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const [oh, ow] = size;
  if (h === oh && w === ow) return x;
  const resize = tf.customGrad(((input: tf.Tensor) => ({
    value: tf.image.resizeBilinear(input as tf.Tensor4D, [oh, ow], false, true),
    gradFunc: (dy: tf.Tensor) =>
      tf.tidy(() => {
        // dy [B, oh, ow, C] → over rows: R_hᵀ [h, oh]; over columns: R_w [ow, w].
        const rows = tf.matMul(interpolationMatrix(h, oh), dy.transpose([1, 0, 2, 3]).reshape([oh, b * ow * c]), true, false); // [h, B·ow·C]
        const byColumn = rows.reshape([h, b, ow, c]).transpose([0, 1, 3, 2]).reshape([h * b * c, ow]);
        const cols = tf.matMul(byColumn, interpolationMatrix(w, ow)); // [h·B·C, w]
        return cols.reshape([h, b, c, w]).transpose([1, 0, 3, 2]);
      }),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return resize(x) as tf.Tensor4D;
}
