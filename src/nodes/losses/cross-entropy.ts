/**
 * Pixel-wise softmax cross-entropy with an ignore label (PyTorch's `CrossEntropyLoss(
 * ignore_index)`, mean over the pixels that are not ignored): the segmentation loss of
 * TA-LoRA/mSAM on NYUv2 and Cityscapes.
 *
 * Labels are LabelBatch class ids (NHW1 int32); `ignoreIndex` (default −1, the LabelBatch
 * convention) marks pixels that do not count. Any other id outside [0, C) is an error naming it,
 * as PyTorch's is. A batch whose pixels are all ignored has loss 0 and zero gradient (PyTorch
 * gives NaN, which would stop training).
 *
 * ```ts
 * crossEntropy(logits, labels, -1); // logits [N, H, W, C]; labels [N, H, W, 1] int32
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { ClassLogits, LabelBatch, Loss } from '../ports.ts';
import { checkShape, zeroLoss } from './elementwise.ts';

export function crossEntropy(logits: tf.Tensor4D, labels: tf.Tensor4D, ignoreIndex = -1): tf.Scalar {
  checkShape(logits, 'logits', [null, null, null, null], 'NHWC', 'crossEntropy');
  const [n, h, w, c] = logits.shape;
  if (labels.rank !== 4 || labels.shape[0] !== n || labels.shape[1] !== h || labels.shape[2] !== w || labels.shape[3] !== 1) {
    throw new Error(`crossEntropy: labels [${labels.shape.join(', ')}] must be NHW1 matching logits [${logits.shape.join(', ')}]`);
  }
  const ids = labels.dataSync();
  const valid = new Float32Array(ids.length);
  const safe = new Int32Array(ids.length);
  let count = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id === ignoreIndex) continue;
    if (!Number.isInteger(id) || id < 0 || id >= c) {
      throw new Error(`crossEntropy: label ${id} at pixel ${i} is outside [0, ${c}) and is not the ignore index ${ignoreIndex}`);
    }
    valid[i] = 1;
    safe[i] = id;
    count++;
  }
  return tf.tidy(() => {
    if (count === 0) return zeroLoss(logits);
    const logp = tf.reshape(tf.logSoftmax(logits), [-1, c]);
    const onehot = tf.oneHot(tf.tensor1d(safe, 'int32'), c);
    const nll = tf.neg(tf.sum(tf.mul(onehot, logp), 1));
    return tf.div(tf.sum(tf.mul(nll, tf.tensor1d(valid))), count) as tf.Scalar;
  });
}

export const CrossEntropy = defineNode({
  kind: 'losses/cross-entropy',
  description: 'pixel-wise softmax cross-entropy, mean over pixels that are not ignored',
  placement: 'worker',
  inputs: { logits: ClassLogits, labels: LabelBatch },
  outputs: { loss: Loss },
  params: z.object({ ignoreIndex: z.number().int().default(-1).describe('label id of pixels that do not count') }),
  worker: {
    create: (p) => ({
      forward: ({ logits, labels }) => ({ loss: crossEntropy(logits, labels, p.ignoreIndex) }),
    }),
  },
});
