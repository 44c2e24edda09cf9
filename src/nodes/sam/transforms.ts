/**
 * SAM's pre- and post-processing (segment_anything/utils/transforms.py and Sam.preprocess /
 * Sam.postprocess_masks): resize the longest side to image_size, normalise with SAM's pixel
 * mean and std, pad bottom-right with zeros; upscale low-resolution logits, crop the padding
 * away and resize to the original image size.
 */
import * as tf from '@tensorflow/tfjs';

export const PIXEL_MEAN = [123.675, 116.28, 103.53] as const;
export const PIXEL_STD = [58.395, 57.12, 57.375] as const;

/** The (height, width) an image gets when its longest side is scaled to `longSide` (rounded half up, as ResizeLongestSide). */
export function resizedShape(height: number, width: number, longSide: number): [number, number] {
  const scale = longSide / Math.max(height, width);
  return [Math.floor(height * scale + 0.5), Math.floor(width * scale + 0.5)];
}

/** Scales (x, y) coordinates from the original image frame into the resized frame. */
export function scaleCoords(coords: readonly number[], [height, width]: readonly [number, number], longSide: number): number[] {
  const [newH, newW] = resizedShape(height, width, longSide);
  return coords.map((v, i) => (i % 2 === 0 ? v * (newW / width) : v * (newH / height)));
}

/**
 * RGB images [B, h, w, 3] in 0..255 whose longest side is already `imageSize` -> normalised
 * and zero-padded to [B, imageSize, imageSize, 3].
 */
export function normalizeAndPad(images: tf.Tensor4D, imageSize: number): tf.Tensor4D {
  const [, h, w, c] = images.shape;
  if (c !== 3 || h > imageSize || w > imageSize) {
    throw new Error(`SAM preprocessing: expected RGB images no larger than ${imageSize}x${imageSize}, got [${images.shape.join(', ')}]`);
  }
  const normed = tf.div(tf.sub(tf.cast(images, 'float32'), PIXEL_MEAN as unknown as number[]), PIXEL_STD as unknown as number[]);
  return tf.pad(normed, [[0, 0], [0, imageSize - h], [0, imageSize - w], [0, 0]]) as tf.Tensor4D;
}

/**
 * Low-resolution logits [B, M, 4g, 4g] -> [B, M, originalH, originalW]: bilinear (align_corners
 * = False) up to image_size, crop to the resized input, bilinear to the original size.
 */
export function postprocessMasks(
  masks: tf.Tensor4D,
  inputSize: readonly [number, number],
  originalSize: readonly [number, number],
  imageSize: number,
): tf.Tensor4D {
  const [b, m] = masks.shape;
  const nhwc = masks.transpose([0, 2, 3, 1]) as tf.Tensor4D;
  const full = tf.image.resizeBilinear(nhwc, [imageSize, imageSize], false, true);
  const cropped = tf.slice(full, [0, 0, 0, 0], [b, inputSize[0], inputSize[1], m]);
  const out = tf.image.resizeBilinear(cropped, [originalSize[0], originalSize[1]], false, true);
  return out.transpose([0, 3, 1, 2]) as tf.Tensor4D;
}
