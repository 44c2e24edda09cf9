/** A sweep of three tiny runs on two `samflow worker` processes, and the same spec run locally. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { captureCli, samflow } from '../cli/capture.ts';
import { tempDir } from '../fixtures/datasets.ts';
import { describeWithRedis, startRedis, type RedisServer } from './redis-server.ts';
import { startWorkerProcess, type WorkerProcess } from './worker-processes.ts';

const spec = (out: string, seeds: number[]) => ({
  out,
  pipelines: [{ pipeline: 'toy-segmentation', options: { epochs: 1, size: 16, train: 8, val: 4, batchSize: 4 }, grid: { seed: seeds }, control: { monitor: 'iou', mode: 'max' } }],
});

describeWithRedis('samflow sweep', () => {
  const dir = tempDir('samflow-sweep-');
  let redis: RedisServer;
  const workers: WorkerProcess[] = [];
  const output = captureCli();

  beforeAll(async () => {
    redis = await startRedis();
    workers.push(...(await Promise.all([0, 1].map(() => startWorkerProcess(redis.url, 'sweep', ['--queues', 'runs'])))));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
    await redis?.stop();
  });

  it('runs every combination on the workers and ranks the three results best first', async () => {
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec('queued', [0, 1, 2])));
    expect(await samflow('sweep', join(dir, 'spec.json'), '--redis', redis.url, '--prefix', 'sweep')).toBe(0);
    const summary = JSON.parse(readFileSync(join(dir, 'queued', 'summary.json'), 'utf8')) as { runs: { name: string; status: string; best: { value: number } }[] };
    expect(summary.runs.map((r) => r.name).sort()).toEqual(['toy-segmentation_seed-0', 'toy-segmentation_seed-1', 'toy-segmentation_seed-2']);
    expect(summary.runs.every((r) => r.status === 'done')).toBe(true);
    const values = summary.runs.map((r) => r.best.value);
    expect(values).toEqual([...values].sort((a, b) => b - a));
    for (const run of summary.runs) expect(existsSync(join(dir, 'queued', run.name, 'report.html'))).toBe(true);
    expect(readFileSync(join(dir, 'queued', 'summary.html'), 'utf8')).toContain('<a href="toy-segmentation_seed-0/report.html">');
    expect(output.out).toMatch(/ranked by iou \(higher is better\), best first/);
    expect(output.out).toMatch(/\n1 +toy-segmentation_seed-\d +done +1 +\d\.\d{4}/);
    // Started again, the sweep reads the ended runs instead of training them again.
    expect(await samflow('sweep', join(dir, 'spec.json'), '--redis', redis.url, '--prefix', 'sweep')).toBe(0);
    expect(output.out).toContain('(3 submitted before)');
  });

  it('runs the same spec in this process without --redis, and reads a run already done instead of training it again', async () => {
    writeFileSync(join(dir, 'local.json'), JSON.stringify(spec('local', [0, 1])));
    expect(await samflow('sweep', join(dir, 'local.json'))).toBe(0);
    expect(output.out).toContain('one after another in this process');
    const first = readFileSync(join(dir, 'local', 'toy-segmentation_seed-0', 'events.jsonl'), 'utf8');
    expect(await samflow('sweep', join(dir, 'local.json'))).toBe(0);
    expect(readFileSync(join(dir, 'local', 'toy-segmentation_seed-0', 'events.jsonl'), 'utf8')).toBe(first);
    // Seeds give the same numbers here as on the workers.
    const queued = JSON.parse(readFileSync(join(dir, 'queued', 'summary.json'), 'utf8')) as { runs: { name: string; best: { value: number } }[] };
    const local = JSON.parse(readFileSync(join(dir, 'local', 'summary.json'), 'utf8')) as { runs: { name: string; best: { value: number } }[] };
    for (const run of local.runs) expect(run.best.value).toBe(queued.runs.find((r) => r.name === run.name)!.best.value);
  });

  it('names the spec file and the problem in a bad spec', async () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ out: 'x', pipelines: [{ pipeline: 'toy-segmentation', grid: { sede: [1] } }] }));
    expect(await samflow('sweep', join(dir, 'bad.json'))).toBe(1);
    expect(output.err).toContain(`${join(dir, 'bad.json')}: run 'toy-segmentation_sede-1': pipeline 'toy-segmentation': bad option`);
    writeFileSync(join(dir, 'empty.json'), JSON.stringify({ out: 'x', pipelines: [] }));
    expect(await samflow('sweep', join(dir, 'empty.json'))).toBe(1);
    expect(output.err).toContain(`${join(dir, 'empty.json')}: not a sweep spec: 'pipelines'`);
  });
});
