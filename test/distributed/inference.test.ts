/**
 * Distributed predict and eval against a real redis-server with `samflow worker` processes:
 * the results equal a single-process run's exactly, a worker killed with kill -9 mid-shard loses
 * and duplicates nothing, a corrupt image fails its shard once (named) without blocking the
 * others, and a submitter interrupted and started again does not redo finished shards.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { firstValueFrom, filter, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { evaluate, predict } from '../../src/api/inference.ts';
import { train } from '../../src/api/training.ts';
import { evaluateDistributed, predictDistributed } from '../../src/distributed/distributed-inference.ts';
import { SHARD_QUEUE } from '../../src/distributed/queues.ts';
import { STAGING_PREFIX } from '../../src/distributed/shard-job.ts';
import { captureCli, samflow } from '../cli/capture.ts';
import { tempDir, writeKvasir, writePairs } from '../fixtures/datasets.ts';
import { TINY_SAM } from '../fixtures/sam-configs.ts';
import { describeWithRedis, startRedis, type RedisServer } from './redis-server.ts';
import { startWorkerProcess, type WorkerProcess } from './worker-processes.ts';

const names = (n: number) => Array.from({ length: n }, (_, i) => `${100 + i}`);
const files = (dir: string) => readdirSync(dir).sort();
const bytes = (dir: string) => Object.fromEntries(files(dir).map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));

describeWithRedis('distributed predict and eval on BullMQ', () => {
  const dir = tempDir('samflow-distributed-');
  const run = join(dir, 'run');
  const cvc = join(dir, 'cvc');
  let redis: RedisServer;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_SAM));
    await writeKvasir(join(dir, 'kvasir'), 6);
    // Sizes other than the model's, so each image is scored and written at its own size; a test
    // split, since items of a split named 'train' run with the model's training-time noise on.
    await writePairs(cvc, 'TestDataset/CVC/images', 'TestDataset/CVC/masks', names(10), { image: '.png', mask: '.png' }, { width: 30, height: 22 });
    const [trained] = await Promise.all([
      train({ pipeline: 'conv-lora-binary', options: { arch: join(dir, 'tiny.json'), data: join(dir, 'kvasir'), epochs: 1, lr: 1e-2 }, out: run }),
      ...[0, 1].map(async () => workers.push(await startWorkerProcess(redis.url, 'main'))),
    ]);
    expect((await lastValueFrom(trained!.events.pipe(toArray()))).at(-1)).toMatchObject({ type: 'finished' });
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
    await redis?.stop();
  });

  it('evaluates across workers with the metrics and per-image rows of a single-process evaluation, bit for bit', async () => {
    const local = await evaluate({ run, data: cvc, name: 'local' });
    await lastValueFrom(local.events.pipe(toArray()));
    // Shards of 3 are rounded up to the batch (4): shards of 4, 4 and 2 images.
    const distributed = await evaluateDistributed({ run, data: cvc, name: 'distributed' }, { redis: url(), prefix: 'main', shardSize: 3 });
    const events = await lastValueFrom(distributed.events.pipe(toArray()));
    expect(events.at(-1)).toMatchObject({ type: 'log', message: expect.stringMatching(/^wrote .*distributed: metrics.json, per-image.csv \(10 images\)$/) });
    expect(events.find((e) => e.type === 'log' && e.message.includes('shards'))).toMatchObject({ data: { shards: 3, items: 10 } });
    const read = (name: string) => JSON.parse(readFileSync(join(run, 'eval', name, 'metrics.json'), 'utf8')) as { metrics: Record<string, number>; images: number };
    expect(read('distributed').metrics).toEqual(read('local').metrics);
    expect(read('distributed').images).toBe(10);
    expect(readFileSync(join(run, 'eval', 'distributed', 'per-image.csv'), 'utf8')).toBe(readFileSync(join(run, 'eval', 'local', 'per-image.csv'), 'utf8'));
  });

  it('predicts the masks a local run writes; a worker killed with kill -9 mid-shard is replaced and nothing is lost or duplicated', async () => {
    const images = join(cvc, 'TestDataset/CVC/images');
    const local = join(dir, 'masks-local');
    await lastValueFrom((await predict({ run, images, out: local })).events.pipe(toArray()));

    // Only the victim serves this prefix, so it takes the first shard; it is killed once it has written a mask.
    const out = join(dir, 'masks-killed');
    const victim = await startWorkerProcess(redis.url, 'kill');
    const submitted = await predictDistributed({ run, images, out }, { redis: url(), prefix: 'kill', shardSize: 8 });
    const done = lastValueFrom(submitted.events.pipe(toArray()));
    await victim.waitFor(/started predict-\S+-0/);
    const deadline = Date.now() + 30_000;
    const stagedMask = () => existsSync(out) && readdirSync(out).some((d) => d.startsWith(STAGING_PREFIX) && readdirSync(join(out, d)).some((f) => f.endsWith('.png')));
    while (!stagedMask() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await victim.kill('SIGKILL');
    const rescuer = await startWorkerProcess(redis.url, 'kill');
    workers.push(rescuer);
    const events = await done;
    expect(events.at(-1)).toMatchObject({ type: 'finished', items: 10 });
    await rescuer.waitFor(/done predict-\S+-0/, 10_000);
    expect(files(out)).toEqual(files(local));
    expect(bytes(out)).toEqual(bytes(local));
    const queue = shardQueue('kill');
    const first = (await queue.getJobs(['completed'])).find((j) => j.id!.endsWith('-0'))!;
    expect(first.attemptsStarted).toBeGreaterThanOrEqual(2); // taken again after the stalled-job check
    await queue.close();
  });

  it('fails a shard with a corrupt image once, naming the file, and still writes every other shard', async () => {
    const images = join(dir, 'with-corrupt');
    await writePairs(join(dir, 'corrupt-set'), 'images', 'masks', names(8), { image: '.png', mask: '.png' }, { width: 30, height: 22 });
    const { cpSync } = await import('node:fs');
    cpSync(join(dir, 'corrupt-set', 'images'), images, { recursive: true });
    writeFileSync(join(images, '101.png'), Buffer.from('not a png at all'));
    const out = join(dir, 'masks-corrupt');
    const submitted = await predictDistributed({ run, images, out }, { redis: url(), prefix: 'main', shardSize: 4 });
    const events = await lastValueFrom(submitted.events.pipe(toArray()));
    const failed = events.at(-1);
    expect(failed).toMatchObject({ type: 'failed', error: expect.stringContaining('1 of 2 shards failed') });
    expect(failed).toMatchObject({ error: expect.stringContaining(join(images, '101.png')) });
    expect(files(out)).toEqual(['104.png', '105.png', '106.png', '107.png']);
    const queue = shardQueue('main');
    const [job] = await queue.getJobs(['failed']);
    expect(job!.attemptsMade).toBe(1); // an input error is not retried
    await queue.close();
  });

  it('resumes an interrupted submission without redoing its finished shards', async () => {
    const request = { run, data: cvc, name: 'resumed' };
    const first = await evaluateDistributed(request, { redis: url(), prefix: 'main', shardSize: 4 });
    // Interrupted once a shard has finished (the submitter unsubscribes, as a killed one stops listening).
    await firstValueFrom(first.events.pipe(filter((e) => e.type === 'progress' && e.items >= 4 && e.items % 4 === 0)));
    const queue = shardQueue('main');
    const finishedBefore = new Map((await queue.getJobs(['completed'])).filter((j) => j.name === 'eval').map((j) => [j.id!, j.finishedOn]));
    expect(finishedBefore.size).toBeGreaterThan(0);
    const again = await evaluateDistributed(request, { redis: url(), prefix: 'main', shardSize: 4 });
    const events = await lastValueFrom(again.events.pipe(toArray()));
    expect(events.find((e) => e.type === 'log' && e.message.includes('submitted before'))).toBeDefined();
    for (const [id, finishedOn] of finishedBefore) {
      const job = (await queue.getJob(id))!;
      expect([job.finishedOn, job.attemptsStarted]).toEqual([finishedOn, 1]);
    }
    expect(JSON.parse(readFileSync(join(run, 'eval', 'resumed', 'metrics.json'), 'utf8')).metrics).toEqual(JSON.parse(readFileSync(join(run, 'eval', 'local', 'metrics.json'), 'utf8')).metrics);
    await queue.close();
  });

  describe_cli();

  /** The shard queue as the submitter sees it, closed with its connection. */
  function shardQueue(prefix: string) {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(SHARD_QUEUE, { connection, prefix });
    return { getJobs: queue.getJobs.bind(queue), getJob: queue.getJob.bind(queue), close: async () => (await queue.close(), connection.disconnect()) };
  }

  function url() {
    return redis.url;
  }

  function describe_cli() {
    const output = captureCli();
    it('runs from the command line with --redis', async () => {
      const out = join(dir, 'masks-cli');
      expect(await samflow('predict', run, '--images', join(cvc, 'TestDataset/CVC/images'), '--out', out, '--redis', redis.url, '--prefix', 'main', '--shard-size', '5')).toBe(0);
      expect(output.out).toContain(`wrote 10 mask PNGs to ${out}`);
      expect(files(out)).toEqual(names(10).map((n) => `${n}.png`));
      expect(await samflow('predict', run, '--images', join(cvc, 'TestDataset/CVC/images'), '--out', join(dir, 'x'), '--shard-size', '5')).toBe(1);
      expect(output.err).toContain('--shard-size sizes the jobs of a distributed run; give --redis URL too');
    });
  }
});
