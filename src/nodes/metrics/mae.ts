/**
 * Mean absolute error between the min-max normalised prediction and the binarised ground truth
 * (`t · 255 > 128`), per image, as the Conv-LoRA code computes it (PySODMetrics' `MAE`; see
 * `sodPrepare`). Lower is better, in [0, 1].
 *
 * ```ts
 * mae({ width: 2, height: 1, pred: new Float32Array([0.5, 0.5]), gt: new Uint8Array([255, 0]) }); // 0.5
 * ```
 */
import { sodPrepare, type BinaryImage, type SodInput } from './binary-image.ts';

export function mae(img: BinaryImage): number {
  return maePrepared(sodPrepare(img));
}

export function maePrepared({ pred, gt }: SodInput): number {
  let s = 0;
  for (let i = 0; i < gt.length; i++) s += Math.abs(pred[i]! - gt[i]!);
  return s / gt.length;
}
