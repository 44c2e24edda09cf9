/**
 * conv-lora-multiclass end to end: learning on the synthetic set (val mIoU clearly above the
 * majority-class baseline the test computes from the val labels, train loss falling), and
 * train → eval → predict on a CamVid-layout folder through the CLI, with the predicted class-id
 * PNGs read back by the class-index decoder.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { train } from '../../src/api/training.ts';
import type { RunEvent } from '../../src/graph/events.ts';
import { decodeLabel } from '../../src/nodes/data/decode.ts';
import { SyntheticClasses } from '../../src/nodes/data/synthetic-classes.ts';
import { SegmentationConfusion } from '../../src/nodes/metrics/miou.ts';
import { convLoraMulticlass } from '../../pipelines/conv-lora-multiclass.ts';
import { captureCli, samflow } from '../cli/capture.ts';
import { drain, tempDir, writeCamvid } from '../fixtures/datasets.ts';
import { TINY_SAM } from '../fixtures/sam-configs.ts';

const cli = captureCli();

const metric = (events: RunEvent[], name: string, split: string) =>
  events.filter((e): e is Extract<RunEvent, { type: 'metric' }> => e.type === 'metric' && e.name === name && e.split === split);

describe('conv-lora-multiclass', () => {
  it('learns shapes on the synthetic set: val mIoU well above predicting the majority class, train loss falling', async () => {
    const dir = tempDir('samflow-multiclass-');
    const options = { train: 64, val: 16, epochs: 10 };
    const started = await train({ pipeline: 'conv-lora-multiclass', options, out: join(dir, 'run') });
    const events = await lastValueFrom(started.events.pipe(toArray()));
    expect(events.at(-1)).toMatchObject({ type: 'finished' });

    // The baseline: every val pixel the class most frequent in the val labels.
    const graph = convLoraMulticlass(options);
    const data = graph.json.nodes.find((n) => n.name === 'data')!;
    const { items } = await drain(SyntheticClasses.main, SyntheticClasses.params.parse(data.params), graph.json.seed);
    const val = items.filter((i) => i.meta!.split === 'val' && i.meta!.epoch === 0).map((i) => i.values.label.data);
    const counts = new Array(5).fill(0);
    for (const label of val) for (const id of label) if (id < 5) counts[id]++;
    const majority = counts.indexOf(Math.max(...counts));
    const baseline = new SegmentationConfusion(5, 'conv-lora');
    for (const label of val) baseline.add(new Array(label.length).fill(majority), Array.from(label, (v) => (v === 255 ? -1 : v)));

    const miou = metric(events, 'miou', 'val').map((e) => e.value);
    const loss = metric(events, 'loss', 'train');
    const first = loss.filter((e) => e.epoch === 0).at(-1)!.value;
    const last = loss.filter((e) => e.epoch === 9).at(-1)!.value;
    expect(last).toBeLessThan(first * 0.9);
    expect(Math.max(...miou)).toBeGreaterThan(baseline.miou() + 0.08);
    expect(metric(events, 'iou/1', 'val')).toHaveLength(10);
    expect(metric(events, 'libmtl/miou', 'val')).toHaveLength(10);
  }, 240_000);

  it('trains on a CamVid folder, evaluates with per-class IoU printed, and predicts class-id PNGs (and colour ones) at each image size', async () => {
    const dir = tempDir('samflow-camvid-');
    const camvid = await writeCamvid(join(dir, 'camvid'), { train: 4, val: 2, test: 3 });
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_SAM));
    const run = join(dir, 'run');
    expect(await samflow('train', 'conv-lora-multiclass', '--data', camvid, '--arch', join(dir, 'tiny.json'), '--epochs', '1', '--set', 'classes=11', '--set', 'ignoreLabel=11', '--set', 'queries=4', '--set', 'points=64', '--out', run)).toBe(0);
    expect(await samflow('eval', run, '--data', camvid, '--split', 'test')).toBe(0);
    const out = cli.out;
    expect(out).toMatch(/3 images \(test\): miou \d\.\d{4}, pixel_accuracy \d\.\d{4}, libmtl\/miou/);
    expect(out).toContain('per-class IoU:');
    expect(out).toMatch(/class {2}10 {2}\d\.\d{4}/);
    const masks = join(dir, 'masks');
    expect(await samflow('predict', run, '--images', join(camvid, 'test'), '--out', masks, '--palette')).toBe(0);
    expect(readdirSync(masks).sort()).toEqual(['colour', 'f0.png', 'f1.png', 'f2.png']);
    for (const name of ['f0', 'f1', 'f2']) {
      const ids = await decodeLabel(join(masks, `${name}.png`));
      expect([ids.width, ids.height]).toEqual([20, 16]);
      expect([...ids.data].every((v) => v < 11)).toBe(true);
      expect(existsSync(join(masks, 'colour', `${name}.png`))).toBe(true);
    }
    // never over an existing mask
    expect(await samflow('predict', run, '--images', join(camvid, 'test'), '--out', masks)).toBe(1);
    expect(cli.err).toContain('predict never overwrites');
    // a data folder without the class count is refused before anything runs
    cli.err = '';
    expect(await samflow('train', 'conv-lora-multiclass', '--data', camvid, '--out', join(dir, 'run2'))).toBe(1);
    expect(cli.err).toContain("bad option 'classes': give the number of classes of the data set (e.g. CamVid 11 with ignoreLabel 11");
  }, 180_000);

  it.each(['lora', 'decoder-only', 'bitfit', 'adapter', 'ssf', 'vpt', 'sam-adapter', 'lst', 'full'])('runs with method %s in place of Conv-LoRA', async (method) => {
    const dir = tempDir(`samflow-multiclass-${method}-`);
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_SAM));
    const started = await train({ pipeline: 'conv-lora-multiclass', options: { arch: join(dir, 'tiny.json'), method, train: 4, val: 2, epochs: 1 }, out: join(dir, 'run') });
    const events = await lastValueFrom(started.events.pipe(toArray()));
    expect(events.at(-1)).toMatchObject({ type: 'finished' });
    expect(metric(events, 'miou', 'val')).toHaveLength(1);
    expect(metric(events, 'grad_norm', 'train').at(-1)!.value).toBeGreaterThan(0);
  }, 60_000);
});
