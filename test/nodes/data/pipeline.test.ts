import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import type { RunEvent } from '../../../src/graph/events.ts';
import { GraphBuilder } from '../../../src/graph/graph.ts';
import { run } from '../../../src/graph/run.ts';
import { RandomFlip, RandomFlipMultiTask } from '../../../src/nodes/augment/random-flip.ts';
import { RandomScaleCropMultiTask } from '../../../src/nodes/augment/random-scale-crop.ts';
import { ResizeLongestSide } from '../../../src/nodes/augment/resize-longest-side.ts';
import { Batch, BatchMultiTask } from '../../../src/nodes/data/batch.ts';
import { PairedFolders } from '../../../src/nodes/data/paired-folders.ts';
import { SyntheticScenes } from '../../../src/nodes/data/synthetic-scenes.ts';
import { tempDir, writeKvasir } from '../../fixtures/datasets.ts';

const events = (graph: ReturnType<GraphBuilder['build']>) => lastValueFrom(run(graph).pipe(toArray()));
const finished = (all: RunEvent[]) => all.find((e) => e.type === 'finished') as Extract<RunEvent, { type: 'finished' }> | undefined;

describe('readers in a running graph', () => {
  it('folder -> SAM resize -> flip -> batch runs through the runner, two epochs with holdout', async () => {
    const root = await writeKvasir(tempDir(), 6);
    const g = new GraphBuilder({ name: 'data', seed: 3 });
    const data = g.add('data', PairedFolders, { params: { root, epochs: 2, holdout: 0.34 } });
    const resize = g.add('resize', ResizeLongestSide, { params: { size: 32 }, inputs: { image: data.out.image, mask: data.out.mask } });
    const flip = g.add('flip', RandomFlip, { inputs: { image: resize.out.image, mask: resize.out.mask } });
    g.add('batch', Batch, { params: { size: 3 }, inputs: { image: flip.out.image, mask: flip.out.mask } });
    const all = await events(g.build());
    expect(all.filter((e) => e.type === 'failed')).toEqual([]);
    expect(finished(all)?.items).toBe(12);
    const progress = all.filter((e): e is Extract<RunEvent, { type: 'progress' }> => e.type === 'progress');
    // 4 train (batches of 3 and 1, cut at the group end) and 2 held-out val images per epoch.
    expect(progress.map((p) => `${p.split}${p.epoch}:${p.items}`)).toEqual(['train0:3', 'train0:4', 'val0:6', 'train1:9', 'train1:10', 'val1:12']);
    expect(progress[0]!.total).toBe(12);
  });

  it('synthetic scenes -> scale-crop -> flip -> multi-task batch', async () => {
    const g = new GraphBuilder({ name: 'mt', seed: 1 });
    const data = g.add('data', SyntheticScenes, { params: { size: 24, train: 4, val: 2, epochs: 1 } });
    const crop = g.add('crop', RandomScaleCropMultiTask, { inputs: { image: data.out.image, label: data.out.label, depth: data.out.depth, normal: data.out.normal } });
    const flip = g.add('flip', RandomFlipMultiTask, { inputs: { image: crop.out.image, label: crop.out.label, depth: crop.out.depth, normal: crop.out.normal } });
    g.add('batch', BatchMultiTask, { params: { size: 4 }, inputs: { image: flip.out.image, label: flip.out.label, depth: flip.out.depth, normal: flip.out.normal } });
    // g.add('bad', Batch, { inputs: { image: flip.out.image, mask: flip.out.label } });  ← does not compile: LabelMap is not BinaryMask
    const all = await events(g.build());
    expect(all.filter((e) => e.type === 'failed')).toEqual([]);
    expect(finished(all)?.items).toBe(6);
  });

  it('a reader whose folder has no known layout fails the run naming the node and the folder', async () => {
    const root = tempDir();
    const g = new GraphBuilder({ name: 'bad', seed: 1 });
    g.add('data', PairedFolders, { params: { root } });
    const failed = (await events(g.build())).find((e) => e.type === 'failed');
    expect(failed).toMatchObject({ type: 'failed', node: 'data', kind: 'data/paired-folders' });
    expect((failed as { error: string }).error).toContain(`${root}: the folder is empty`);
  });
});
