/**
 * Conv2D, its backprops and FusedConv2D (NHWC) through the addon's im2col + SGEMM, and the
 * depthwise family through its direct loops. NCHW and non-float32 inputs go to the cpu kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon.ts';
import { biasAndActivation, cpuKernel, float32Values, outputArray } from './cpu-kernels.ts';

type ConvInfo = tf.backend_util.Conv2DInfo;

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape?: [number, number, number, number];
  filterShape?: [number, number, number, number];
  activation?: string;
  leakyreluAlpha?: number;
}

enum Op {
  Forward = 0,
  BackpropInput = 1,
  BackpropFilter = 2,
}

function geometry(info: ConvInfo): Int32Array {
  return Int32Array.of(
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth,
    info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    info.padInfo.top, info.padInfo.left,
  );
}

function convInfo(xShape: number[], filterShape: number[], attrs: ConvAttrs, depthwise: boolean, dilations: ConvAttrs['dilations']): ConvInfo {
  const dataFormat = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat ?? 'NHWC');
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    dataFormat,
  );
}


function run(addon: NativeAddon, depthwise: boolean, op: Op, info: ConvInfo, first: Float32Array, second: Float32Array, outShape: number[], backend: MathBackendCPU): tf.TensorInfo {
  const out = outputArray(backend, tf.util.sizeFromShape(outShape));
  (depthwise ? addon.depthwiseConv2d : addon.conv2d)(op, geometry(info), first, second, out);
  return backend.makeTensorInfo(outShape, 'float32', out);
}

const float32 = (...infos: (tf.TensorInfo | undefined)[]) => infos.every((t) => !t || t.dtype === 'float32');

/** Forward kernels (Conv2D, DepthwiseConv2dNative and their fused versions). */
function forwardKernel(addon: NativeAddon, name: string, depthwise: boolean, fused: boolean): tf.KernelFunc {
  return (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as unknown as ConvAttrs;
    if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || !float32(x, filter, bias)) return cpuKernel(name, args);
    const backend = args.backend as MathBackendCPU;
    const info = convInfo(x!.shape, filter!.shape, attrs, depthwise, attrs.dilations);
    const y = run(addon, depthwise, Op.Forward, info, float32Values(backend, x!, `${name} input x`), float32Values(backend, filter!, `${name} filter`), info.outShape, backend);
    return fused ? biasAndActivation(backend, y, bias, attrs.activation, preluActivationWeights, attrs.leakyreluAlpha) : y;
  };
}

/** Conv2DBackpropInput / DepthwiseConv2dNativeBackpropInput: (dy, filter) -> dx. */
function backpropInputKernel(addon: NativeAddon, name: string, depthwise: boolean): tf.KernelFunc {
  return (args) => {
    const { dy, filter } = args.inputs as Record<string, tf.TensorInfo>;
    const attrs = args.attrs as unknown as ConvAttrs;
    if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || !float32(dy, filter)) return cpuKernel(name, args);
    const backend = args.backend as MathBackendCPU;
    const info = convInfo(attrs.inputShape!, filter!.shape, attrs, depthwise, attrs.dilations ?? 1);
    return run(addon, depthwise, Op.BackpropInput, info, float32Values(backend, dy!, `${name} dy`), float32Values(backend, filter!, `${name} filter`), info.inShape, backend);
  };
}

/** Conv2DBackpropFilter / DepthwiseConv2dNativeBackpropFilter: (x, dy) -> dfilter. */
function backpropFilterKernel(addon: NativeAddon, name: string, depthwise: boolean): tf.KernelFunc {
  return (args) => {
    const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
    const attrs = args.attrs as unknown as ConvAttrs;
    if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || !float32(x, dy)) return cpuKernel(name, args);
    const backend = args.backend as MathBackendCPU;
    const info = convInfo(x!.shape, attrs.filterShape!, attrs, depthwise, attrs.dilations ?? 1);
    return run(addon, depthwise, Op.BackpropFilter, info, float32Values(backend, x!, `${name} input x`), float32Values(backend, dy!, `${name} dy`), [...attrs.filterShape!], backend);
  };
}

export function convKernels(addon: NativeAddon): Record<string, tf.KernelFunc> {
  return {
    Conv2D: forwardKernel(addon, 'Conv2D', false, false),
    FusedConv2D: forwardKernel(addon, 'FusedConv2D', false, true),
    Conv2DBackpropInput: backpropInputKernel(addon, 'Conv2DBackpropInput', false),
    Conv2DBackpropFilter: backpropFilterKernel(addon, 'Conv2DBackpropFilter', false),
    DepthwiseConv2dNative: forwardKernel(addon, 'DepthwiseConv2dNative', true, false),
    FusedDepthwiseConv2D: forwardKernel(addon, 'FusedDepthwiseConv2D', true, true),
    DepthwiseConv2dNativeBackpropInput: backpropInputKernel(addon, 'DepthwiseConv2dNativeBackpropInput', true),
    DepthwiseConv2dNativeBackpropFilter: backpropFilterKernel(addon, 'DepthwiseConv2dNativeBackpropFilter', true),
  };
}
