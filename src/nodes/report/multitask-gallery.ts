/**
 * `report/multitask-gallery`: the multi-task form of report/gallery. Keeps the first `count`
 * validation images of each epoch and, per task, ground truth and prediction as ready-coloured
 * RGB PNGs (gallery-data.ts says how they travel):
 * - segmentation in class-gallery's class colours (class 0 dark grey, ignored pixels grey);
 * - depth through viridis, ground truth and prediction on the same range (that of the image's
 *   valid ground truth, so colours compare), pixels without valid depth grey in the truth;
 * - normals as RGB = (n + 1) / 2 (x right → red, y → green, z → blue), invalid (0, 0, 0) grey.
 * Coloured here rather than in the report so the PNGs are the pictures (their ranges differ per
 * task and image, which a grey plane would have to carry on the side anyway).
 *
 * ```ts
 * g.add('gallery', MultitaskGallery, { params: { tasks: [{ name: 'seg', kind: 'segmentation', classes: 13 }, { name: 'depth', kind: 'depth' }] },
 *   inputs: { images: batch.out.images, segLabels: batch.out.labels, segPred: ids.out.labels, depthGt: batch.out.depths, depthPred: msam.out.depth } });
 * ```
 */
import { z } from 'zod';
import { defineNode, optional } from '../../graph/node.ts';
import type { TensorData } from '../../graph/port.ts';
import type { RunEvent } from '../../graph/events.ts';
import { classColour } from '../data/synthetic-classes.ts';
import { DepthBatch, IGNORE_LABEL, ImageBatch, LabelBatch, NormalBatch } from '../ports.ts';
import { idPlane, ids } from './class-gallery.ts';
import { bytesOf, GalleryParams, KeptGroup, png, thumbnailSize } from './gallery-data.ts';
import { nhwc, requireImageSize } from './gallery.ts';

type Rgb = readonly [number, number, number];

/** Pixels with no valid target (ignored class, depth 0, normal (0, 0, 0)). */
export const INVALID_GREY: Rgb = [128, 128, 128];
/** Class 0: class-gallery leaves it untinted (the image shows through); a colour map needs a colour. */
export const CLASS_ZERO: Rgb = [40, 40, 40];

/** matplotlib's viridis at t = 0, 1/8, …, 1 (perceptually uniform, readable in grey and by most colour-blind readers). */
export const VIRIDIS: readonly Rgb[] = [
  [68, 1, 84],
  [71, 45, 123],
  [59, 82, 139],
  [44, 114, 142],
  [33, 145, 140],
  [40, 174, 128],
  [94, 201, 98],
  [173, 220, 48],
  [253, 231, 37],
];

/** viridis at t (clamped to [0, 1]), linear between the anchors. */
export function viridis(t: number): Rgb {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const k = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const [a, b, f] = [VIRIDIS[k]!, VIRIDIS[k + 1]!, x - k];
  return [0, 1, 2].map((c) => Math.round(a[c]! + (b[c]! - a[c]!) * f)) as unknown as Rgb;
}

/** The colour of class `id` of `classes` (255 = ignore). */
export function segmentationColour(id: number, classes: number): Rgb {
  if (id === IGNORE_LABEL) return INVALID_GREY;
  if (id === 0) return CLASS_ZERO;
  return classColour(id, classes).map(Math.round) as unknown as Rgb;
}

function rgbOf(pixels: number, colour: (i: number) => Rgb): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) out.set(colour(i), i * 3);
  return out;
}

