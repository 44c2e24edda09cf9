/**
 * Multi-class segmentation metrics accumulated over a whole dataset: per-class IoU, mIoU and
 * pixel accuracy, in the two conventions users compare with.
 *
 * - `'conv-lora'` (AutoGluon's `Multiclass_IoU`, behind the Conv-LoRA Trans10K numbers):
 *   intersections, predictions and labels are counted per class over the dataset;
 *   IoU_c = inter / (union + 2.22e−16) and mIoU is the mean over **all** C classes (a class
 *   never seen nor predicted scores 0 and lowers the mean). Ignored pixels (the official
 *   code's id 255; LabelBatch's −1) still count their **prediction** in the union, as the
 *   official code's do.
 * - `'libmtl'` (LibMTL / MTSAM, behind the TA-LoRA NYUv2 numbers): a confusion matrix over the
 *   pixels whose label is in [0, C); IoU_c = C[c,c] / (row + column − C[c,c]). A class absent
 *   from both labels and predictions has no IoU (null) and is left out of the mean (LibMTL's
 *   plain mean would be NaN).
 *
 * Pixel accuracy (both): correct / labelled pixels (labels in [0, C)). All values are fractions.
 *
 * ```ts
 * const m = new SegmentationConfusion(13, 'libmtl');
 * m.add(predIds, labelIds); // any number of times
 * m.miou(); m.pixelAccuracy(); m.perClassIou();
 * ```
 */
import { z } from 'zod';
import { defineNode } from '../../graph/node.ts';
import { checkTensorData, type TensorData } from '../../graph/port.ts';
import { LabelBatch } from '../ports.ts';

export type IouConvention = 'conv-lora' | 'libmtl';

export class SegmentationConfusion {
  /** matrix[label * C + pred], labelled pixels only */
  readonly matrix: Float64Array;
  /** predictions on pixels whose label is not in [0, C) (conv-lora counts them in the union) */
  readonly predOnIgnored: Float64Array;

  constructor(
    readonly numClasses: number,
    readonly convention: IouConvention = 'conv-lora',
  ) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`SegmentationConfusion: numClasses must be a positive integer, got ${numClasses}`);
    this.matrix = new Float64Array(numClasses * numClasses);
    this.predOnIgnored = new Float64Array(numClasses);
  }

  /** Adds predicted class ids against label ids (same length); labels outside [0, C) are ignored. */
  add(pred: ArrayLike<number>, labels: ArrayLike<number>): void {
    if (pred.length !== labels.length) throw new Error(`SegmentationConfusion: ${pred.length} predictions for ${labels.length} labels`);
    const c = this.numClasses;
    for (let i = 0; i < pred.length; i++) {
      const p = pred[i]!;
      if (!(p >= 0 && p < c && Number.isInteger(p))) throw new Error(`SegmentationConfusion: predicted class ${p} at pixel ${i} is outside [0, ${c})`);
      const l = labels[i]!;
      if (l >= 0 && l < c) this.matrix[l * c + p]!++;
      else this.predOnIgnored[p]!++;
    }
  }

  /** IoU per class; null where the convention has none (libmtl: class never labelled nor predicted). */
  perClassIou(): (number | null)[] {
    const c = this.numClasses;
    const out: (number | null)[] = [];
    for (let k = 0; k < c; k++) {
      const inter = this.matrix[k * c + k]!;
      let row = 0;
      let col = 0;
      for (let j = 0; j < c; j++) {
        row += this.matrix[k * c + j]!;
        col += this.matrix[j * c + k]!;
      }
      if (this.convention === 'conv-lora') {
        out.push(inter / (row + col + this.predOnIgnored[k]! - inter + 2.220446049250313e-16));
      } else {
        const union = row + col - inter;
        out.push(union === 0 ? null : inter / union);
      }
    }
    return out;
  }

  miou(): number {
    const ious = this.perClassIou().filter((v): v is number => v !== null);
    return ious.length === 0 ? 0 : ious.reduce((a, b) => a + b, 0) / ious.length;
  }

  pixelAccuracy(): number {
    const c = this.numClasses;
    let correct = 0;
    let total = 0;
    for (let k = 0; k < c * c; k++) total += this.matrix[k]!;
    for (let k = 0; k < c; k++) correct += this.matrix[k * c + k]!;
    return total === 0 ? 0 : correct / total;
  }
}

