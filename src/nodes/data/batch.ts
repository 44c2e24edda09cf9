/**
 * Collates single samples into batches ready to cross to the worker as transferables: NHWC
 * float32 images scaled to [0, 1], plus NHW1 float32 binary masks (Batch), NHW1 int32 class
 * ids with -1 for ignored pixels (BatchLabels), or class ids, NHW1 float32 depth and NHW3
 * float32 normals (BatchMultiTask). A batch never spans two (split, epoch) groups: it is cut
 * short at a group's end, so metrics see whole groups.
 *
 * A value made before a regrouping node cannot be read after it (compile.ts), so Batch also
 * carries what later stages need of each sample's original: its SampleInfo (`infos`) and its
 * mask at the original size (`originals`), as lists in batch order. BatchImages batches images
 * alone (prediction). A batch's `meta.index` is its first item's index, so a resumed run that
 * starts partway numbers batches, and so derives per-batch seeds, as an uninterrupted one.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { z } from 'zod';
import type { Item } from '../../graph/node.ts';
import { defineNode, optional } from '../../graph/node.ts';
import { tensorData, type TensorData } from '../../graph/port.ts';
import {
  BinaryMask,
  DepthBatch,
  DepthMap,
  IGNORE_LABEL,
  Image,
  ImageBatch,
  LabelBatch,
  LabelMap,
  MaskBatch,
  MaskList,
  NormalBatch,
  NormalMap,
  SampleInfo,
  SampleInfos,
  type FloatImage,
  type RawImage,
} from '../ports.ts';

type Sample = { image: RawImage; mask: RawImage; info?: SampleInfo | undefined; original?: RawImage | undefined };

export function collate(samples: readonly Sample[]): { images: TensorData; masks: TensorData; infos: SampleInfo[]; originals: RawImage[] } {
  const images = collateImages(samples.map((s) => s.image));
  const [, height, width] = images.shape as [number, number, number, number];
  const masks = new Float32Array(samples.length * width * height);
  samples.forEach(({ mask }, b) => {
    checkPlane(mask, 'mask', b, width, height, 1);
    binaryInto(masks, b * width * height, mask.data);
  });
  const originals = carried(samples, 'original');
  originals.forEach((plane, b) => {
    if (plane.channels !== 1 || plane.data.length !== plane.width * plane.height) {
      throw new Error(`original mask ${b} of the batch is ${plane.width}x${plane.height}x${plane.channels} with ${plane.data.length} values; expected a one-channel binary mask (HW1)`);
    }
  });
  return { images, masks: tensorData(masks, [samples.length, height, width, 1]), infos: carried(samples, 'info'), originals };
}

/**
 * The values of an optional input, in batch order: none when the port is not connected, one
 * per sample when it is (a sample without one is an error, not a list that drifts out of step).
 */
export function carried<S, K extends keyof S & string>(samples: readonly S[], key: K): NonNullable<S[K]>[] {
  const values = samples.map((s) => s[key]);
  const present = values.filter((v): v is NonNullable<S[K]> => v !== undefined && v !== null);
  if (present.length === 0) return [];
  if (present.length !== values.length) {
    const missing = values.findIndex((v) => v === undefined);
    throw new Error(`sample ${missing} of the batch has no '${key}' while others have one; expected every sample of a batch to carry it`);
  }
  return present;
}

/** dst[offset + i] = src[i] / 255 (a native widening copy, then one monomorphic pass). */
function unitInto(dst: Float32Array, offset: number, src: Uint8Array): void {
  const view = dst.subarray(offset, offset + src.length);
  view.set(src);
  for (let i = 0; i < view.length; i++) view[i] = view[i]! / 255;
}

/** dst[offset + i] = src[i] > 0 ? 1 : 0. */
function binaryInto(dst: Float32Array, offset: number, src: Uint8Array): void {
  const view = dst.subarray(offset, offset + src.length);
  for (let i = 0; i < src.length; i++) view[i] = src[i]! > 0 ? 1 : 0;
}

/** The size every plane of a batch must have: the first image's. */
function checkPlane(plane: RawImage | FloatImage, what: string, b: number, width: number, height: number, channels: number): void {
  if (plane.width !== width || plane.height !== height || plane.channels !== channels) {
    throw new Error(`${what} ${b} of the batch is ${plane.width}x${plane.height}x${plane.channels}; expected ${width}x${height}x${channels}${what === 'sample' ? ' like the first' : ''} (resize before batching)`);
  }
  if (plane.data.length !== width * height * channels) {
    throw new Error(`${what} ${b} of the batch: its buffer holds ${plane.data.length} values, expected ${width * height * channels}`);
  }
}

/** Images to NHWC float32 in [0, 1]; every image must have the first one's size. */
export function collateImages(images: readonly RawImage[]): TensorData {
  const { width, height } = images[0]!;
  const out = new Float32Array(images.length * width * height * 3);
  images.forEach((image, b) => {
    checkPlane(image, 'sample', b, width, height, 3);
    unitInto(out, b * width * height * 3, image.data);
  });
  return tensorData(out, [images.length, height, width, 3]);
}

/** Class-id maps to NHW1 int32, the ignore label (255) becoming -1. */
export function collateLabels(labels: readonly RawImage[], width: number, height: number): TensorData {
  const out = new Int32Array(labels.length * width * height);
  labels.forEach((label, b) => {
    checkPlane(label, 'label map', b, width, height, 1);
    const offset = b * width * height;
    for (let i = 0; i < width * height; i++) {
      const v = label.data[i]!;
      out[offset + i] = v === IGNORE_LABEL ? -1 : v;
    }
  });
  return tensorData(out, [labels.length, height, width, 1]);
}

