/** What the native kernels borrow from the plain cpu backend: its data, and its kernels as fallbacks. */
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { NativeBackend } from '../native-backend.ts';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * The Float32Array behind a float32 tensor on a cpu-type backend (no copy). The cpu backend
 * sometimes keeps another typed array under a float32 tensor (a bool cast to float32 keeps its
 * Uint8Array); those are converted.
 */
export function float32Values(backend: MathBackendCPU, info: tf.TensorInfo, what: string): Float32Array {
  const values = backend.data.get(info.dataId).values;
  if (values instanceof Float32Array) return values;
  if (ArrayBuffer.isView(values)) return Float32Array.from(values as unknown as ArrayLike<number>);
  throw new Error(`native kernel: ${what} holds no numeric values (dtype ${info.dtype})`);
}

/** An output array for a native kernel: pooled on the native backend, contents stale (overwrite all). */
export function outputArray(backend: MathBackendCPU, n: number): Float32Array {
  return backend instanceof NativeBackend ? backend.output(n) : new Float32Array(n);
}

/** Calls the plain cpu backend's kernel of that name (for what the native one does not cover). */
export function cpuKernel(name: string, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const config = tf.getKernel(name, 'cpu');
  if (!config) throw new Error(`the cpu backend has no kernel '${name}'`);
  return config.kernelFunc(args);
}

const ACTIVATIONS: Record<string, string> = { relu: 'Relu', relu6: 'Relu6', elu: 'Elu', prelu: 'Prelu', leakyrelu: 'LeakyRelu', sigmoid: 'Sigmoid' };

/** The active backend's kernel of that name (the native one where it has one), else the cpu one. */
function activeKernel(name: string, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const config = tf.getKernel(name, tf.getBackend());
  return config ? config.kernelFunc(args) : cpuKernel(name, args);
}

/** The epilogue of the fused kernels: y + bias, then the activation, disposing what it replaces. */
export function biasAndActivation(
  backend: MathBackendCPU,
  y: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  activation: string | undefined,
  preluWeights: tf.TensorInfo | undefined,
  leakyreluAlpha: number | undefined,
): tf.TensorInfo {
  let current = y;
  if (bias) {
    const added = activeKernel('Add', { inputs: { a: current, b: bias }, backend, attrs: {} }) as tf.TensorInfo;
    backend.disposeIntermediateTensorInfo(current);
    current = added;
  }
  if (activation && activation !== 'linear') {
    const kernel = ACTIVATIONS[activation];
    if (!kernel) throw new Error(`native kernel: activation '${activation}' is not implemented`);
    const inputs = activation === 'prelu' ? { x: current, alpha: preluWeights! } : { x: current };
    const activated = activeKernel(kernel, { inputs, backend, attrs: activation === 'leakyrelu' ? { alpha: leakyreluAlpha ?? 0.2 } : {} }) as tf.TensorInfo;
    backend.disposeIntermediateTensorInfo(current);
    current = activated;
  }
  return current;
}
