/**
 * Balanced error rate per image, as the Conv-LoRA code computes it for SBU: prediction
 * `prob · 255 > 125`, ground truth `t · 255 > 125`, and BER = 1 − torchmetrics' multiclass
 * accuracy (2 classes, `average = "macro"`, `multidim_average = "samplewise"`). That accuracy
 * is the mean of the per-class recalls TP/(TP + FN), where a recall with no pixel of its class
 * counts as 0, and a class that appears in neither the prediction nor the ground truth is left
 * out of the mean. Lower is better; a fraction in [0, 1] (papers often print ×100).
 *
 * So: both empty → 0; ground truth empty but some pixel predicted foreground →
 * 1 − TNR/2 (≥ 0.5). This is per image, then averaged over images, unlike the usual SBU
 * protocol, which pools TP/TN over the whole dataset.
 *
 * ```ts
 * ber({ width: 2, height: 1, pred: new Float32Array([1, 1]), gt: new Uint8Array([255, 0]) }); // 0.5 (recalls 1 and 0)
 * ```
 */
import { above, checkBinaryImage, type BinaryImage } from './binary-image.ts';

export function ber(img: BinaryImage): number {
  checkBinaryImage(img);
  let tp = 0;
  let tn: number;
  let fp = 0;
  let fn = 0;
  const pred = above(img.pred, 125, 255);
  const gt = above(img.gt, 125, 255);
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i]!;
    const g = gt[i]!;
    tp += p & g;
    fp += p & (1 - g);
    fn += (1 - p) & g;
  }
  tn = pred.length - tp - fp - fn;
  // Class 1: tp, fn, fp as counted. Class 0: its tp is tn, its fn is fp, its fp is fn.
  const classes = [
    { tp: tn, fn: fp, fp: fn },
    { tp, fn, fp },
  ];
  let sum = 0;
  let weights = 0;
  for (const c of classes) {
    if (c.tp + c.fp + c.fn === 0) continue;
    sum += c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn);
    weights++;
  }
  return 1 - sum / weights;
}
