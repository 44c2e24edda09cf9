/**
 * BatchMatMul and _FusedMatMul through the addon's SGEMM. Transposes are BLAS flags (no copy);
 * batch dimensions broadcast as NumPy does, entry by entry, which tfjs's own cpu kernel only
 * gets right when one side's batch is 1 or both are equal.
 */
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon.ts';
import { broadcastStrides } from './broadcast.ts';
import { biasAndActivation, cpuKernel, float32Values, outputArray } from './cpu-kernels.ts';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** Element offsets of each output batch entry's A and B matrices under broadcasting. */
export function batchOffsets(aBatch: readonly number[], bBatch: readonly number[], outBatch: readonly number[], aMatrix: number, bMatrix: number): { a: Float64Array; b: Float64Array } {
  const count = tf.util.sizeFromShape(outBatch as number[]);
  const rank = outBatch.length;
  const sa = broadcastStrides(aBatch, outBatch, aMatrix);
  const sb = broadcastStrides(bBatch, outBatch, bMatrix);
  const a = new Float64Array(count);
  const b = new Float64Array(count);
  const index = new Array<number>(rank).fill(0);
  for (let e = 0; e < count; e++) {
    let oa = 0;
    let ob = 0;
    for (let d = 0; d < rank; d++) {
      oa += index[d]! * sa[d]!;
      ob += index[d]! * sb[d]!;
    }
    a[e] = oa;
    b[e] = ob;
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d]! < outBatch[d]!) break;
      index[d] = 0;
    }
  }
  return { a, b };
}

export function nativeBatchMatMul(addon: NativeAddon, a: tf.TensorInfo, b: tf.TensorInfo, attrs: MatMulAttrs, backend: MathBackendCPU): tf.TensorInfo {
  const { transposeA, transposeB } = attrs;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const kA = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kB = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (kA !== kB) {
    throw new Error(`Error in matMul: inner shapes (${kA}) and (${kB}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const outBatch = tf.backend_util.assertAndGetBroadcastShape(aBatch, bBatch);
  const offsets = batchOffsets(aBatch, bBatch, outBatch, m * kA, kB * n);
  const out = outputArray(backend, offsets.a.length * m * n);
  addon.batchMatMul(float32Values(backend, a, 'matMul input a'), offsets.a, float32Values(backend, b, 'matMul input b'), offsets.b, out, m, n, kA, transposeA, transposeB);
  return backend.makeTensorInfo([...outBatch, m, n], 'float32', out);
}

export function batchMatMulKernel(addon: NativeAddon): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return cpuKernel('BatchMatMul', args);
    return nativeBatchMatMul(addon, a, b, args.attrs as unknown as MatMulAttrs, args.backend as MathBackendCPU);
  };
}

export function fusedMatMulKernel(addon: NativeAddon): tf.KernelFunc {
  return (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    if (a!.dtype !== 'float32' || b!.dtype !== 'float32') return cpuKernel('_FusedMatMul', args);
    const attrs = args.attrs as unknown as MatMulAttrs & { activation?: string; leakyreluAlpha?: number };
    const backend = args.backend as MathBackendCPU;
    const y = nativeBatchMatMul(addon, a!, b!, attrs, backend);
    return biasAndActivation(backend, y, bias, attrs.activation, preluActivationWeights, attrs.leakyreluAlpha);
  };
}
