/**
 * The port types of samflow's nodes. Single samples live on the main thread as 8-bit raw
 * buffers (sharp's format); batches are float32 TensorData that cross to the worker.
 */
import type * as tf from '@tensorflow/tfjs';
import { portType, type TensorData } from '../graph/port.ts';

/** A decoded 8-bit image or mask, row-major HWC (sharp's raw layout). */
export interface RawImage {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: Uint8Array;
}

export const Image = portType<RawImage>()('Image', {
  transport: 'local',
  description: 'one RGB image, 8-bit HWC on the main thread',
});

export const BinaryMask = portType<RawImage>()('BinaryMask', {
  transport: 'local',
  description: 'one binary mask, 8-bit HW1 with values 0 or 1',
});

export const ImageBatch = portType<TensorData, tf.Tensor4D>()('ImageBatch', {
  transport: 'tensor',
  description: 'float32 NHWC images scaled to [0, 1]',
});

export const MaskBatch = portType<TensorData, tf.Tensor4D>()('MaskBatch', {
  transport: 'tensor',
  description: 'float32 NHW1 binary masks (0 or 1)',
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
