/**
 * `predict` and `evaluate` spread over `samflow worker` processes: the same checks and graphs as
 * the local ones (inference.ts), the items cut into shards (shard-plan.ts) queued on BullMQ
 * (submit-shards.ts), and the result written as a local run writes it: masks `out/<id>.png`,
 * or RUN/eval/<name>/ from the shards' merged metric states (mergeable.ts), equal to a
 * single-process evaluation's.
 */
import { readdirSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { planEvaluation, predictionGraph, recordEvaluation, refuseExisting, type EvaluateRequest, type InferenceRun, type PredictRequest } from '../api/inference.ts';
import { listImageFolder } from '../nodes/data/image-folder.ts';
import { mergeableNodes, mergeShardStates } from './mergeable.ts';
import type { QueueSettings, ShardJob, ShardResult } from './queues.ts';
import { probeRedis } from './redis.ts';
import { STAGING_PREFIX } from './shard-job.ts';
import { batchItems, fingerprint, planShards, sourceItems } from './shard-plan.ts';
import { submitShards, submittedBefore, type PlannedShard } from './submit-shards.ts';

export interface Distribution extends QueueSettings {
  /** Items per shard (rounded up to whole batches); default 64. */
  readonly shardSize?: number;
  readonly lostAfterMs?: number;
}

export const DEFAULT_SHARD_SIZE = 64;

/** The request's paths made absolute (workers resolve nothing against their own directory) and its checkpoint pinned. */
function fromRunFields(request: PredictRequest | EvaluateRequest, checkpoint: string) {
  return {
    run: resolve(request.run),
    checkpoint: basename(checkpoint),
    ...(request.baseCheckpoint ? { baseCheckpoint: resolve(request.baseCheckpoint) } : {}),
    ...(request.set ? { set: request.set } : {}),
  };
}

function shardsOf(kind: ShardJob['kind'], make: (range: ShardJob['range']) => ShardJob, total: number, size: number, batch: number, identity: unknown): PlannedShard[] {
  const ranges = planShards(total, size, batch);
  const id = fingerprint({ kind, identity, ranges });
  return ranges.map((range, i) => ({ id: `${kind}-${id}-${i}`, job: make(range) }));
}

export async function predictDistributed(request: PredictRequest, distribution: Distribution): Promise<InferenceRun> {
  // Shards stage and move <id>.png files; colour/<id>.png beside them is not staged yet.
  if (request.palette) throw new Error('--palette is not available with --redis yet (shards move only the class-id PNGs); predict with --palette on one machine, or leave it out');
  await probeRedis(distribution.redis);
  const out = resolve(request.out);
  const { graph, checkpoint } = await predictionGraph(request);
  const files = listImageFolder(request.images).files;
  const job = { ...fromRunFields(request, checkpoint), images: resolve(request.images), out, probs: request.probs ?? false };
  const shards = shardsOf('predict', (range) => ({ kind: 'predict', request: job, range }), sourceItems(graph), distribution.shardSize ?? DEFAULT_SHARD_SIZE, batchItems(graph), {
    job,
    files: files.map((f) => basename(f)),
  });
  // Masks from this very submission are its own (a submitter started again); any others are never overwritten.
  if (!(await submittedBefore(distribution, shards))) refuseExisting(request.images, out);
  const events = submitShards({
    settings: distribution,
    shards,
    split: 'predict',
    ...(distribution.lostAfterMs !== undefined ? { lostAfterMs: distribution.lostAfterMs } : {}),
    finish: async (results) => {
      // Staging folders of attempts whose worker was killed.
      for (const entry of readdirSync(out)) if (entry.startsWith(STAGING_PREFIX)) rmSync(join(out, entry), { recursive: true, force: true });
      const written = results.reduce((n, r) => n + (r.kind === 'predict' ? r.written : 0), 0);
      return [{ type: 'log', node: 'write', message: `wrote ${written} mask PNG${written === 1 ? '' : 's'} to ${out}`, data: { dir: out, count: written, probs: job.probs } }];
    },
  });
  return { dir: out, checkpoint, events };
}

export async function evaluateDistributed(request: EvaluateRequest, distribution: Distribution): Promise<InferenceRun> {
  await probeRedis(distribution.redis);
  const plan = await planEvaluation(request);
  if (!mergeableNodes(plan.graph).length) throw new Error(`the evaluation graph '${plan.graph.name}' has no metric node whose shards can be merged (a 'merge' hook, see src/distributed/mergeable.ts); run it without --redis`);
  const job = {
    ...fromRunFields(request, plan.checkpoint),
    data: resolve(request.data),
    ...(plan.split ? { split: plan.split } : {}),
    ...(request.metrics ? { metrics: request.metrics } : {}),
  };
  const total = sourceItems(plan.graph);
  const shards = shardsOf('eval', (range) => ({ kind: 'eval', request: job, range }), total, distribution.shardSize ?? DEFAULT_SHARD_SIZE, batchItems(plan.graph), { job, total });
  const events = submitShards({
    settings: distribution,
    shards,
    split: plan.split ?? 'eval',
    ...(distribution.lostAfterMs !== undefined ? { lostAfterMs: distribution.lostAfterMs } : {}),
    finish: (results) => mergeShardStates(plan.graph, results.map((r: ShardResult) => (r.kind === 'eval' ? r.states : {}))),
  });
  return { dir: plan.dir, checkpoint: plan.checkpoint, events: recordEvaluation(plan, events) };
}