/** The class ids of an NHW1 (or NHW) int32 LabelBatch, checked against the other batch's shape. */
export function labelIds(pred: TensorData, labels: TensorData): { pred: TensorData['data']; labels: TensorData['data'] } {
  if (pred.shape.join() !== labels.shape.join()) {
    throw new Error(`predicted labels [${pred.shape.join(', ')}] and ground-truth labels [${labels.shape.join(', ')}] differ in shape`);
  }
  checkTensorData(pred, 'predicted labels');
  checkTensorData(labels, 'ground-truth labels');
  return { pred: pred.data, labels: labels.data };
}

export const SemanticSegMetrics = defineNode({
  kind: 'metrics/semantic-seg',
  description: 'multi-class segmentation: mIoU, per-class IoU and pixel accuracy accumulated over each split and epoch',
  placement: 'main',
  inputs: { pred: LabelBatch, labels: LabelBatch },
  outputs: {},
  params: z.object({
    numClasses: z.number().int().positive().describe('number of classes C (labels 0..C−1; others are ignored)'),
    convention: z.enum(['conv-lora', 'libmtl']).default('conv-lora').describe('how ignored pixels and absent classes count (see miou.ts)'),
    perClass: z.boolean().default(false).describe('also emit iou/<class> per class'),
    prefix: z.string().default('').describe('prefix of the metric names, e.g. "seg/"'),
  }),
  main: {
    type: 'map',
    create: (p, ctx) => {
      let confusion = new SegmentationConfusion(p.numClasses, p.convention);
      let group: { split: string; epoch: number } | undefined;
      const flush = () => {
        if (group) {
          const at = { split: group.split, epoch: group.epoch };
          ctx.emit({ type: 'metric', name: `${p.prefix}miou`, value: confusion.miou(), ...at });
          ctx.emit({ type: 'metric', name: `${p.prefix}pixel_accuracy`, value: confusion.pixelAccuracy(), ...at });
          if (p.perClass) {
            confusion.perClassIou().forEach((v, k) => {
              if (v !== null) ctx.emit({ type: 'metric', name: `${p.prefix}iou/${k}`, value: v, ...at });
            });
          }
        }
        confusion = new SegmentationConfusion(p.numClasses, p.convention);
        group = undefined;
      };
      return {
        process: ({ pred, labels }, meta) => {
          if (group && (group.split !== meta.split || group.epoch !== meta.epoch)) flush();
          group = { split: meta.split, epoch: meta.epoch };
          const ids = labelIds(pred, labels);
          confusion.add(ids.pred, ids.labels);
          if (meta.groupEnd) flush();
          return {};
        },
        finish: flush,
        // The counts so far, for a resume mid-group and for a distributed evaluation's shards.
        state: {
          save: (): ConfusionState => ({ ...(group ? { group } : {}), matrix: Array.from(confusion.matrix), predOnIgnored: Array.from(confusion.predOnIgnored) }),
          restore: (saved) => {
            const state = saved as ConfusionState;
            confusion = new SegmentationConfusion(p.numClasses, p.convention);
            if (state.matrix.length !== confusion.matrix.length) throw new Error(`node '${ctx.node}': saved counts are for ${Math.sqrt(state.matrix.length)} classes, this node has ${p.numClasses}`);
            confusion.matrix.set(state.matrix);
            confusion.predOnIgnored.set(state.predOnIgnored);
            group = state.group;
          },
        },
      };
    },
    // Shards' counts add up exactly (whole numbers), in any order.
    merge: (saved: readonly unknown[]): ConfusionState => {
      const states = saved as ConfusionState[];
      const sum = (key: 'matrix' | 'predOnIgnored') => states[0]![key].map((_, i) => states.reduce((a, s) => a + s[key][i]!, 0));
      const group = states.find((s) => s.group)?.group;
      return { ...(group ? { group } : {}), matrix: sum('matrix'), predOnIgnored: sum('predOnIgnored') };
    },
  },
});

interface ConfusionState {
  readonly group?: { split: string; epoch: number };
  readonly matrix: number[];
  readonly predOnIgnored: number[];
}
