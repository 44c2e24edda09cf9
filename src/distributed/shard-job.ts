/**
 * A worker's side of a distributed prediction or evaluation: one shard's items through the same
 * graph a local run builds from the run folder (inference.ts), cut to the shard (shard-graph.ts).
 *
 * - predict: the masks are written into a staging folder of this attempt inside `out`, then each
 *   is renamed to `out/<id>.png`. A rename is atomic, so a retried shard (its worker killed) puts
 *   whole files over whole files of the same image: never a half-written or a second copy.
 * - eval: returns each mergeable metric node's state; the submitter merges them.
 */
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { evaluationGraph, predictionGraph } from '../api/inference.ts';
import { runGraph } from '../api/run-graph.ts';
import type { Graph } from '../graph/graph.ts';
import { isSource } from '../graph/node.ts';
import { runToEnd, type JobProgress } from './run-to-end.ts';
import type { ShardJob, ShardResult } from './queues.ts';
import { shardGraph } from './shard-graph.ts';

/** Staging folders start with this, so a submitter can clear what killed attempts left. */
export const STAGING_PREFIX = '.samflow-staging-';

export interface ShardContext extends JobProgress {
  /** The job's id and attempt, naming this attempt's staging folder. */
  readonly id: string;
  readonly attempt: number;
  readonly backend?: string;
}

const inputNodes = (graph: Graph) => (node: string) => {
  const json = graph.nodes.find((n) => n.name === node);
  return json !== undefined && isSource(graph.registry.get(json.kind));
};

export async function runShard(job: ShardJob, ctx: ShardContext): Promise<ShardResult> {
  const { range } = job;
  const describe = `shard of items ${range.start}-${range.end - 1}`;
  const backend = ctx.backend !== undefined ? { backend: ctx.backend } : {};
  if (job.kind === 'predict') {
    const staging = join(job.request.out, `${STAGING_PREFIX}${ctx.id.replace(/[^\w.-]/g, '_')}-${ctx.attempt}-${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    try {
      const { graph } = await predictionGraph({ ...job.request, out: staging });
      const sharded = shardGraph(graph, range);
      const events = await runToEnd(runGraph(sharded.graph, backend), ctx, { describe, isInputNode: inputNodes(graph) });
      const masks = readdirSync(staging).filter((f) => f.endsWith('.png') && !f.startsWith('.'));
      for (const file of masks) renameSync(join(staging, file), join(job.request.out, file));
      return { kind: 'predict', items: itemsOf(events), written: masks.length };
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  const { graph } = await evaluationGraph(job.request);
  const sharded = shardGraph(graph, range);
  const events = await runToEnd(runGraph(sharded.graph, backend), ctx, { describe, isInputNode: inputNodes(graph) });
  return { kind: 'eval', items: itemsOf(events), states: Object.fromEntries(sharded.states) };
}

function itemsOf(events: readonly { type: string; items?: number }[]): number {
  return events.find((e) => e.type === 'finished')?.items ?? 0;
}
