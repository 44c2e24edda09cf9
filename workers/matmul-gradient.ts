/**
 * A BatchMatMul gradient without transpose flags, for the wasm backend.
 *
 * tfjs's own gradient of y = op(a)·op(b) calls matMul with transposeA/transposeB set, and wasm
 * runs any flagged (or batched) matMul on a generic loop at 0.6–2.3 GFLOP/s instead of XNNPACK's
 * 23–29 (../shared/specs/tfjs-on-this-machine.md). Transposing explicitly first keeps the
 * gradient matMuls on the fast path; the values are the same products. Once registered the
 * gradient is global, so on other backends (whose GEMMs take transpose flags for free) it keeps
 * the flags. On every backend it sums the gradient over broadcast batch dimensions, which tfjs's
 * own gradient forgets.
 */
import * as tf from '@tensorflow/tfjs';

const swapLast = (x: tf.Tensor) => {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1]!, perm[x.rank - 2]!];
  return tf.transpose(x, perm);
};

/** Sums a gradient over broadcast batch dimensions so it has the input's shape. */
function reduceTo(grad: tf.Tensor, shape: readonly number[]): tf.Tensor {
  if (grad.shape.join() === shape.join()) return grad;
  const lead = grad.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < grad.rank - 2; i++) if (i < lead || shape[i - lead] === 1) axes.push(i);
  return tf.sum(grad, axes).reshape([...shape]);
}

let registered = false;

export function registerFastMatMulGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const g = dy as tf.Tensor;
      let da: () => tf.Tensor;
      let db: () => tf.Tensor;
      if (tf.getBackend() !== 'wasm') {
        const mm = tf.matMul;
        if (!transposeA && !transposeB) [da, db] = [() => mm(g, b, false, true), () => mm(a, g, true, false)];
        else if (!transposeA && transposeB) [da, db] = [() => mm(g, b), () => mm(g, a, true, false)];
        else if (transposeA && !transposeB) [da, db] = [() => mm(b, g, false, true), () => mm(a, g)];
        else [da, db] = [() => mm(b, g, true, true), () => mm(g, a, true, true)];
        return { a: () => reduceTo(da(), a.shape), b: () => reduceTo(db(), b.shape) };
      }
      const mm = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y);
      if (!transposeA && !transposeB) {
        da = () => mm(g, swapLast(b));
        db = () => mm(swapLast(a), g);
      } else if (!transposeA && transposeB) {
        da = () => mm(g, b);
        db = () => mm(swapLast(g), a);
      } else if (transposeA && !transposeB) {
        da = () => mm(b, swapLast(g));
        db = () => mm(a, g);
      } else {
        da = () => mm(swapLast(b), swapLast(g));
        db = () => mm(swapLast(g), swapLast(a));
      }
      return { a: () => reduceTo(da(), a.shape), b: () => reduceTo(db(), b.shape) };
    },
  });
}
