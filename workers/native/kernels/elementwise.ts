/**
 * The memory-bound kernels a SAM training step spends most of its time in on the cpu backend
 * (profiled in bench/kernels.ts): broadcasting binary ops, unary maths, softmax, reductions,
 * transposes, strided slices and padding. float32 only; other dtypes go to the cpu kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon.ts';
import { broadcastStrides } from './broadcast.ts';
import { cpuKernel, float32Values, outputArray } from './cpu-kernels.ts';

// Enum orders of native/src/elementwise.h.
const BINARY = ['Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'SquaredDifference'] as const;
const UNARY = ['Exp', 'Log', 'Neg', 'Square', 'Sqrt', 'Rsqrt', 'Erf', 'Tanh', 'Sigmoid', 'Relu', 'Abs', 'Reciprocal'] as const;
const REDUCE = ['Sum', 'Mean', 'Max', 'Min'] as const;


function binaryKernel(addon: NativeAddon, name: string, op: number): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return cpuKernel(name, args);
    const backend = args.backend as MathBackendCPU;
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const out = outputArray(backend, tf.util.sizeFromShape(shape));
    addon.binary(op, Int32Array.from(shape), float32Values(backend, a, `${name} a`), Int32Array.from(broadcastStrides(a.shape, shape)), float32Values(backend, b, `${name} b`), Int32Array.from(broadcastStrides(b.shape, shape)), out);
    return backend.makeTensorInfo(shape, 'float32', out);
  };
}

function unaryKernel(addon: NativeAddon, name: string, op: number): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32') return cpuKernel(name, args);
    const backend = args.backend as MathBackendCPU;
    const out = outputArray(backend, tf.util.sizeFromShape(x.shape));
    addon.unary(op, float32Values(backend, x, `${name} x`), out);
    return backend.makeTensorInfo(x.shape, 'float32', out);
  };
}

function softmaxKernel(addon: NativeAddon): tf.KernelFunc {
  return (args) => {
    const { logits } = args.inputs as { logits: tf.TensorInfo };
    const { dim } = args.attrs as { dim: number };
    const rank = logits.shape.length;
    if (logits.dtype !== 'float32' || rank === 0 || (dim !== -1 && dim !== rank - 1)) return cpuKernel('Softmax', args);
    const backend = args.backend as MathBackendCPU;
    const cols = logits.shape[rank - 1]!;
    const out = outputArray(backend, tf.util.sizeFromShape(logits.shape));
    addon.softmax(float32Values(backend, logits, 'Softmax logits'), out, cols === 0 ? 0 : out.length / cols, cols);
    return backend.makeTensorInfo(logits.shape, 'float32', out);
  };
}

function nativeTranspose(addon: NativeAddon, backend: MathBackendCPU, x: tf.TensorInfo, perm: readonly number[]): tf.TensorInfo {
  const out = outputArray(backend, tf.util.sizeFromShape(x.shape));
  addon.transpose(float32Values(backend, x, 'Transpose x'), out, Int32Array.from(x.shape), Int32Array.from(perm));
  return backend.makeTensorInfo(perm.map((p) => x.shape[p]!), 'float32', out);
}

function transposeKernel(addon: NativeAddon): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32') return cpuKernel('Transpose', args);
    return nativeTranspose(addon, args.backend as MathBackendCPU, x, (args.attrs as { perm: number[] }).perm);
  };
}

/** Sum / Mean / Max / Min over any axes: a contiguous block of axes directly, others after a transpose. */
function reduceKernel(addon: NativeAddon, name: (typeof REDUCE)[number]): tf.KernelFunc {
  const op = REDUCE.indexOf(name);
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32') return cpuKernel(name, args);
    const backend = args.backend as MathBackendCPU;
    const attrs = args.attrs as { axis?: number | number[]; reductionIndices?: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam((name === 'Max' ? attrs.reductionIndices : attrs.axis) ?? null!, x.shape).sort((p, q) => p - q);
    const rank = x.shape.length;
    const outShape = attrs.keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    let input = x;
    let first = axes[0] ?? rank;
    let last = axes.at(-1) ?? rank - 1;
    const contiguous = axes.length === 0 || last - first + 1 === axes.length;
    if (!contiguous) {
      // Move the reduced axes to the end, keeping the others in order.
      const perm = [...x.shape.keys()].filter((i) => !axes.includes(i)).concat(axes);
      input = nativeTranspose(addon, backend, x, perm);
      first = rank - axes.length;
      last = rank - 1;
    }
    const shape = input.shape;
    const outer = tf.util.sizeFromShape(shape.slice(0, first));
    const reduced = tf.util.sizeFromShape(shape.slice(first, last + 1));
    const inner = tf.util.sizeFromShape(shape.slice(last + 1));
    const out = outputArray(backend, outer * inner);
    addon.reduce(op, float32Values(backend, input, `${name} x`), out, outer, axes.length === 0 ? 1 : reduced, inner);
    if (input !== x) backend.disposeIntermediateTensorInfo(input);
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
}

function padKernel(addon: NativeAddon): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { paddings, constantValue } = args.attrs as { paddings: [number, number][]; constantValue: number };
    if (x.dtype !== 'float32' || x.shape.length === 0) return cpuKernel('PadV2', args);
    const backend = args.backend as MathBackendCPU;
    const outShape = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
    const out = outputArray(backend, tf.util.sizeFromShape(outShape));
    addon.pad(float32Values(backend, x, 'PadV2 x'), out, Int32Array.from(x.shape), Int32Array.from(paddings.map((p) => p[0])), Int32Array.from(paddings.map((p) => p[1])), constantValue);
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
}

/** Slice: a contiguous region stays the cpu kernel's zero-copy view; any other region is copied natively. */
function sliceKernel(addon: NativeAddon): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32' || x.shape.length === 0) return cpuKernel('Slice', args);
    const { begin: rawBegin, size: rawSize } = args.attrs as { begin: number | number[]; size: number | number[] };
    const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, rawBegin, rawSize) as [number[], number[]];
    if (tf.slice_util.isSliceContinous(x.shape, begin, size)) return cpuKernel('Slice', args);
    tf.slice_util.assertParamsValid(x as tf.Tensor, begin, size);
    const backend = args.backend as MathBackendCPU;
    const out = outputArray(backend, tf.util.sizeFromShape(size));
    addon.slice(float32Values(backend, x, 'Slice x'), out, Int32Array.from(x.shape), Int32Array.from(begin), Int32Array.from(size));
    return backend.makeTensorInfo(size, 'float32', out);
  };
}

export function elementwiseKernels(addon: NativeAddon): Record<string, tf.KernelFunc> {
  const kernels: Record<string, tf.KernelFunc> = {};
  BINARY.forEach((name, op) => (kernels[name] = binaryKernel(addon, name, op)));
  UNARY.forEach((name, op) => (kernels[name] = unaryKernel(addon, name, op)));
  for (const name of REDUCE) kernels[name] = reduceKernel(addon, name);
  kernels.Softmax = softmaxKernel(addon);
  kernels.Transpose = transposeKernel(addon);
  kernels.PadV2 = padKernel(addon);
  kernels.Slice = sliceKernel(addon);
  return kernels;
}
