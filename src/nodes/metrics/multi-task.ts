/**
 * The multi-task evaluation node (TA-LoRA / mSAM on NYUv2 or Cityscapes): whichever task inputs
 * are connected are accumulated over each (split, epoch) group, and at its end the node emits
 * - seg/miou, seg/pixel_accuracy (miou.ts; LibMTL convention by default),
 * - depth/abs_err, depth/rel_err (depth.ts; global pixel average),
 * - normal/mean, normal/median, normal/within_11.25, normal/within_22.5, normal/within_30 (normals.ts),
 * - delta_m (%), when a `baseline` run is named: Δm of these metrics against that run's
 *   metrics on `baselineSplit` (delta-m.ts).
 */
import { z } from 'zod';
import { defineNode, optional } from '../../graph/node.ts';
import { checkTensorData, type TensorData } from '../../graph/port.ts';
import { DepthBatch, LabelBatch, NormalBatch } from '../ports.ts';
import { deltaM, readBaseline, type BaselineRun } from './delta-m.ts';
import { DepthErrors } from './depth.ts';
import { labelIds, SegmentationConfusion } from './miou.ts';
import { NormalErrors } from './normals.ts';

function pair(pred: TensorData | undefined, gt: TensorData | undefined, what: string): [TensorData, TensorData] | undefined {
  if (!pred && !gt) return undefined;
  if (!pred || !gt) throw new Error(`${what}: connect both the prediction and the ground truth, or neither`);
  if (pred.shape.join() !== gt.shape.join()) throw new Error(`${what}: prediction [${pred.shape.join(', ')}] and ground truth [${gt.shape.join(', ')}] differ in shape`);
  checkTensorData(pred, `${what} prediction`);
  checkTensorData(gt, `${what} ground truth`);
  return [pred, gt];
}

export const MultiTaskMetrics = defineNode({
  kind: 'metrics/multi-task',
  description: 'multi-task metrics (segmentation, depth, normals) per split and epoch, and Δm against a baseline run',
  placement: 'main',
  inputs: {
    segPred: optional(LabelBatch),
    segLabels: optional(LabelBatch),
    depthPred: optional(DepthBatch),
    depthGt: optional(DepthBatch),
    normalPred: optional(NormalBatch),
    normalGt: optional(NormalBatch),
  },
  outputs: {},
  params: z.object({
    numClasses: z.number().int().positive().optional().describe('segmentation classes (needed when seg inputs are connected)'),
    convention: z.enum(['conv-lora', 'libmtl']).default('libmtl').describe('mIoU convention (see miou.ts)'),
    baseline: z.string().optional().describe('a baseline run folder, events.jsonl or metrics JSON to compute Δm against'),
    baselineSplit: z.string().default('test').describe('which split’s metrics of the baseline run to use'),
    deltaForm: z.enum(['task-mean', 'metric-mean']).default('task-mean').describe('Δm averaged per task (LibMTL) or over all metrics'),
  }),
  main: {
    type: 'map',
    create: (p, ctx) => {
      const baseline: BaselineRun | undefined = p.baseline !== undefined ? readBaseline(p.baseline, p.baselineSplit) : undefined;
      let seg: SegmentationConfusion | undefined;
      let depth: DepthErrors | undefined;
      let normal: NormalErrors | undefined;
      let group: { split: string; epoch: number } | undefined;
      const flush = () => {
        if (group) {
          const values: Record<string, number> = {};
          if (seg) {
            values['seg/miou'] = seg.miou();
            values['seg/pixel_accuracy'] = seg.pixelAccuracy();
          }
          if (depth) {
            values['depth/abs_err'] = depth.absErr();
            values['depth/rel_err'] = depth.relErr();
          }
          if (normal) {
            const s = normal.summary();
            values['normal/mean'] = s.mean;
            values['normal/median'] = s.median;
            values['normal/within_11.25'] = s.within11_25;
            values['normal/within_22.5'] = s.within22_5;
            values['normal/within_30'] = s.within30;
          }
          for (const [name, value] of Object.entries(values)) ctx.emit({ type: 'metric', name, value, split: group.split, epoch: group.epoch });
          if (baseline) {
            const value = deltaM(values, baseline.metrics, { form: p.deltaForm });
            ctx.emit({ type: 'metric', name: 'delta_m', value, split: group.split, epoch: group.epoch });
          }
        }
        seg = depth = normal = undefined;
        group = undefined;
      };
      return {
        process: (inputs, meta) => {
          if (group && (group.split !== meta.split || group.epoch !== meta.epoch)) flush();
          group = { split: meta.split, epoch: meta.epoch };
          const s = pair(inputs.segPred, inputs.segLabels, 'segmentation');
          if (s) {
            if (p.numClasses === undefined) throw new Error('segmentation inputs are connected but params.numClasses is not set');
            const ids = labelIds(s[0], s[1]);
            (seg ??= new SegmentationConfusion(p.numClasses, p.convention)).add(ids.pred, ids.labels);
          }
          const d = pair(inputs.depthPred, inputs.depthGt, 'depth');
          if (d) (depth ??= new DepthErrors()).add(d[0].data, d[1].data);
          const n = pair(inputs.normalPred, inputs.normalGt, 'normals');
          if (n) (normal ??= new NormalErrors()).add(n[0].data, n[1].data);
          if (meta.groupEnd) flush();
          return {};
        },
        finish: flush,
      };
    },
  },
});
