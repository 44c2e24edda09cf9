import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { compile } from '../../src/graph/compile.ts';
import { run } from '../../src/graph/run.ts';
import { TensorWorker } from '../../workers/host.ts';
import { toySegmentation } from '../../pipelines/toy-segmentation.ts';

describe('toy segmentation pipeline', () => {
  it('learns: validation loss falls and validation IoU rises on images it never trains on', async () => {
    const graph = toySegmentation({ epochs: 4, train: 64, val: 32, size: 32, lr: 0.02 });
    const events = await lastValueFrom(run(compile(graph), { executor: () => TensorWorker.start() }).pipe(toArray()));
    expect(events.at(-1)).toMatchObject({ type: 'finished', items: 4 * 96 });
    const val = (name: string) =>
      [0, 1, 2, 3].map((epoch) => {
        const values = events.flatMap((e) => (e.type === 'metric' && e.name === name && e.split === 'val' && e.epoch === epoch ? [e.value] : []));
        return values.reduce((a, b) => a + b, 0) / values.length;
      });
    const loss = val('loss');
    const iou = val('iou');
    expect(loss[3]!).toBeLessThan(0.75 * loss[0]!);
    expect(iou[3]!).toBeGreaterThan(iou[0]! + 0.2);
    expect(iou[3]!).toBeGreaterThan(0.4);
  });
});
