/**
 * One binary-segmentation prediction and its ground truth, as the per-image metrics take them,
 * and the two ways the benchmarks read them.
 *
 * A prediction is either float probabilities in [0, 1] or 8-bit grey values (a saved PNG),
 * which mean `v / 255`, computed in float64 as the SOD toolboxes do after `cv2.imread`. The
 * ground truth is float in [0, 1] (a 0/1 mask, or 0/255 scaled) or 8-bit 0..255.
 *
 * ```ts
 * const img = { width: 2, height: 1, pred: new Float32Array([0.9, 0.2]), gt: new Uint8Array([255, 0]) };
 * const { pred, gt } = sodPrepare(img); // pred min-max normalised: [1, 0]; gt: [1, 0]
 * ```
 */
import { checkTensorData, type TensorData } from '../../graph/port.ts';

export type PixelArray = Float32Array | Float64Array | Uint8Array;

export interface BinaryImage {
  readonly width: number;
  readonly height: number;
  /** Probabilities in [0, 1] (float) or grey values 0..255 (Uint8Array), row-major. */
  readonly pred: PixelArray;
  /** Ground truth in [0, 1] (float) or 0..255 (Uint8Array), row-major. */
  readonly gt: PixelArray;
}

/** Throws unless both arrays hold width × height values; the message names both sizes. */
export function checkBinaryImage(img: BinaryImage, what = 'image'): void {
  const { width, height } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${what}: width and height must be positive integers, got ${width}x${height}`);
  }
  const n = width * height;
  if (img.pred.length !== n || img.gt.length !== n) {
    throw new Error(`${what}: prediction holds ${img.pred.length} values and ground truth ${img.gt.length}; a ${width}x${height} image needs ${n} each`);
  }
}

/**
 * 1 where `value(i) · scale > threshold`, with value(i) = v / 255 (float64) for 8-bit input,
 * else 0. One monomorphic loop per array type: this runs on
 * every pixel of 1024² images.
 */
export function above(a: PixelArray, threshold: number, scale = 1): Uint8Array {
  const out = new Uint8Array(a.length);
  const n = a.length;
  if (a instanceof Uint8Array) {
    for (let i = 0; i < n; i++) out[i] = (a[i]! / 255) * scale > threshold ? 1 : 0;
  } else if (a instanceof Float32Array) {
    for (let i = 0; i < n; i++) out[i] = a[i]! * scale > threshold ? 1 : 0;
  } else {
    for (let i = 0; i < n; i++) out[i] = a[i]! * scale > threshold ? 1 : 0;
  }
  return out;
}

/**
 * The prediction as probabilities in float64 (`v / 255` for 8-bit input).
 */
export function probabilities(pred: PixelArray): Float64Array {
  const out = new Float64Array(pred.length);
  if (pred instanceof Uint8Array) for (let i = 0; i < pred.length; i++) out[i] = pred[i]! / 255;
  else out.set(pred);
  return out;
}

export interface SodInput {
  readonly width: number;
  readonly height: number;
  /** The prediction min-max normalised per image (left as is when it is constant). */
  readonly pred: Float64Array;
  /** `t · 255 > 128` (8-bit: `v > 128`), 1 or 0. */
  readonly gt: Uint8Array;
  /** Number of foreground pixels in `gt`. */
  readonly foreground: number;
}

/**
 * The shared preparation of S-measure, E-measure, weighted F and MAE in the Conv-LoRA code
 * (PySODMetrics' `_prepare_data`): the ground truth is binarised at `> 128` on the 0..255
 * scale; the prediction is min-max normalised per image, unless its max equals its min.
 * Computed in float64 (the toolbox's precision on 8-bit PNGs; the Conv-LoRA training loop
 * runs it in float32, which moves values by ~1e-7).
 */
export function sodPrepare(img: BinaryImage): SodInput {
  checkBinaryImage(img);
  const n = img.width * img.height;
  const pred = probabilities(img.pred);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = pred[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max !== min) {
    const range = max - min;
    for (let i = 0; i < n; i++) pred[i] = (pred[i]! - min) / range;
  }
  const gt = new Uint8Array(n);
  let foreground = 0;
  const g = img.gt;
  if (g instanceof Uint8Array) {
    for (let i = 0; i < n; i++) if (g[i]! > 128) (gt[i] = 1), foreground++;
  } else {
    for (let i = 0; i < n; i++) if (g[i]! * 255 > 128) (gt[i] = 1), foreground++;
  }
  return { width: img.width, height: img.height, pred, gt, foreground };
}

/** Matlab/numpy `eps`: np.spacing(1), the gap above 1.0 in float64. */
export const EPS = 2.220446049250313e-16;

/** Splits NHW1 probabilities and masks into per-image float32 views (copies). */
export function splitBinaryBatch(probs: TensorData, masks: TensorData): BinaryImage[] {
  if (probs.shape.join() !== masks.shape.join()) {
    throw new Error(`probs [${probs.shape.join(', ')}] and masks [${masks.shape.join(', ')}] differ in shape`);
  }
  if (probs.shape.length !== 4 || probs.shape[3] !== 1) {
    throw new Error(`probs must be NHW1, got [${probs.shape.join(', ')}]`);
  }
  checkTensorData(probs, 'probs');
  checkTensorData(masks, 'masks');
  const [batch, height, width] = probs.shape as [number, number, number, number];
  const per = height * width;
  const images: BinaryImage[] = [];
  for (let b = 0; b < batch; b++) {
    images.push({
      width,
      height,
      pred: Float32Array.from(probs.data.subarray(b * per, (b + 1) * per)),
      gt: Float32Array.from(masks.data.subarray(b * per, (b + 1) * per)),
    });
  }
  return images;
}
