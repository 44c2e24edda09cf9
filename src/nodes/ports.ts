/**
 * The port types of samflow's nodes. Single samples live on the main thread as 8-bit raw
 * buffers (sharp's format); batches are float32 TensorData that cross to the worker.
 */
import type * as tf from '@tensorflow/tfjs';
import type { SamModel } from './sam/model.ts';
import { portType, type TensorData } from '../graph/port.ts';

/** A decoded 8-bit image or mask, row-major HWC (sharp's raw layout). */
export interface RawImage {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: Uint8Array;
}

/** A float32 map, row-major HWC (depth: C = 1; surface normals: C = 3). */
export interface FloatImage {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: Float32Array;
}

/** The class id that marks ignored pixels in a LabelMap (readers map each data set's own ignore value to it). */
export const IGNORE_LABEL = 255;

export const Image = portType<RawImage>()('Image', {
  transport: 'local',
  description: 'one RGB image, 8-bit HWC on the main thread',
});

export const BinaryMask = portType<RawImage>()('BinaryMask', {
  transport: 'local',
  description: 'one binary mask, 8-bit HW1 with values 0 or 1',
});

export const LabelMap = portType<RawImage>()('LabelMap', {
  transport: 'local',
  description: 'one class-index map, 8-bit HW1: class ids 0..254, 255 = ignore',
});

export const DepthMap = portType<FloatImage>()('DepthMap', {
  transport: 'local',
  description: 'one depth map, float32 HW1; 0 = no valid depth',
});

export const NormalMap = portType<FloatImage>()('NormalMap', {
  transport: 'local',
  description: 'one surface-normal map, float32 HW3 unit vectors (x right); (0, 0, 0) = invalid',
});

/** Who one sample is: its id (file names of outputs derive from it), its image file, and the image's size as decoded. */
export interface SampleInfo {
  readonly id: string;
  readonly file: string;
  /** The image's original width and height (before any resize), EXIF orientation applied. */
  readonly width: number;
  readonly height: number;
}

export const SampleInfo = portType<SampleInfo>()('SampleInfo', {
  transport: 'local',
  description: "one sample's id, image file and original image size, on the main thread",
});

export const SampleInfos = portType<readonly SampleInfo[]>()('SampleInfos', {
  transport: 'local',
  description: "a batch's SampleInfo list, in batch order (main thread only)",
});

export const MaskList = portType<readonly RawImage[]>()('MaskList', {
  transport: 'local',
  description: "a batch's binary masks (8-bit HW1, 0 or 1) at their original sizes, in batch order (main thread only)",
});

export const ImageBatch = portType<TensorData, tf.Tensor4D>()('ImageBatch', {
  transport: 'tensor',
  description: 'float32 NHWC images scaled to [0, 1]',
});

export const MaskBatch = portType<TensorData, tf.Tensor4D>()('MaskBatch', {
  transport: 'tensor',
  description: 'float32 NHW1 binary masks (0 or 1)',
});

export const LabelBatch = portType<TensorData, tf.Tensor4D>()('LabelBatch', {
  transport: 'tensor',
  description: 'int32 NHW1 class ids; -1 = ignore',
});

export const DepthBatch = portType<TensorData, tf.Tensor4D>()('DepthBatch', {
  transport: 'tensor',
  description: 'float32 NHW1 depth; 0 = no valid depth',
});

export const NormalBatch = portType<TensorData, tf.Tensor4D>()('NormalBatch', {
  transport: 'tensor',
  description: 'float32 NHW3 surface normals; (0, 0, 0) = invalid',
});

export const MaskLogits = portType<TensorData, tf.Tensor4D>()('MaskLogits', {
  transport: 'tensor',
  description: 'float32 NHW1 mask logits',
});

export const MaskProbs = portType<TensorData, tf.Tensor4D>()('MaskProbs', {
  transport: 'tensor',
  description: 'float32 NHW1 mask probabilities in [0, 1]',
});

export const Loss = portType<TensorData, tf.Scalar>()('Loss', {
  transport: 'tensor',
  description: 'a scalar loss',
});

export const ClassLogits = portType<TensorData, tf.Tensor4D>()('ClassLogits', {
  transport: 'tensor',
  description: 'float32 NHWC per-pixel class logits (C classes)',
});

export const MaskTokenLogits = portType<TensorData, tf.Tensor4D>()('MaskTokenLogits', {
  transport: 'tensor',
  description: 'float32 NQHW mask logits, one H×W map per mask token (the SAM decoder’s layout)',
});

export const TokenClassLogits = portType<TensorData, tf.Tensor3D>()('TokenClassLogits', {
  transport: 'tensor',
  description: 'float32 NQ(C+1) class logits per mask token; the last class is "no object"',
});

/** A SAM model (config, weights, injected adapters) passed between worker nodes; it never leaves the worker. */
export const SamModelPort = portType<never, SamModel>()('SamModel', {
  transport: 'local',
  description: 'a SAM model with its adapters, living in the tensor worker',
});
