/**
 * The new loss and metric nodes inside a real run: structure loss + weighted sum train a
 * segmenter in the tensor worker (one gradient tape through both nodes, params rebuilt from
 * JSON there), and the binary metric set scores the validation split through the metric pool.
 */
import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { compile } from '../../../src/graph/compile.ts';
import { GraphBuilder } from '../../../src/graph/graph.ts';
import { run } from '../../../src/graph/run.ts';
import { Batch } from '../../../src/nodes/data/batch.ts';
import { SyntheticShapes } from '../../../src/nodes/data/synthetic-shapes.ts';
import { StructureLoss } from '../../../src/nodes/losses/structure-loss.ts';
import { WeightedSum } from '../../../src/nodes/losses/weighted-sum.ts';
import { BinaryMetrics } from '../../../src/nodes/metrics/binary-set.ts';
import { PatchMlp } from '../../../src/nodes/models/patch-mlp.ts';
import { Adam } from '../../../src/nodes/train/adam.ts';
import { TensorWorker } from '../../../workers/host.ts';

describe('losses and metrics in a run', () => {
  it('trains with structure loss through a weighted sum and reports the binary metric set per epoch', async () => {
    const g = new GraphBuilder({ name: 'losses-in-graph', seed: 3 });
    const data = g.add('data', SyntheticShapes, { params: { size: 16, train: 16, val: 8, epochs: 2 } });
    const batch = g.add('batch', Batch, { params: { size: 4 }, inputs: { image: data.out.image, mask: data.out.mask } });
    const model = g.add('model', PatchMlp, { params: { patch: 4, hidden: 8 }, inputs: { images: batch.out.images } });
    const seg = g.add('seg', StructureLoss, { params: { bce: 'weighted' }, inputs: { logits: model.out.logits, masks: batch.out.masks } });
    const total = g.add('total', WeightedSum, { params: { weights: [2] }, inputs: { loss0: seg.out.loss } });
    g.add('optimizer', Adam, { params: { lr: 0.01 }, inputs: { loss: total.out.loss } });
    g.add('metrics', BinaryMetrics, { params: { metrics: ['iou', 'sm', 'wfm', 'ber'] }, inputs: { probs: model.out.probs, masks: batch.out.masks } });
    const events = await lastValueFrom(run(compile(g.build()), { executor: () => TensorWorker.start() }).pipe(toArray()));
    expect(events.filter((e) => e.type === 'failed')).toEqual([]);
    const metrics = events.flatMap((e) => (e.type === 'metric' && e.node === 'metrics' ? [e] : []));
    for (const split of ['train', 'val']) {
      for (const epoch of [0, 1]) {
        const names = metrics.filter((m) => m.split === split && m.epoch === epoch).map((m) => m.name);
        expect(names, `${split} ${epoch}`).toEqual(['iou', 'sm', 'wfm', 'ber']);
      }
    }
    for (const m of metrics) expect(m.value).toBeGreaterThanOrEqual(0);
    const losses = events.flatMap((e) => (e.type === 'metric' && e.name === 'loss' && e.split === 'train' ? [e.value] : []));
    expect(losses.length).toBe(8);
    expect(losses.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
  });
});
