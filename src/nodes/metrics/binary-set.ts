/**
 * The binary-segmentation metric set as a streaming accumulator node: each batch's images are
 * scored off the main thread (MetricPool), and at the end of each (split, epoch) group the node
 * emits one `metric` event per metric, the mean over the group's images (the Conv-LoRA
 * protocol: per-image scores, then their mean). With `perImage`, it also emits a `log` event
 * holding every image's scores, each row named by its sample id when `infos` is connected.
 *
 * With `originals` connected (Batch's original masks), each image is scored at its ground
 * truth's own resolution, as the benchmarks do: the network's probability map (e.g. 64x64 or
 * 1024x1024) is resized to the original mask's size with PyTorch's bilinear
 * (align_corners=False, resize-bilinear.ts), in the pool thread; `masks` is then only checked
 * for its batch size. The map must cover the whole image (ResizeSquare's geometry, not a padded
 * ResizeLongestSide input).
 */
import { z } from 'zod';
import { defineNode, optional } from '../../graph/node.ts';
import { checkTensorData, type TensorData } from '../../graph/port.ts';
import { MaskBatch, MaskList, MaskProbs, SampleInfos, type RawImage } from '../ports.ts';
import { splitBinaryBatch, type BinaryImage } from './binary-image.ts';
import { BINARY_METRICS, BinaryMeans, type BinaryMetricName, type BinaryScores } from './binary-metrics.ts';
import { MetricPool } from './pool.ts';

export interface PerImageScores extends BinaryScores {
  /** The item's index and the image's position in its batch. */
  readonly item: number;
  readonly image: number;
  /** The sample's id, when `infos` is connected. */
  readonly id?: string;
}

/** One image of the batch to score: its prediction (at the network's size) and ground truth. */
export interface ScoreJob {
  readonly image: BinaryImage;
  /** Set when the prediction must be resized to the ground truth's size first. */
  readonly predSize?: { width: number; height: number };
}

/**
 * Each image of an NHW1 probability batch with its original mask (0/1, any size): the
 * prediction as a float32 copy of its plane, the ground truth as 0/255 bytes (the metrics'
 * 8-bit scale, a quarter of float32's size to send).
 */
export function splitAgainstOriginals(probs: TensorData, masks: TensorData, originals: readonly RawImage[]): ScoreJob[] {
  if (probs.shape.length !== 4 || probs.shape[3] !== 1) throw new Error(`probs must be NHW1, got [${probs.shape.join(', ')}]`);
  checkTensorData(probs, 'probs');
  const [batch, height, width] = probs.shape as [number, number, number, number];
  if (originals.length !== batch || masks.shape[0] !== batch) {
    throw new Error(`probs holds ${batch} images but masks ${masks.shape[0]} and originals ${originals.length}; expected one original mask per image (connect Batch's originals)`);
  }
  const per = width * height;
  return originals.map((original, b) => {
    if (original.channels !== 1 || original.data.length !== original.width * original.height) {
      throw new Error(`originals[${b}] is ${original.width}x${original.height}x${original.channels} with ${original.data.length} values; expected a one-channel binary mask`);
    }
    const gt = new Uint8Array(original.data.length);
    for (let i = 0; i < gt.length; i++) gt[i] = original.data[i]! > 0 ? 255 : 0;
    const pred = Float32Array.from(probs.data.subarray(b * per, (b + 1) * per));
    const image = { width: original.width, height: original.height, pred, gt };
    return original.width === width && original.height === height ? { image } : { image, predSize: { width, height } };
  });
}

export const BinaryMetrics = defineNode({
  kind: 'metrics/binary',
  description: 'binary segmentation metrics (iou, dice, sm, em, wfm, mae, ber) per image, averaged per split and epoch',
  placement: 'main',
  inputs: { probs: MaskProbs, masks: MaskBatch, originals: optional(MaskList), infos: optional(SampleInfos) },
  outputs: {},
  params: z.object({
    metrics: z
      .array(z.enum(BINARY_METRICS))
      .min(1)
      .default([...BINARY_METRICS])
      .describe('which metrics to compute'),
    perImage: z.boolean().default(false).describe('also emit every image’s scores as a log event (rows carry the sample id when infos is connected)'),
  }),
  main: {
    type: 'map',
    concurrency: 4,
    create: (p, ctx) => {
      const pool = MetricPool.shared();
      const names = p.metrics as BinaryMetricName[];
      let pending: Promise<PerImageScores>[] = [];
      let group: { split: string; epoch: number } | undefined;

      const flush = async () => {
        const done = pending;
        const g = group;
        pending = [];
        group = undefined;
        if (!g || done.length === 0) return;
        const rows = await Promise.all(done);
        const means = new BinaryMeans();
        for (const row of rows) means.add(row);
        for (const [name, value] of Object.entries(means.means())) {
          ctx.emit({ type: 'metric', name, value, split: g.split, epoch: g.epoch });
        }
        if (p.perImage) {
          ctx.emit({ type: 'log', message: `per-image metrics, ${g.split} epoch ${g.epoch}: ${rows.length} images`, data: { split: g.split, epoch: g.epoch, images: rows } });
        }
      };

      return {
        process: async ({ probs, masks, originals, infos }, meta) => {
          if (group && (group.split !== meta.split || group.epoch !== meta.epoch)) await flush();
          group = { split: meta.split, epoch: meta.epoch };
          const jobs: ScoreJob[] = originals ? splitAgainstOriginals(probs, masks, originals) : splitBinaryBatch(probs, masks).map((image) => ({ image }));
          if (infos && infos.length !== jobs.length) {
            throw new Error(`probs holds ${jobs.length} images but infos ${infos.length}; expected one SampleInfo per image (connect Batch's infos)`);
          }
          jobs.forEach(({ image, predSize }, i) => {
            const id = infos?.[i]?.id;
            const row = pool
              .score(image, names, { transfer: true, ...(predSize ? { predSize } : {}) })
              .then((scores): PerImageScores => ({ item: meta.index, image: i, ...(id !== undefined ? { id } : {}), ...scores }));
            row.catch(() => undefined); // reported by the flush that awaits it
            pending.push(row);
          });
          if (meta.groupEnd) await flush();
          return {};
        },
        finish: flush,
        // A run resumed inside a group keeps the scores of the group's images scored before.
        state: {
          save: async () => ({ group, rows: await Promise.all(pending) }),
          restore: (saved) => {
            const s = saved as { group?: { split: string; epoch: number }; rows: PerImageScores[] };
            group = s.group;
            pending = s.rows.map((row) => Promise.resolve(row));
          },
        },
      };
    },
    // A distributed evaluation's shards (src/distributed/mergeable.ts): their saved scores, in item order, are one group's.
    merge: (saved: readonly unknown[]) => {
      const states = saved as { group?: { split: string; epoch: number }; rows: PerImageScores[] }[];
      return { group: states.find((s) => s.group)?.group, rows: states.flatMap((s) => s.rows) };
    },
  },
});
