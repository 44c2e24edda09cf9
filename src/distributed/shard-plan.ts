/**
 * How a prediction or evaluation is cut into shards: its source's item count, cut into ranges
 * of about `size` items rounded up to whole batches, so every shard's batches are the very
 * batches a single-process run makes (same images together: same numbers, bit for bit).
 */
import { createHash } from 'node:crypto';
import { compile } from '../graph/compile.ts';
import type { Graph } from '../graph/graph.ts';
import type { OperatorBehaviour, SourceBehaviour } from '../graph/node.ts';
import type { ItemRange } from './queues.ts';

/** Items one pass of the graph's source yields, as its reader counts them from the listing. */
export function sourceItems(graph: Graph): number {
  const [first] = compile(graph).stages;
  if (first?.type !== 'source') throw new Error(`graph '${graph.name}' has no source to cut into shards`);
  const totals = first.nodes.map((n) => (n.definition.main as SourceBehaviour<unknown, unknown>).total?.(n.json.params));
  if (totals.some((t) => t === undefined)) {
    const node = first.nodes[totals.findIndex((t) => t === undefined)]!;
    throw new Error(`source '${node.json.name}' (${node.json.kind}) cannot count its items up front (params ${JSON.stringify(node.json.params)}); check its folder, or run without --redis to see the reader's error`);
  }
  return Math.min(...(totals as number[]));
}

/** Source items one batch holds: the product of every batching node's size. */
export function batchItems(graph: Graph): number {
  let unit = 1;
  for (const stage of compile(graph).stages) {
    const main = stage.type === 'main' ? (stage.node.definition.main as OperatorBehaviour<unknown, unknown, unknown> | undefined) : undefined;
    if (main?.type === 'operator') unit *= main.itemsPerOutput?.(stage.type === 'main' ? stage.node.json.params : undefined) ?? 1;
  }
  return unit;
}

export function planShards(total: number, size: number, batch: number): ItemRange[] {
  if (!Number.isInteger(size) || size < 1) throw new Error(`--shard-size ${size}: expected a whole number of images, at least 1`);
  const step = Math.ceil(size / batch) * batch;
  const ranges: ItemRange[] = [];
  for (let start = 0; start < total; start += step) ranges.push({ start, end: Math.min(start + step, total) });
  return ranges;
}

/** A short stable id for what a submission computes, so a restarted submitter finds its jobs. */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}
