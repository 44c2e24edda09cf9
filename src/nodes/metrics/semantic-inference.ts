/**
 * From model outputs to class-id maps, in the tensor worker:
 *
 * - MaskFormer-style semantic inference from mask tokens (the Conv-LoRA multi-class head):
 *   `cls = softmax(class logits)[…, :−1]`, `m = sigmoid(mask logits)`,
 *   `semseg[c, h, w] = Σ_q cls[q, c] · m[q, h, w]`, prediction = argmax over c;
 * - plain per-pixel argmax of class logits (TA-LoRA's segmentation head).
 *
 * ```ts
 * maskFormerSemantic(maskLogits, classLogits); // [N, Q, H, W] and [N, Q, K+1] -> [N, H, W, K]
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { ClassLogits, LabelBatch, MaskTokenLogits, TokenClassLogits } from '../ports.ts';

/**
 * Per-class scores [N, H, W, K] from mask-token logits [N, Q, h, w] and class logits [N, Q, K+1];
 * with `size`, the mask logits are first upsampled bilinearly (align_corners=False) to size²,
 * as MaskFormer upsamples them to the image before the sigmoid. One image at a time, so the
 * upsampled logits of a single image (Q · size², 400 MB at Q = 100 and 1024²) are the peak.
 */
export function maskFormerSemantic(maskLogits: tf.Tensor4D, classLogits: tf.Tensor3D, size?: number): tf.Tensor4D {
  if (size !== undefined && size !== maskLogits.shape[2]) {
    return tf.tidy(() =>
      tf.concat(
        tf.unstack(maskLogits).map((m, b) => {
          const up = tf.transpose(tf.image.resizeBilinear(tf.transpose(m, [1, 2, 0]) as tf.Tensor3D, [size, size], false, true), [2, 0, 1]).expandDims(0) as tf.Tensor4D;
          return maskFormerSemantic(up, tf.slice(classLogits, [b, 0, 0], [1, -1, -1]));
        }),
        0,
      ) as tf.Tensor4D,
    );
  }
  const [n, q, h, w] = maskLogits.shape;
  if (classLogits.rank !== 3 || classLogits.shape[0] !== n || classLogits.shape[1] !== q || classLogits.shape[2] < 2) {
    throw new Error(`maskFormerSemantic: class logits [${classLogits.shape.join(', ')}] must be [N, Q, K+1] with N, Q of the mask logits [${maskLogits.shape.join(', ')}]`);
  }
  const k = classLogits.shape[2] - 1;
  return tf.tidy(() => {
    const cls = tf.slice(tf.softmax(classLogits), [0, 0, 0], [n, q, k]);
    const m = tf.reshape(tf.sigmoid(maskLogits), [n, q, h * w]);
    const perImage = tf.unstack(cls).map((c, b) => tf.matMul(tf.transpose(c), tf.squeeze(tf.slice(m, [b, 0, 0], [1, q, h * w]), [0])));
    return tf.reshape(tf.transpose(tf.stack(perImage), [0, 2, 1]), [n, h, w, k]) as tf.Tensor4D;
  });
}

/** Argmax over the last axis of [N, H, W, C] scores, as an int32 [N, H, W, 1] LabelBatch. */
export function argmaxLabels(scores: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.expandDims(tf.argMax(scores, -1), -1) as tf.Tensor4D);
}

export const MaskFormerInference = defineNode({
  kind: 'metrics/maskformer-inference',
  description: 'MaskFormer semantic inference: Σ_q softmax(class)[q, c] · sigmoid(mask)[q], then argmax over classes',
  placement: 'worker',
  inputs: { masks: MaskTokenLogits, classes: TokenClassLogits },
  outputs: { labels: LabelBatch },
  params: z.object({
    size: z.number().int().min(1).optional().describe('upsample the mask logits to size x size first (the image size; default: the masks’ own)'),
  }),
  worker: {
    create: (p) => ({
      forward: ({ masks, classes }) => ({ labels: tf.tidy(() => argmaxLabels(maskFormerSemantic(masks, classes, p.size))) }),
    }),
  },
});

export const ClassArgmax = defineNode({
  kind: 'metrics/class-argmax',
  description: 'per-pixel argmax of class logits, as class ids',
  placement: 'worker',
  inputs: { logits: ClassLogits },
  outputs: { labels: LabelBatch },
  params: z.object({}),
  worker: {
    create: () => ({
      forward: ({ logits }) => ({ labels: argmaxLabels(logits) }),
    }),
  },
});