/** Range of the valid (> 0, finite) ground-truth depths; of the prediction when none is valid; [lo, lo + 1] when flat. */
export function depthRange(truth: ArrayLike<number>, pred: ArrayLike<number>): [number, number] {
  const bounds = (values: ArrayLike<number>, valid: (v: number) => boolean): [number, number] | undefined => {
    let [lo, hi] = [Infinity, -Infinity];
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (valid(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    }
    return lo <= hi ? [lo, hi] : undefined;
  };
  const [lo, hi] = bounds(truth, (v) => Number.isFinite(v) && v > 0) ?? bounds(pred, Number.isFinite) ?? [0, 1];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/** Depth through viridis on `range`; `invalid` pixels (ground truth 0) grey. */
export function depthRgb(values: ArrayLike<number>, range: readonly [number, number], greyInvalid: boolean): Uint8Array {
  const [lo, hi] = range;
  return rgbOf(values.length, (i) => (greyInvalid && !(values[i]! > 0) ? INVALID_GREY : viridis((values[i]! - lo) / (hi - lo))));
}

/** Normals (HW3, unit) as RGB = (n + 1) / 2; (0, 0, 0), the invalid marker, grey. */
export function normalsRgb(values: ArrayLike<number>): Uint8Array {
  const byte = (v: number) => Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
  return rgbOf(values.length / 3, (i) => {
    const [x, y, z] = [values[3 * i]!, values[3 * i + 1]!, values[3 * i + 2]!];
    return x === 0 && y === 0 && z === 0 ? INVALID_GREY : [byte(x), byte(y), byte(z)];
  });
}

export const MultitaskGalleryTask = z
  .object({
    name: z.string().min(1).describe('task name (the picture columns are named after it)'),
    kind: z.enum(['segmentation', 'depth', 'normals']),
    classes: z.number().int().min(2).max(255).optional().describe('segmentation: classes including class 0'),
  })
  .strict();
export type MultitaskGalleryTask = z.output<typeof MultitaskGalleryTask>;

export const MultitaskGalleryParams = GalleryParams.extend({
  tasks: z.array(MultitaskGalleryTask).min(1).describe('the tasks to show, in column order (at most one of each kind)'),
});

export const MultitaskGalleryItem = z.object({
  id: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** base64 RGB PNG. */
  image: z.string(),
  /** Per task name: ground truth and prediction as coloured RGB PNGs; depth's colour-map range. */
  tasks: z.record(z.string(), z.object({ truth: z.string(), pred: z.string(), range: z.tuple([z.number(), z.number()]).optional() })),
});
export type MultitaskGalleryItem = z.output<typeof MultitaskGalleryItem>;

export const MultitaskGalleryRecord = z.object({
  kind: z.literal('multitask'),
  split: z.string(),
  epoch: z.number().int().min(0),
  tasks: z.array(MultitaskGalleryTask),
  items: z.array(MultitaskGalleryItem),
});
export type MultitaskGalleryRecord = z.output<typeof MultitaskGalleryRecord>;

/** Every multi-task gallery a run's events hold, in order (galleriesOf skips them: their items differ). */
export function multitaskGalleriesOf(events: readonly RunEvent[]): MultitaskGalleryRecord[] {
  return events.flatMap((e) => {
    if (e.type !== 'log' || typeof e.data !== 'object' || e.data === null || !('gallery' in e.data)) return [];
    const parsed = MultitaskGalleryRecord.safeParse((e.data as { gallery: unknown }).gallery);
    return parsed.success ? [parsed.data] : [];
  });
}

/** The input ports of each kind: [ground truth, prediction]. */
const PORTS = { segmentation: ['segLabels', 'segPred'], depth: ['depthGt', 'depthPred'], normals: ['normalGt', 'normalPred'] } as const;

function checkTasks(tasks: readonly MultitaskGalleryTask[], node: string): void {
  const kinds = new Set<string>();
  for (const t of tasks) {
    if (kinds.has(t.kind)) throw new Error(`node '${node}' param 'tasks': two ${t.kind} tasks; the node has one pair of ${t.kind} inputs`);
    kinds.add(t.kind);
    if (t.kind === 'segmentation' && t.classes === undefined) throw new Error(`node '${node}' param 'tasks': segmentation task '${t.name}' needs 'classes' (for its colours)`);
  }
}

export const MultitaskGallery = defineNode({
  kind: 'report/multitask-gallery',
  description: "keeps the first validation images of each epoch with each task's ground truth and prediction (class colours, depth colour map, normals as RGB), for the run report's gallery",
  placement: 'main',
  inputs: {
    images: ImageBatch,
    segLabels: optional(LabelBatch),
    segPred: optional(LabelBatch),
    depthGt: optional(DepthBatch),
    depthPred: optional(DepthBatch),
    normalGt: optional(NormalBatch),
    normalPred: optional(NormalBatch),
  },
  outputs: {},
  params: MultitaskGalleryParams,
  main: {
    type: 'map',
    concurrency: 1,
    create: (p, ctx) => {
      checkTasks(p.tasks, ctx.node);
      const keeper = new KeptGroup(p, ctx, { kind: 'multitask', tasks: p.tasks }, MultitaskGalleryItem);
      return {
        async process(inputs, meta) {
          const wanted = keeper.wants(meta);
          if (wanted > 0) {
            const [n, h, w] = nhwc(inputs.images, 'images', 3);
            const per = h * w;
            const port = (name: string, t: TensorData | undefined, task: MultitaskGalleryTask, channels: number | 'ids') => {
              if (!t) throw new Error(`node '${ctx.node}': task '${task.name}' is ${task.kind} but input '${name}' is not connected`);
              const s = channels === 'ids' ? ids(t, name) : nhwc(t, name, channels);
              requireImageSize(name, s, [n, h, w], s);
              return t;
            };
            const size = thumbnailSize(w, h, p.maxSize);
            const encode = (rgb: Uint8Array) => png(rgb, w, h, 3, size, 'nearest');
            for (let b = 0; b < Math.min(n, wanted); b++) {
              const tasks: MultitaskGalleryItem['tasks'] = {};
              for (const task of p.tasks) {
                const [truthPort, predPort] = PORTS[task.kind];
                const [truthIn, predIn] = [inputs[truthPort], inputs[predPort]];
                if (task.kind === 'segmentation') {
                  const classes = task.classes!;
                  const [truth, pred] = [idPlane(port(truthPort, truthIn, task, 'ids'), truthPort, b, per, classes), idPlane(port(predPort, predIn, task, 'ids'), predPort, b, per, classes)];
                  tasks[task.name] = {
                    truth: await encode(rgbOf(per, (i) => segmentationColour(truth[i]!, classes))),
                    pred: await encode(rgbOf(per, (i) => segmentationColour(pred[i]!, classes))),
                  };
                } else if (task.kind === 'depth') {
                  const truth = (port(truthPort, truthIn, task, 1).data as Float32Array).subarray(b * per, (b + 1) * per);
                  const pred = (port(predPort, predIn, task, 1).data as Float32Array).subarray(b * per, (b + 1) * per);
                  const range = depthRange(truth, pred);
                  tasks[task.name] = { truth: await encode(depthRgb(truth, range, true)), pred: await encode(depthRgb(pred, range, false)), range };
                } else {
                  const truth = (port(truthPort, truthIn, task, 3).data as Float32Array).subarray(b * per * 3, (b + 1) * per * 3);
                  const pred = (port(predPort, predIn, task, 3).data as Float32Array).subarray(b * per * 3, (b + 1) * per * 3);
                  tasks[task.name] = { truth: await encode(normalsRgb(truth)), pred: await encode(normalsRgb(pred)) };
                }
              }
              const image = await png(bytesOf(inputs.images.data as Float32Array, b, per * 3), w, h, 3, size, 'lanczos3');
              keeper.push({ id: keeper.idOf(undefined, b), ...size, image, tasks });
            }
          }
          keeper.end(meta);
          return {};
        },
        state: keeper.state,
      };
    },
  },
});
