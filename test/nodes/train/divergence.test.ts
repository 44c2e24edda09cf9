/**
 * Divergence stops a run at once with where it happened: a non-finite loss, or a finite loss
 * whose gradient norm overflows. y = b (scale 0), loss = (y − t)²: t = 1e30 overflows the loss;
 * t = 1.5e19 keeps the loss finite (2.25e38) while the gradient, 2(y − t), squares to 9e38.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/graph/compile.ts';
import { GraphBuilder } from '../../../src/graph/graph.ts';
import { run } from '../../../src/graph/run.ts';
import { Adam } from '../../../src/nodes/train/adam.ts';
import { TensorWorker } from '../../../workers/host.ts';
import { Affine, Counter, Distance, FIXTURE_MODULE } from '../../fixtures/nodes.ts';

async function failure(target: number) {
  const g = new GraphBuilder({ name: 'diverges', modules: [FIXTURE_MODULE] });
  const src = g.add('src', Counter, { params: { count: 3, width: 1, train: 3 } });
  const affine = g.add('affine', Affine, { params: { scale: 0, width: 1 }, inputs: { vector: src.out.vector } });
  const loss = g.add('loss', Distance, { params: { target }, inputs: { vector: affine.out.vector } });
  g.add('optimizer', Adam, { params: { lr: 0.1 }, inputs: { loss: loss.out.loss } });
  const events = await lastValueFrom(run(compile(g.build()), { executor: () => TensorWorker.start({ backend: 'cpu' }) }).pipe(toArray()));
  return events.at(-1);
}

describe('divergence', () => {
  it('a non-finite loss stops the run naming split, item, epoch and updates', async () => {
    expect(await failure(1e30)).toMatchObject({
      type: 'failed',
      node: 'optimizer',
      error: expect.stringContaining('loss is Infinity on train item 0 (epoch 1, after 0 updates)'),
    });
  });

  it('a gradient norm that overflows stops the run before the update is applied', async () => {
    expect(await failure(1.5e19)).toMatchObject({
      type: 'failed',
      node: 'optimizer',
      error: expect.stringContaining('the gradient norm is Infinity at update 1 (train item 0, epoch 1): training diverged; lower the lr'),
    });
  });
});
