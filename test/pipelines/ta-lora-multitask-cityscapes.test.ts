/**
 * ta-lora-multitask on MTAN's Cityscapes layout ({train,val}/{image,label_7,depth}/N.npy, no
 * normal/ folder): seg + depth train one epoch and evaluate through the API; a normals task
 * on that folder is refused before any work, naming the folder. The run's report.html holds the
 * per-task gallery and, for a run trained with `baseline`, the Δm table.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/api/inference.ts';
import { train } from '../../src/api/training.ts';
import { writeNpy } from '../../src/nodes/data/npy.ts';
import { CITYSCAPES_TASKS, NYUV2_TASKS } from '../../src/nodes/sam/msam/tasks.ts';
import { tempDir } from '../fixtures/datasets.ts';
import { TINY_SAM } from '../fixtures/sam-configs.ts';

/** MTAN Cityscapes in miniature: image HxWx3 in [0, 1], label_7 HxW ids 0..6 with -1 ignore, inverse depth HxWx1 (0 = invalid). */
function writeCityscapes(root: string, counts: Record<string, number>, height = 8, width = 16): string {
  const n = height * width;
  for (const [split, count] of Object.entries(counts)) {
    for (let k = 0; k < count; k++) {
      const write = (task: string, data: Float32Array, shape: number[]) => {
        mkdirSync(join(root, split, task), { recursive: true });
        writeFileSync(join(root, split, task, `${k}.npy`), writeNpy(data, shape));
      };
      write('image', new Float32Array(n * 3).map((_, i) => ((i + 3 * k) % 11) / 10), [height, width, 3]);
      write('label_7', new Float32Array(n).map((_, i) => (i % 9 === 8 ? -1 : Math.floor((i % width) / 3 + k) % 7)), [height, width]);
      write('depth', new Float32Array(n).map((_, i) => (i % 13 === 0 ? 0 : 0.01 + (Math.floor(i / width) * 0.01) / height)), [height, width, 1]);
    }
  }
  return root;
}

describe('ta-lora-multitask on an MTAN Cityscapes-layout folder', () => {
  const dir = tempDir('samflow-mtl-city-');
  const data = join(dir, 'cityscapes2');
  const arch = join(dir, 'tiny.json');

  beforeAll(() => {
    writeFileSync(arch, JSON.stringify(TINY_SAM));
    writeCityscapes(data, { train: 4, val: 2 });
  });

  it('refuses a normals task: the folder has no normal/', async () => {
    await expect(train({ pipeline: 'ta-lora-multitask', options: { arch, data, labelDir: 'label_7', epochs: 1 }, out: join(dir, 'refused') })).rejects.toThrow(
      `option 'tasks': task 'normal' is normals, but ${join(data, 'train')} and ${join(data, 'val')} have no 'normal/' folder`,
    );
    // The NYUv2 task list with a 7-class segmentation is refused the same way: the check is about the normals task.
    const tasks = NYUV2_TASKS.map((t) => (t.kind === 'segmentation' ? { ...t, channels: 7 } : t));
    await expect(train({ pipeline: 'ta-lora-multitask', options: { arch, data, labelDir: 'label_7', tasks, epochs: 1 }, out: join(dir, 'refused-2') })).rejects.toThrow("have no 'normal/' folder");
  });

  it('trains seg (7 classes) + depth one epoch and evaluates on val', async () => {
    const run = join(dir, 'run');
    const started = await train({ pipeline: 'ta-lora-multitask', options: { arch, data, labelDir: 'label_7', tasks: CITYSCAPES_TASKS, epochs: 1, batchSize: 2 }, out: run });
    const events = await lastValueFrom(started.events.pipe(toArray()));
    expect(events.at(-1)!.type).toBe('finished');
    const val = events.flatMap((e) => (e.type === 'metric' && e.split === 'val' ? [e.name] : []));
    expect(new Set(val)).toEqual(new Set(['loss', 'seg/miou', 'seg/pixel_accuracy', 'depth/abs_err', 'depth/rel_err']));
    const evaluation = await evaluate({ run, data });
    await lastValueFrom(evaluation.events.pipe(toArray()));
    const result = JSON.parse(readFileSync(join(evaluation.dir, 'metrics.json'), 'utf8')) as { split: string; images: number; metrics: Record<string, number> };
    expect(result.split).toBe('val');
    expect(result.images).toBe(2);
    expect(Object.keys(result.metrics).sort()).toEqual(['depth/abs_err', 'depth/rel_err', 'seg/miou', 'seg/pixel_accuracy']);
    for (const [name, value] of Object.entries(result.metrics)) expect(Number.isFinite(value), name).toBe(true);
    expect(result.metrics['seg/pixel_accuracy']).toBeGreaterThanOrEqual(0);
    expect(result.metrics['seg/pixel_accuracy']).toBeLessThanOrEqual(1);

    // The report: the per-task gallery of both val images (image, then truth and prediction per task).
    const report = readFileSync(join(run, 'report.html'), 'utf8');
    for (const id of ['val 1', 'val 2']) for (const head of ['image', 'seg truth', 'seg prediction', 'depth truth', 'depth prediction']) expect(report).toContain(`alt="${id}: ${head}"`);
    expect(report).not.toContain('normal truth');
    expect(report).not.toContain('Δm against the baseline');

    // Trained against it as a baseline: the Δm table, its values the baseline's and this run's, its Δm the logged delta_m.
    const second = join(dir, 'second');
    const secondEvents = await lastValueFrom((await train({ pipeline: 'ta-lora-multitask', options: { arch, data, labelDir: 'label_7', tasks: CITYSCAPES_TASKS, epochs: 1, batchSize: 2, lr: 1e-2, baseline: run }, out: second })).events.pipe(toArray()));
    const lastVal = (all: typeof events, name: string) => all.filter((e) => e.type === 'metric' && e.split === 'val' && e.name === name).map((e) => (e as { value: number }).value).at(-1)!;
    const html = readFileSync(join(second, 'report.html'), 'utf8');
    const section = html.slice(html.indexOf('<h2>Δm against the baseline</h2>'), html.indexOf('<h2>Speed</h2>'));
    expect(section).toContain(`Baseline ${run} (its last val metrics)`);
    const row = (metric: string) => section.match(new RegExp(`<td>${metric}</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>`))!.slice(1);
    const change = (metric: string, sign: number) => (sign * 100 * (lastVal(secondEvents, metric) - lastVal(events, metric))) / lastVal(events, metric);
    const [base, ours, miouChange] = row('seg/miou').map(Number);
    expect(base).toBeCloseTo(lastVal(events, 'seg/miou'), 4);
    expect(ours).toBeCloseTo(lastVal(secondEvents, 'seg/miou'), 4);
    expect(miouChange).toBeCloseTo(change('seg/miou', 1), 2);
    // Lower is better for depth errors: the sign flips.
    expect(Number(row('depth/abs_err')[2])).toBeCloseTo(change('depth/abs_err', -1), 2);
    const deltaM = lastVal(secondEvents, 'delta_m');
    expect(section).toContain(`<td><b>Δm</b></td><td></td><td></td><td></td><td><b>${deltaM >= 0 ? '+' : ''}${deltaM.toFixed(2)}</b></td>`);
  }, 60_000);
});
