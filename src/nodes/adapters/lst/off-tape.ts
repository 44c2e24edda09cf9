/**
 * Runs part of the forward pass without recording it on the gradient tape: LST's frozen backbone.
 * tfjs has no stopGradient, but a customGrad op's forward runs as one kernel (the engine's
 * kernel depth is raised), so none of the ops inside are taped and none of their inputs are
 * saved for backward; only the op itself is, with a zero gradient, and it is never on a path
 * from a variable (its inputs are images and frozen weights captured in the closure). This is
 * where LST's memory advantage comes from: under the tape, a block's output is all that stays.
 */
import * as tf from '@tensorflow/tfjs';

export function offTape(fn: (x: tf.Tensor4D) => tf.Tensor4D): (x: tf.Tensor4D) => tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | ((saved: tf.Tensor[]) => void))[]) => {
    const x = args[0] as tf.Tensor4D;
    return { value: fn(x), gradFunc: () => tf.zerosLike(x) };
  });
  return (x) => op(x) as tf.Tensor4D;
}

/** The same values as x, cut off from the tape: no gradient flows back through it. */
export const detach = offTape((x) => x.clone());
