/**
 * Binary Dice coefficient per image at threshold 0.5: 2|P ∩ G| / (|P| + |G|), with P = prob > 0.5
 * and G = gt > 0.5 (8-bit: the same on v / 255). Higher is better.
 *
 * The Conv-LoRA code has no Dice metric; this is the standard per-image definition. An image
 * whose prediction and ground truth are both empty scores 0 (0/0 → 0), the same convention as
 * the binary IoU (torchmetrics' `zero_division = 0`), so the two stay comparable.
 *
 * ```ts
 * dice({ width: 2, height: 1, pred: new Float32Array([0.9, 0.9]), gt: new Uint8Array([255, 0]) }); // 2/3
 * ```
 */
import { above, checkBinaryImage, type BinaryImage } from './binary-image.ts';

export function dice(img: BinaryImage, threshold = 0.5): number {
  checkBinaryImage(img);
  const p = above(img.pred, threshold);
  const g = above(img.gt, 0.5);
  let inter = 0;
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    sum += p[i]! + g[i]!;
    inter += p[i]! & g[i]!;
  }
  return sum === 0 ? 0 : (2 * inter) / sum;
}
