/**
 * Defines one augmentation for the four kinds of sample, as four node kinds that share its
 * plan: `augment/NAME` (image + binary mask), `augment/NAME/labels` (image + class ids),
 * `augment/NAME/multi-task` (image + class ids + depth + normals) and `augment/NAME/image` (an
 * image alone: prediction, where there is no target). The plan is drawn once per
 * item from a seed (node seed, epoch, item index) and applied to every plane by
 * `applyGeometry`, so image and targets always get the same geometry.
 *
 * ```ts
 * export const { binary: RandomFlip, labels: RandomFlipLabels, multiTask: RandomFlipMultiTask } = defineAugment({
 *   name: 'random-flip', description: '...', params: z.object({ p: z.number().default(0.5) }), trainOnly: true,
 *   plan: (p, size, random) => (random() < p.p ? [{ op: 'flip' }] : []),
 * });
 * ```
 */
import type { z } from 'zod';
import type { ItemMeta } from '../../graph/events.ts';
import { defineNode, type MapBehaviour, type NodeContext } from '../../graph/node.ts';
import { BinaryMask, DepthMap, Image, LabelMap, NormalMap, type RawImage } from '../ports.ts';
import { mixSeed, mulberry32 } from '../random.ts';
import { applyGeometry, type GeometryOp, type Planes } from './geometry.ts';

export const IMAGE_SAMPLE = { image: Image } as const;
export const BINARY_SAMPLE = { image: Image, mask: BinaryMask } as const;
export const LABEL_SAMPLE = { image: Image, label: LabelMap } as const;
export const MULTI_TASK_SAMPLE = { image: Image, label: LabelMap, depth: DepthMap, normal: NormalMap } as const;

export interface AugmentSpec<N extends string, S extends z.ZodType> {
  readonly name: N;
  readonly description: string;
  readonly params: S;
  /** Default parallelism (sharp works on libvips threads). */
  readonly concurrency?: number;
  /** Random augmentations touch only 'train' items; deterministic resizes touch every item. */
  readonly trainOnly: boolean;
  /** The geometry for one sample of this size. */
  plan(params: z.output<S>, size: { width: number; height: number }, random: () => number, meta: ItemMeta): GeometryOp[];
  /** Pixel changes to the image alone, after the geometry (colour jitter). */
  image?(params: z.output<S>, image: RawImage, random: () => number, meta: ItemMeta): Promise<RawImage>;
}

/** The random stream of one item: the same for every plane and every rerun with the same seed. */
export function itemRandom(ctx: NodeContext, meta: ItemMeta): () => number {
  return mulberry32(mixSeed(ctx.seed, meta.epoch, meta.index));
}

function behaviour<S extends z.ZodType, T extends Planes>(spec: AugmentSpec<string, S>): MapBehaviour<z.output<S>, T, T> {
  return {
    type: 'map',
    concurrency: spec.concurrency ?? 2,
    create: (params, ctx) => ({
      async process(sample, meta) {
        const active = !spec.trainOnly || meta.split === 'train';
        const random = itemRandom(ctx, meta);
        const ops = active ? spec.plan(params, sample.image, random, meta) : [];
        const out = await applyGeometry(sample, ops);
        if (!active || !spec.image) return out;
        return { ...out, image: await spec.image(params, out.image, random, meta) };
      },
    }),
  };
}

export function defineAugment<const N extends string, S extends z.ZodType>(spec: AugmentSpec<N, S>) {
  const which = spec.trainOnly ? ' (training items only)' : '';
  return {
    binary: defineNode({
      kind: `augment/${spec.name}`,
      description: `${spec.description}${which}: image + binary mask`,
      placement: 'main',
      inputs: BINARY_SAMPLE,
      outputs: BINARY_SAMPLE,
      params: spec.params,
      main: behaviour<S, { image: RawImage; mask: RawImage }>(spec),
    }),
    labels: defineNode({
      kind: `augment/${spec.name}/labels`,
      description: `${spec.description}${which}: image + class ids`,
      placement: 'main',
      inputs: LABEL_SAMPLE,
      outputs: LABEL_SAMPLE,
      params: spec.params,
      main: behaviour<S, { image: RawImage; label: RawImage }>(spec),
    }),
    multiTask: defineNode({
      kind: `augment/${spec.name}/multi-task`,
      description: `${spec.description}${which}: image + class ids + depth + normals`,
      placement: 'main',
      inputs: MULTI_TASK_SAMPLE,
      outputs: MULTI_TASK_SAMPLE,
      params: spec.params,
      main: behaviour<S, Required<Omit<Planes, 'mask'>>>(spec),
    }),
    image: defineNode({
      kind: `augment/${spec.name}/image`,
      description: `${spec.description}${which}: an image alone`,
      placement: 'main',
      inputs: IMAGE_SAMPLE,
      outputs: IMAGE_SAMPLE,
      params: spec.params,
      main: behaviour<S, { image: RawImage }>(spec),
    }),
  };
}
