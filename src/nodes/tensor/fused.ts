/**
 * Layers with a fused kernel where the backend has one (the native backend: one pass over memory
 * forward and one backward), and the composite tfjs ops everywhere else. Both give the same
 * values; the kernel names are what a backend registers to take part.
 */
import * as tf from '@tensorflow/tfjs';

export const FUSED_KERNELS = {
  gelu: 'SamflowGelu',
  geluGrad: 'SamflowGeluGrad',
  layerNorm: 'SamflowLayerNorm',
  layerNormGrad: 'SamflowLayerNormGrad',
  softmaxGrad: 'SamflowSoftmaxGrad',
} as const;

const hasKernel = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;

/** Exact GELU, 0.5·x·(1 + erf(x/√2)), as torch.nn.GELU() (not the tanh approximation). */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (x.dtype === 'float32' && hasKernel(FUSED_KERNELS.gelu)) return tf.engine().runKernel(FUSED_KERNELS.gelu, { x }) as tf.Tensor;
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/** LayerNorm over the last axis with per-channel scale and shift. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const channels = x.shape[x.rank - 1];
  const perChannel = gamma.rank === 1 && beta.rank === 1 && gamma.shape[0] === channels && beta.shape[0] === channels;
  if (perChannel && x.dtype === 'float32' && hasKernel(FUSED_KERNELS.layerNorm)) {
    return tf.engine().runKernel(FUSED_KERNELS.layerNorm, { x, gamma, beta }, { epsilon }) as tf.Tensor;
  }
  const { mean, variance } = tf.moments(x, -1, true);
  const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
  return tf.add(tf.mul(normed, gamma), beta);
}

/** The softmax backward, dx = y · (dy − Σ dy·y) along `dim`, from the softmax output y (the fused kernel covers the last axis). */
export function softmaxBackward(y: tf.Tensor, dy: tf.Tensor, dim = -1): tf.Tensor {
  const lastAxis = dim === -1 || dim === y.rank - 1;
  if (lastAxis && y.dtype === 'float32' && hasKernel(FUSED_KERNELS.softmaxGrad)) return tf.engine().runKernel(FUSED_KERNELS.softmaxGrad, { y, dy }) as tf.Tensor;
  const dyTimesY = tf.mul(dy, y);
  return tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y));
}

let registered = false;

/**
 * Gradients of the fused kernels, and a Softmax gradient that uses the fused backward kernel where
 * the backend has it (tfjs's own makes four passes over the [heads, tokens, tokens] map). Global,
 * like every tfjs gradient; on other backends the Softmax gradient is tfjs's formula.
 */
export function registerFusedGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: FUSED_KERNELS.gelu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel(FUSED_KERNELS.geluGrad, { x: saved[0]!, dy: dy as tf.Tensor }) as tf.Tensor }),
  });
  tf.registerGradient({
    kernelName: FUSED_KERNELS.layerNorm,
    inputsToSave: ['x', 'gamma'],
    gradFunc: (dy, saved, attrs) => {
      const [x, gamma] = saved as [tf.Tensor, tf.Tensor];
      // One kernel gives all three; run it here, not in a closure (tfjs runs each closure in its
      // own tidy, which would dispose the other two).
      const [dx, dgamma, dbeta] = tf.engine().runKernel(FUSED_KERNELS.layerNormGrad, { x, gamma, dy: dy as tf.Tensor }, attrs) as tf.Tensor[];
      return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
    },
  });
  tf.registerGradient({
    kernelName: 'Softmax',
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [y] = saved as [tf.Tensor];
      const { dim } = attrs as unknown as { dim: number };
      return { logits: () => softmaxBackward(y, dy as tf.Tensor, dim) };
    },
  });
}
