/**
 * The submitter's side of a distributed prediction or evaluation: queue one job per shard, show
 * their summed progress as one run's, and end once every shard has finished.
 *
 * Job ids are derived from what the submission computes (shard-plan.ts fingerprint), so a
 * submitter interrupted and started again re-adds the same ids: BullMQ keeps the existing jobs,
 * the done ones are collected, not redone, and only failed ones are retried. A shard that fails
 * for good is reported with its error and does not stop the others.
 */
import { Job, Queue, QueueEvents } from 'bullmq';
import { Observable } from 'rxjs';
import type { RunEvent } from '../graph/events.ts';
import { DEFAULT_PREFIX, JOB_OPTIONS, SHARD_QUEUE, type QueueSettings, type ShardJob, type ShardResult } from './queues.ts';
import { RedisConnections } from './redis.ts';

export interface PlannedShard {
  readonly id: string;
  readonly job: ShardJob;
}

export interface ShardSubmission {
  readonly settings: QueueSettings;
  readonly shards: readonly PlannedShard[];
  /** The split the progress bar names ('predict', or the evaluated split). */
  readonly split: string;
  /** Events that close the run once every shard is done (the merged metrics), from the results in item order. */
  finish(results: readonly ShardResult[]): Promise<RunEvent[]>;
  /** Stop waiting when Redis has been unreachable this long (default 15 s). */
  readonly lostAfterMs?: number;
}

const itemsOf = (shard: PlannedShard) => shard.job.range.end - shard.job.range.start;
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Whether any job of this submission is in Redis already (a submitter started again). */
export async function submittedBefore(settings: QueueSettings, shards: readonly PlannedShard[]): Promise<boolean> {
  const connections = new RedisConnections(settings.redis);
  const queue = new Queue(SHARD_QUEUE, { connection: connections.open(), prefix: settings.prefix ?? DEFAULT_PREFIX });
  try {
    for (const shard of shards) if (await queue.getJob(shard.id)) return true;
    return false;
  } finally {
    await queue.close();
    connections.close();
  }
}

export function submitShards(submission: ShardSubmission): Observable<RunEvent> {
  const { settings, shards, split } = submission;
  return new Observable<RunEvent>((subscriber) => {
    const started = performance.now();
    const connections = new RedisConnections(settings.redis);
    const prefix = settings.prefix ?? DEFAULT_PREFIX;
    const queue = new Queue(SHARD_QUEUE, { connection: connections.open(), prefix, defaultJobOptions: JOB_OPTIONS });
    const queueEvents = new QueueEvents(SHARD_QUEUE, { connection: connections.open(), prefix });
    queueEvents.on('error', () => undefined); // a lost connection is reported by watchLoss
    queue.on('error', () => undefined);
    queueEvents.setMaxListeners(2 * shards.length + 16);
    const total = shards.reduce((n, s) => n + itemsOf(s), 0);
    const done = new Map<string, number>();
    const finished = new Set<string>();
    let ended = false;
    const progress = () => {
      if (ended) return;
      let items = 0;
      for (const n of done.values()) items += n;
      subscriber.next({ type: 'progress', items, total, split, epoch: 0 });
    };
    const end = (events: RunEvent[]) => {
      if (ended) return;
      ended = true;
      for (const event of events) subscriber.next(event);
      subscriber.complete();
    };
    connections.watchLoss(submission.lostAfterMs ?? 15_000, (error) =>
      end([{ type: 'failed', error: `${error.message}; the queued shards stay in Redis: run the same command again once it is back, and the done ones are not redone` }]),
    );
    queueEvents.on('progress', ({ jobId, data }) => {
      if (finished.has(jobId) || typeof data !== 'object' || data === null || !('items' in data)) return;
      if (!shards.some((s) => s.id === jobId)) return;
      done.set(jobId, Number((data as { items: unknown }).items) || 0);
      progress();
    });

    const work = async () => {
      await queueEvents.waitUntilReady();
      const before = new Map<string, string>();
      for (const shard of shards) {
        const job = await Job.fromId<ShardJob, ShardResult>(queue, shard.id);
        if (job) before.set(shard.id, await job.getState());
      }
      const fresh = shards.filter((s) => !before.has(s.id));
      if (fresh.length) await queue.addBulk(fresh.map((s) => ({ name: s.job.kind, data: s.job, opts: { jobId: s.id } })));
      const retried = [...before].filter(([, state]) => state === 'failed').map(([id]) => id);
      for (const id of retried) await (await Job.fromId(queue, id))?.retry('failed');
      const completed = [...before.values()].filter((s) => s === 'completed').length;
      subscriber.next({
        type: 'log',
        message: `${shards.length} shard${shards.length === 1 ? '' : 's'} of ${total} items on queue '${SHARD_QUEUE}' at ${settings.redis}${before.size ? ` (submitted before: ${completed} done, ${retried.length} failed and retried, ${before.size - completed - retried.length} queued or running)` : ''}; samflow worker --redis ${settings.redis} runs them`,
        data: { shards: shards.length, items: total, done: completed, retried: retried.length },
      });
      progress();
      const outcomes = await Promise.allSettled(
        shards.map(async (shard) => {
          const job = await Job.fromId<ShardJob, ShardResult>(queue, shard.id);
          if (!job) throw new Error(`job ${shard.id} is gone from Redis (removed by hand?); run the same command again to queue it anew`);
          const result = (await job.waitUntilFinished(queueEvents)) as ShardResult;
          finished.add(shard.id);
          done.set(shard.id, itemsOf(shard));
          progress();
          return result;
        }),
      );
      const failures = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{ shard: shards[i]!, error: messageOf(o.reason) }] : []));
      if (failures.length) {
        const warnings: RunEvent[] = failures.map((f) => ({ type: 'warning', message: `job ${f.shard.id} failed: ${f.error}` }));
        const first = failures[0]!;
        end([
          ...warnings,
          {
            type: 'failed',
            error: `${failures.length} of ${shards.length} shards failed (first: ${first.error}); the other shards are done and kept: fix the input and run the same command again to redo only the failed ones`,
          },
        ]);
        return;
      }
      const results = outcomes.map((o) => (o as PromiseFulfilledResult<ShardResult>).value);
      const closing = await submission.finish(results);
      const items = results.reduce((n, r) => n + r.items, 0);
      end([...closing, { type: 'finished', items, seconds: (performance.now() - started) / 1000 }]);
    };
    work().catch((error: unknown) => end([{ type: 'failed', error: messageOf(error) }]));
    return () => {
      ended = true;
      void Promise.allSettled([queueEvents.close(), queue.close()]).then(() => connections.close());
    };
  });
}