/** Float maps (depth: channels 1, normals: channels 3) to NHWC float32. */
export function collateFloat(planes: readonly FloatImage[], width: number, height: number, channels: number, what: string): TensorData {
  const size = width * height * channels;
  const out = new Float32Array(planes.length * size);
  planes.forEach((plane, b) => {
    checkPlane(plane, what, b, width, height, channels);
    out.set(plane.data, b * size);
  });
  return tensorData(out, [planes.length, height, width, channels]);
}

type LabelSample = { image: RawImage; label: RawImage };
type MultiTaskSample = { image: RawImage; label: RawImage; depth: FloatImage; normal: FloatImage };

export function collateLabelSamples(samples: readonly LabelSample[]): { images: TensorData; labels: TensorData } {
  const images = collateImages(samples.map((s) => s.image));
  const [, height, width] = images.shape as [number, number, number, number];
  return { images, labels: collateLabels(samples.map((s) => s.label), width, height) };
}

export function collateMultiTask(samples: readonly MultiTaskSample[]): { images: TensorData; labels: TensorData; depths: TensorData; normals: TensorData } {
  const images = collateImages(samples.map((s) => s.image));
  const [, height, width] = images.shape as [number, number, number, number];
  return {
    images,
    labels: collateLabels(samples.map((s) => s.label), width, height),
    depths: collateFloat(samples.map((s) => s.depth), width, height, 1, 'depth map'),
    normals: collateFloat(samples.map((s) => s.normal), width, height, 3, 'normal map'),
  };
}

/**
 * Groups items into batches of `size` with `collate`, cutting a batch short at a group's end
 * or when the (split, epoch) changes; a batch's weight is the sum of its items' weights and its
 * index its first item's index.
 */
export function groupedBatches<S, O>(size: number, collate: (samples: S[]) => O): OperatorFunction<Item<S>, Item<O>> {
  return (input) =>
    new Observable<Item<O>>((subscriber) => {
      let pending: Item<S>[] = [];
      const flush = () => {
        if (!pending.length) return;
        const group = pending;
        pending = [];
        const last = group.at(-1)!.meta;
        // The first item's index, not a batch counter: the same whichever item a run starts at.
        subscriber.next({
          meta: { index: group[0]!.meta.index, split: last.split, epoch: last.epoch, groupEnd: last.groupEnd },
          weight: group.reduce((sum, item) => sum + item.weight, 0),
          values: collate(group.map((item) => item.values)),
        });
      };
      return input.subscribe({
        next: (item) => {
          try {
            const head = pending[0]?.meta;
            if (head && (head.split !== item.meta.split || head.epoch !== item.meta.epoch)) flush();
            pending.push(item);
            if (pending.length >= size || item.meta.groupEnd) flush();
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          try {
            flush();
            subscriber.complete();
          } catch (error) {
            subscriber.error(error);
          }
        },
      });
    });
}

const BatchParams = z.object({ size: z.number().int().min(1).default(8).describe('samples per batch') });

export const Batch = defineNode({
  kind: 'data/batch',
  description: 'collate image/mask samples into float32 NHWC batches (never across split or epoch), carrying sample infos and original masks through',
  placement: 'main',
  inputs: { image: Image, mask: BinaryMask, info: optional(SampleInfo), original: optional(BinaryMask) },
  outputs: { images: ImageBatch, masks: MaskBatch, infos: SampleInfos, originals: MaskList },
  params: BatchParams,
  main: {
    type: 'operator',
    itemsPerOutput: (p) => p.size,
    create: (p) => groupedBatches(p.size, collate),
  },
});

export function collateImageSamples(samples: readonly { image: RawImage; info?: SampleInfo | undefined }[]): { images: TensorData; infos: SampleInfo[] } {
  return { images: collateImages(samples.map((s) => s.image)), infos: carried(samples, 'info') };
}

export const BatchImages = defineNode({
  kind: 'data/batch-images',
  description: 'collate images alone into float32 NHWC batches with their sample infos (prediction), never across split or epoch',
  placement: 'main',
  inputs: { image: Image, info: optional(SampleInfo) },
  outputs: { images: ImageBatch, infos: SampleInfos },
  params: BatchParams,
  main: {
    type: 'operator',
    itemsPerOutput: (p) => p.size,
    create: (p) => groupedBatches(p.size, collateImageSamples),
  },
});

export const BatchLabels = defineNode({
  kind: 'data/batch-labels',
  description: 'collate image/class-id samples into float32 NHWC images and int32 NHW1 labels (-1 = ignore), never across split or epoch',
  placement: 'main',
  inputs: { image: Image, label: LabelMap },
  outputs: { images: ImageBatch, labels: LabelBatch },
  params: BatchParams,
  main: {
    type: 'operator',
    itemsPerOutput: (p) => p.size,
    create: (p) => groupedBatches(p.size, collateLabelSamples),
  },
});

export const BatchMultiTask = defineNode({
  kind: 'data/batch-multi-task',
  description: 'collate image/class-id/depth/normal samples into batches (never across split or epoch)',
  placement: 'main',
  inputs: { image: Image, label: LabelMap, depth: DepthMap, normal: NormalMap },
  outputs: { images: ImageBatch, labels: LabelBatch, depths: DepthBatch, normals: NormalBatch },
  params: BatchParams,
  main: {
    type: 'operator',
    itemsPerOutput: (p) => p.size,
    create: (p) => groupedBatches(p.size, collateMultiTask),
  },
});
