/**
 * `samflow sweep SPEC.json`: every run the spec expands to (sweep-spec.ts), one after another in
 * this process, or with `redis` as jobs on the runs queue for `samflow worker` processes; then
 * the summary (sweep-summary.ts). Runs already ended in the folder are only read again, so a
 * sweep started again continues where it stopped.
 */
import { mkdirSync } from 'node:fs';
import { Job, Queue, QueueEvents } from 'bullmq';
import type { RunEvent } from '../graph/events.ts';
import { resolvePipeline } from '../api/pipeline.ts';
import { TrainControl } from '../nodes/train/model-selection.ts';
import { DEFAULT_PREFIX, JOB_OPTIONS, RUN_QUEUE, type QueueSettings, type RunJob } from './queues.ts';
import { probeRedis, RedisConnections } from './redis.ts';
import { fingerprint } from './shard-plan.ts';
import { expandSweep } from './sweep-spec.ts';
import { runSweepRun, type SweepRunResult } from './sweep-run.ts';
import { writeSummary, type Ranking } from './sweep-summary.ts';

export interface SweepRequest {
  readonly spec: string;
  /** Instead of the spec's "out". */
  readonly out?: string;
  /** Queue the runs here instead of running them in this process. */
  readonly queue?: QueueSettings & { readonly lostAfterMs?: number };
  readonly backend?: string;
  /** Lines for a person: each run starting and ending. */
  readonly log?: (line: string) => void;
  /** A local run's events, for a progress display. */
  readonly onRunEvent?: (run: RunJob, event: RunEvent) => void;
}

export interface SweepOutcome {
  readonly out: string;
  readonly results: readonly SweepRunResult[];
  readonly ranked: readonly SweepRunResult[];
  readonly table: string;
}

const describeResult = (r: SweepRunResult) =>
  r.status === 'failed' ? `failed: ${r.error}` : r.best ? `best ${r.monitor.split} ${r.monitor.name} ${r.best.value.toFixed(4)} at epoch ${r.best.epoch + 1}` : 'done';

async function ranking(request: { monitor?: string; mode?: 'max' | 'min' }, first: RunJob): Promise<Ranking> {
  const entry = await resolvePipeline(first.pipeline);
  const control = TrainControl.parse({ ...entry.control, ...first.control });
  return { metric: request.monitor ?? control.monitor, mode: request.mode ?? (request.monitor ? 'max' : control.mode) };
}

async function runLocally(runs: readonly RunJob[], request: SweepRequest, log: (line: string) => void): Promise<SweepRunResult[]> {
  const results: SweepRunResult[] = [];
  for (const [i, run] of runs.entries()) {
    log(`run ${i + 1}/${runs.length}: ${run.name}`);
    const result = await runSweepRun(run, {
      ...(request.backend !== undefined ? { backend: request.backend } : {}),
      ...(request.onRunEvent ? { onEvent: (event: RunEvent) => request.onRunEvent!(run, event) } : {}),
    });
    log(`run ${i + 1}/${runs.length}: ${run.name} ${describeResult(result)}`);
    results.push(result);
  }
  return results;
}

async function runOnQueue(runs: readonly RunJob[], settings: NonNullable<SweepRequest['queue']>, log: (line: string) => void): Promise<SweepRunResult[]> {
  await probeRedis(settings.redis);
  const connections = new RedisConnections(settings.redis);
  const prefix = settings.prefix ?? DEFAULT_PREFIX;
  const queue = new Queue(RUN_QUEUE, { connection: connections.open(), prefix, defaultJobOptions: JOB_OPTIONS });
  const events = new QueueEvents(RUN_QUEUE, { connection: connections.open(), prefix });
  // A lost connection is reported by watchLoss.
  queue.on('error', () => undefined);
  events.on('error', () => undefined);
  events.setMaxListeners(2 * runs.length + 16);
  let lost: ((error: Error) => void) | undefined;
  const lostConnection = new Promise<never>((_, reject) => (lost = reject));
  lostConnection.catch(() => undefined);
  connections.watchLoss(settings.lostAfterMs ?? 15_000, (error) => lost!(new Error(`${error.message}; the queued runs stay in Redis: run the same command again once it is back`)));
  try {
    await events.waitUntilReady();
    const ids = runs.map((run) => `run-${fingerprint({ dir: run.dir, pipeline: run.pipeline, options: run.options, control: run.control ?? null })}`);
    let before = 0;
    for (const [i, run] of runs.entries()) {
      const existing = await Job.fromId(queue, ids[i]!);
      if (!existing) await queue.add('run', run, { jobId: ids[i]! });
      else if ((await existing.getState()) === 'failed') await existing.retry('failed');
      else before++;
    }
    log(`${runs.length} runs on queue '${RUN_QUEUE}' at ${settings.redis}${before ? ` (${before} submitted before)` : ''}; samflow worker --redis ${settings.redis} runs them`);
    let finished = 0;
    const waited = runs.map(async (run, i): Promise<SweepRunResult> => {
      const job = await Job.fromId<RunJob, SweepRunResult>(queue, ids[i]!);
      if (!job) throw new Error(`job ${ids[i]} is gone from Redis; run the same command again to queue it anew`);
      const result = await job.waitUntilFinished(events).then(
        (r) => r as SweepRunResult,
        (error: unknown): SweepRunResult => ({ name: run.name, dir: run.dir, pipeline: run.pipeline, options: run.options, status: 'failed', error: error instanceof Error ? error.message : String(error), monitor: { name: '', split: '', mode: 'max' }, metrics: {} }),
      );
      log(`run ${++finished}/${runs.length} finished: ${run.name} ${describeResult(result)}`);
      return result;
    });
    return await Promise.race([Promise.all(waited), lostConnection]);
  } finally {
    await Promise.allSettled([events.close(), queue.close()]);
    connections.close();
  }
}

export async function sweep(request: SweepRequest): Promise<SweepOutcome> {
  const { spec, out, runs } = await expandSweep(request.spec, request.out);
  const log = request.log ?? (() => undefined);
  const rankBy = await ranking(spec, runs[0]!);
  if (request.queue) await probeRedis(request.queue.redis);
  mkdirSync(out, { recursive: true });
  log(`sweep ${request.spec}: ${runs.length} run${runs.length === 1 ? '' : 's'} into ${out}${request.queue ? '' : ', one after another in this process'}`);
  const results = request.queue ? await runOnQueue(runs, request.queue, log) : await runLocally(runs, request, log);
  const { table, ranked } = writeSummary(out, results, rankBy);
  return { out, results, ranked, table };
}
