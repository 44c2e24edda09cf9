/**
 * `samflow worker`: a long-running process taking jobs from samflow's BullMQ queues and running
 * them with the same code as a local run (each job's graph gets its tensor worker thread, as
 * `predict`, `eval` and `train` do). Redis is probed first, so a bad URL fails at once; once
 * running, an outage is waited out (ioredis reconnects) and reported.
 *
 * A killed worker's jobs are not lost: its lock on them lapses after `lockDurationMs` and another
 * worker's stalled-job check (every `stalledIntervalMs`) puts them back in the queue.
 */
import { Worker, type Job } from 'bullmq';
import { QUEUE_NAMES, DEFAULT_PREFIX, type QueueKind, type QueueSettings, type RunJob, type ShardJob, type ShardResult } from './queues.ts';
import { probeRedis, RedisConnections } from './redis.ts';
import { runShard } from './shard-job.ts';
import { runSweepRun, type SweepRunResult } from './sweep-run.ts';

export interface WorkerOptions extends QueueSettings {
  /** Jobs run at once by this process (default 1). */
  readonly concurrency?: number;
  /** Which queues to take jobs from (default all). */
  readonly queues?: readonly QueueKind[];
  /** How long a job's lock lasts without renewal: a killed worker's job is retried after this (BullMQ default 30 s). */
  readonly lockDurationMs?: number;
  /** How often this worker looks for jobs whose worker died (BullMQ default 30 s). */
  readonly stalledIntervalMs?: number;
  readonly backend?: string;
  readonly log?: (line: string) => void;
}

export interface RunningWorker {
  close(): Promise<void>;
}

export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  await probeRedis(options.redis);
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const connections = new RedisConnections(options.redis);
  const kinds = options.queues ?? (Object.keys(QUEUE_NAMES) as QueueKind[]);
  const backend = options.backend !== undefined ? { backend: options.backend } : {};
  const processors: Record<QueueKind, (job: Job) => Promise<unknown>> = {
    shards: (job: Job<ShardJob, ShardResult>) =>
      runShard(job.data, { id: job.id ?? job.name, attempt: job.attemptsStarted, updateProgress: (p) => job.updateProgress(p), ...backend }),
    runs: (job: Job<RunJob, SweepRunResult>) => runSweepRun(job.data, { updateProgress: (p) => job.updateProgress(p), ...backend }),
  };
  let lastError = '';
  const workers = kinds.map((kind) => {
    const worker = new Worker(QUEUE_NAMES[kind], processors[kind], {
      connection: connections.open(),
      prefix: options.prefix ?? DEFAULT_PREFIX,
      concurrency: options.concurrency ?? 1,
      // A job whose worker died twice is failed rather than handed out for ever.
      maxStalledCount: 2,
      ...(options.lockDurationMs !== undefined ? { lockDuration: options.lockDurationMs } : {}),
      ...(options.stalledIntervalMs !== undefined ? { stalledInterval: options.stalledIntervalMs } : {}),
    });
    worker.on('active', (job) => log(`started ${job.id} (${describe(job)})`));
    worker.on('completed', (job) => log(`done ${job.id}`));
    worker.on('failed', (job, error) => log(`failed ${job?.id ?? '?'}: ${error.message}`));
    worker.on('error', (error) => {
      // ioredis repeats the same error at every reconnection attempt: say it once.
      if (error.message !== lastError) log(`redis: ${error.message} (retrying)`);
      lastError = error.message;
    });
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  log(`samflow worker ${process.pid}: queues ${kinds.map((k) => QUEUE_NAMES[k]).join(', ')} on ${options.redis}, ${options.concurrency ?? 1} job${(options.concurrency ?? 1) === 1 ? '' : 's'} at a time`);
  return {
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      connections.close();
    },
  };
}

function describe(job: Job): string {
  const data = job.data as Partial<ShardJob & RunJob>;
  if (data.range) return `${job.name} items ${data.range.start}-${data.range.end - 1}`;
  return `run ${data.name ?? job.name}`;
}
