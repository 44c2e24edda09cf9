/**
 * The binary-segmentation metric set as a streaming accumulator node: each batch's images are
 * scored off the main thread (MetricPool), and at the end of each (split, epoch) group the node
 * emits one `metric` event per metric, the mean over the group's images (the Conv-LoRA
 * protocol: per-image scores, then their mean). With `perImage`, it also emits a `log` event
 * holding every image's scores.
 */
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { MaskBatch, MaskProbs } from '../ports.ts';
import { splitBinaryBatch } from './binary-image.ts';
import { BINARY_METRICS, BinaryMeans, type BinaryMetricName, type BinaryScores } from './binary-metrics.ts';
import { MetricPool } from './pool.ts';

export interface PerImageScores extends BinaryScores {
  /** The item's index and the image's position in its batch. */
  readonly item: number;
  readonly image: number;
}

export const BinaryMetrics = defineNode({
  kind: 'metrics/binary',
  description: 'binary segmentation metrics (iou, dice, sm, em, wfm, mae, ber) per image, averaged per split and epoch',
  placement: 'main',
  inputs: { probs: MaskProbs, masks: MaskBatch },
  outputs: {},
  params: z.object({
    metrics: z
      .array(z.enum(BINARY_METRICS))
      .min(1)
      .default([...BINARY_METRICS])
      .describe('which metrics to compute'),
    perImage: z.boolean().default(false).describe('also emit every image’s scores as a log event'),
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
        process: async ({ probs, masks }, meta) => {
          if (group && (group.split !== meta.split || group.epoch !== meta.epoch)) await flush();
          group = { split: meta.split, epoch: meta.epoch };
          splitBinaryBatch(probs, masks).forEach((image, i) => {
            const row = pool.score(image, names, { transfer: true }).then((scores) => ({ item: meta.index, image: i, ...scores }));
            row.catch(() => undefined); // reported by the flush that awaits it
            pending.push(row);
          });
          if (meta.groupEnd) await flush();
          return {};
        },
        finish: flush,
      };
    },
  },
});
