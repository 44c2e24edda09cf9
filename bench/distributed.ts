/**
 * bench:distributed: images/s of `predict` spread over 1, 2 and 4 `samflow worker` processes on
 * this machine against single-process predict, and BullMQ's overhead per job (queue, take,
 * complete, notify: a job that does nothing). Starts its own redis-server (Debian's) on a free
 * loopback port; a tiny trained run and synthetic images are made in a temporary folder.
 *
 * Environment: BENCH_IMAGES (default 48), BENCH_SHARD (images per job, default 8).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { lastValueFrom, toArray } from 'rxjs';
import { predict } from '../src/api/inference.ts';
import { train } from '../src/api/training.ts';
import { predictDistributed } from '../src/distributed/distributed-inference.ts';
import { writeKvasir, writePairs } from '../test/fixtures/datasets.ts';
import { TINY_SAM } from '../test/fixtures/sam-configs.ts';

const IMAGES = Number(process.env.BENCH_IMAGES ?? 48);
const SHARD = Number(process.env.BENCH_SHARD ?? 8);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startRedis(dir: string): Promise<{ url: string; child: ChildProcess }> {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('bench:distributed needs redis-server on PATH (apt-get install redis-server)');
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      client.disconnect();
      return { url, child };
    } catch {
      client.disconnect();
      if (i > 200) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function startWorker(url: string, prefix: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(import.meta.dirname, '../bin/samflow.js'), 'worker', '--redis', url, '--prefix', prefix, '--queues', 'shards'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (/samflow worker \d+: queues/.test(text)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${text}`)));
  });
}

const seconds = async (work: () => Promise<unknown>) => {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
};

async function queueOverhead(url: string, jobs: number): Promise<number> {
  const connections: Redis[] = [];
  const connection = () => (connections.push(new Redis(url, { maxRetriesPerRequest: null })), connections.at(-1)!);
  const queue = new Queue('bench-noop', { connection: connection() });
  const events = new QueueEvents('bench-noop', { connection: connection() });
  await events.waitUntilReady();
  const worker = new Worker('bench-noop', async () => ({}), { connection: connection() });
  await worker.waitUntilReady();
  const total = await seconds(async () => {
    for (let i = 0; i < jobs; i++) await (await queue.add('noop', { i })).waitUntilFinished(events);
  });
  await worker.close();
  await events.close();
  await queue.close();
  for (const c of connections) c.disconnect();
  return (total / jobs) * 1000;
}

const dir = mkdtempSync(join(tmpdir(), 'samflow-bench-distributed-'));
const redis = await startRedis(dir);
try {
  writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_SAM));
  await writeKvasir(join(dir, 'kvasir'), 6);
  const images = join(dir, 'images');
  await writePairs(dir, 'images', 'masks', Array.from({ length: IMAGES }, (_, i) => `img${i}`), { image: '.png', mask: '.png' }, { width: 96, height: 72 });
  const run = join(dir, 'run');
  await lastValueFrom((await train({ pipeline: 'conv-lora-binary', options: { arch: join(dir, 'tiny.json'), data: join(dir, 'kvasir'), epochs: 1 }, out: run })).events);

  const rows: [string, number][] = [];
  const local = await seconds(async () => lastValueFrom((await predict({ run, images, out: join(dir, 'out-local') })).events.pipe(toArray())));
  rows.push(['single process (predict)', local]);
  for (const count of [1, 2, 4]) {
    const prefix = `bench${count}`;
    const workers = await Promise.all(Array.from({ length: count }, () => startWorker(redis.url, prefix)));
    const took = await seconds(async () => {
      const events = await lastValueFrom((await predictDistributed({ run, images, out: join(dir, `out-${count}`) }, { redis: redis.url, prefix, shardSize: SHARD })).events.pipe(toArray()));
      const last = events.at(-1);
      if (last?.type !== 'finished') throw new Error(`distributed predict did not finish: ${JSON.stringify(last)}`);
    });
    rows.push([`${count} worker process${count === 1 ? '' : 'es'} (--redis, ${SHARD}/job)`, took]);
    for (const w of workers) w.kill('SIGTERM');
  }
  const overhead = await queueOverhead(redis.url, 200);

  process.stdout.write(`predict, ${IMAGES} images of 96x72, tiny SAM (${TINY_SAM.image_size}px input), ${process.env.SAMFLOW_BACKEND ?? 'auto'} backend, on this machine\n`);
  process.stdout.write(`${'how'.padEnd(40)}${'seconds'.padStart(9)}${'images/s'.padStart(10)}\n`);
  for (const [how, s] of rows) process.stdout.write(`${how.padEnd(40)}${s.toFixed(2).padStart(9)}${(IMAGES / s).toFixed(1).padStart(10)}\n`);
  process.stdout.write(`queue overhead per job (add -> taken -> completed -> notified, a job doing nothing): ${overhead.toFixed(2)} ms\n`);
  process.stdout.write('each shard job also starts a tensor worker and loads the model: that is in the figures above\n');
} finally {
  redis.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
