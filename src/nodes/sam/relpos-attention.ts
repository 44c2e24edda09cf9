/**
 * Softmax attention with SAM's decomposed relative-position bias, whose backward pass recomputes
 * the attention map instead of keeping it. Under a gradient tape the plain composite keeps two
 * [heads, T, T] maps per block (the softmax, saved by its gradient and by the product with v:
 * 1.6 GB for one vit_b global block at 1024 px; with tfjs's own Add gradient also the logits and
 * the bias, for their shapes). This keeps only q, k, v and the two small bias terms, and pays one
 * more q·kᵀ and softmax in backward.
 */
import * as tf from '@tensorflow/tfjs';
import { softmaxBackward } from '../tensor/fused.ts';
import { bmm } from './ops.ts';
import { relativePositionBias } from './relative-position.ts';

/** op(a) · op(b) batched: transpose flags where the backend takes them, explicit transposes on wasm (see bmm). */
function mm(a: tf.Tensor3D, b: tf.Tensor3D, transposeA: boolean, transposeB: boolean): tf.Tensor3D {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b, transposeA, transposeB);
  return bmm(transposeA ? a.transpose([0, 2, 1]) : a, transposeB ? b.transpose([0, 2, 1]) : b);
}

function probabilities(q: tf.Tensor3D, k: tf.Tensor3D, relH: tf.Tensor4D, relW: tf.Tensor4D): tf.Tensor3D {
  const scale = 1 / Math.sqrt(q.shape[2]);
  return tf.softmax(tf.add(mm(tf.mul(q, scale) as tf.Tensor3D, k, false, true), relativePositionBias(relH, relW))) as tf.Tensor3D;
}

/**
 * softmax(q·kᵀ/√d + relH ⊕ relW) · v for q [B, qh·qw, d], k, v [B, kh·kw, d], relH [B, qh, qw, kh],
 * relW [B, qh, qw, kw]; the same values as attend(q, k, v, relativePositionBias(relH, relW)).
 */
export function relPosAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, relH: tf.Tensor4D, relW: tf.Tensor4D): tf.Tensor3D {
  const run = tf.customGrad((...args: (tf.Tensor | ((saved: tf.Tensor[]) => void))[]) => {
    const [qi, ki, vi, h, w] = args as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor4D, tf.Tensor4D];
    const save = args[5] as (saved: tf.Tensor[]) => void;
    save([qi, ki, vi, h, w]);
    return {
      value: mm(probabilities(qi, ki, h, w), vi, false, false),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sq, sk, sv, sh, sw] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor4D, tf.Tensor4D];
        const g = dy as tf.Tensor3D;
        const scale = 1 / Math.sqrt(sq.shape[2]);
        const p = probabilities(sq, sk, sh, sw);
        const dv = mm(p, g, true, false);
        const ds = softmaxBackward(p, mm(g, sv, false, true)) as tf.Tensor3D;
        const dq = tf.mul(mm(ds, sk, false, false), scale);
        const dk = tf.mul(mm(ds, sq, true, false), scale);
        const [b, qh, qw, kh] = sh.shape;
        const grid = ds.reshape([b, qh, qw, kh, sw.shape[3]]);
        return [dq, dk, dv, tf.sum(grid, 4), tf.sum(grid, 3)];
      },
    };
  });
  return run(q, k, v, relH, relW) as tf.Tensor3D;
}
