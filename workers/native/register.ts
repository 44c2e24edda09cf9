/**
 * The 'native' TensorFlow.js backend: the plain cpu backend (tensors are JS typed arrays, output
 * arrays pooled), with its hot kernels replaced by the addon's. Every other kernel is the cpu one, so whatever runs
 * on cpu runs here; gradients are registered per kernel name and need nothing new.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from './addon.ts';
import { batchMatMulKernel, fusedMatMulKernel } from './kernels/batch-mat-mul.ts';
import { convKernels } from './kernels/conv2d.ts';
import { elementwiseKernels } from './kernels/elementwise.ts';
import { fusedKernels } from './kernels/fused.ts';
import { NativeBackend } from './native-backend.ts';
import { markedKernel } from '../progress-marker.ts';
import { registerFusedGradients } from '../../src/nodes/tensor/fused.ts';
import { usePointSamplingKernels, type PointSamplingKernels } from '../../src/nodes/losses/point-sampling.ts';

export const NATIVE_BACKEND = 'native';

/** Names of the kernels the addon implements (the rest come from the cpu backend). */
export function nativeKernels(addon: NativeAddon): Record<string, tf.KernelFunc> {
  return {
    BatchMatMul: batchMatMulKernel(addon),
    _FusedMatMul: fusedMatMulKernel(addon),
    ...convKernels(addon),
    ...elementwiseKernels(addon),
    ...fusedKernels(addon),
  };
}

let registered = false;

export function registerNativeBackend(addon: NativeAddon): void {
  if (registered) return;
  registered = true;
  // Priority below every registered backend: it is chosen explicitly, never by tfjs's default.
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), -1);
  const own = nativeKernels(addon);
  // Every kernel is marked, so a stalled step names the kernel it is stuck in (progress-marker.ts).
  for (const kernel of tf.getKernelsForBackend('cpu')) {
    if (!(kernel.kernelName in own)) tf.registerKernel({ ...kernel, backendName: NATIVE_BACKEND, kernelFunc: markedKernel(kernel.kernelName, kernel.kernelFunc) });
  }
  for (const [kernelName, kernelFunc] of Object.entries(own)) tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc: markedKernel(kernelName, kernelFunc) });
  registerFusedGradients();
  usePointSamplingKernels(pointSamplingKernelsOf(addon));
}

/** The set loss's point-sampling loops in C++ (the JS ones stay for the other backends). */
export function pointSamplingKernelsOf(addon: NativeAddon): PointSamplingKernels {
  return {
    presentClasses: addon.presentClasses,
    matchingCosts: addon.matchingCosts,
    samplePoints: addon.samplePoints,
    importancePoints: addon.importancePoints,
    pointLoss: addon.pointLoss,
    gradientArray: (n, starts, span) => {
      const backend = tf.backend();
      return backend instanceof NativeBackend ? backend.pool.takeSparse(n, starts, span) : new Float32Array(n);
    },
    pointLossGrad: addon.pointLossGrad,
    mulberry32Fill: addon.mulberry32Fill,
  };
}
