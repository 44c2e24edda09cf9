/**
 * A graph restricted to one shard: items [start, end) of its source, with what a merge needs
 * captured at the end. Nothing in the graph changes but two behaviours, swapped in through a
 * registry of its own (the worker thread rebuilds its segments from the default registry, and
 * neither swapped node runs there):
 *
 * - each source starts at `start` (readers skip without decoding) and stops at `end`, counting
 *   the files a `skipCorrupt` reader leaves out (each announced by a "skipped ..." warning) as
 *   positions, so shards tile the items whatever is skipped. No item closes its group: the
 *   group of a shard is only part of the data set's.
 * - each mergeable metric node (mergeable.ts) sees the items' global indices and, at the end,
 *   hands its saved state over instead of emitting shard-level means.
 */
import { Graph } from '../graph/graph.ts';
import type { NodeEvent } from '../graph/events.ts';
import type { AnyNodeDefinition, Emission, MapBehaviour, SourceBehaviour } from '../graph/node.ts';
import { isSource } from '../graph/node.ts';
import { NodeRegistry } from '../graph/registry.ts';
import { mergeHook } from './mergeable.ts';
import type { ItemRange } from './queues.ts';

export interface ShardedGraph {
  readonly graph: Graph;
  /** Saved state of each mergeable node, by node name, filled when the run has finished. */
  readonly states: Map<string, unknown>;
}

function shardSource(definition: AnyNodeDefinition, range: ItemRange): AnyNodeDefinition {
  const inner = definition.main as SourceBehaviour<unknown, Record<string, unknown>>;
  const behaviour: SourceBehaviour<unknown, Record<string, unknown>> = {
    type: 'source',
    total: () => range.end - range.start,
    async *create(params, ctx): AsyncGenerator<Emission<Record<string, unknown>>> {
      if (!inner.resumable) throw new Error(`source kind '${definition.kind}' cannot start at an item, so its items cannot be split into shards; run this without --redis`);
      let position = range.start;
      const emit = (event: NodeEvent) => {
        if (event.type === 'warning' && event.message.startsWith('skipped ')) position++;
        ctx.emit(event);
      };
      const made = inner.create(params, { ...ctx, skip: range.start, emit });
      for await (const emission of made as AsyncIterable<Emission<Record<string, unknown>>>) {
        if (position >= range.end) break;
        position++;
        yield { values: emission.values, meta: { ...emission.meta, groupEnd: false } };
        if (position >= range.end) break;
      }
    },
  };
  return { ...definition, main: behaviour } as AnyNodeDefinition;
}

function capturingMetric(definition: AnyNodeDefinition, offset: number, states: Map<string, unknown>): AnyNodeDefinition {
  const inner = definition.main as MapBehaviour<unknown, Record<string, unknown>, Record<string, unknown>>;
  const behaviour: MapBehaviour<unknown, Record<string, unknown>, Record<string, unknown>> = {
    ...inner,
    create(params, ctx) {
      let closed: string | undefined;
      // Shard-level results are not the data set's: the merged state makes those.
      const emit = (event: NodeEvent) => {
        if (event.type === 'metric') closed ??= `${event.split ?? ''} epoch ${event.epoch ?? 0}`;
        else if (event.type !== 'log') ctx.emit(event);
      };
      const impl = inner.create(params, { ...ctx, emit });
      if (!impl.state) throw new Error(`node '${ctx.node}' (${definition.kind}) declares merge but keeps no state`);
      const state = impl.state;
      return {
        process: (inputs, meta) => impl.process(inputs, { ...meta, index: meta.index + offset }),
        async finish() {
          if (closed) throw new Error(`node '${ctx.node}' (${definition.kind}) closed a group (${closed}) inside a shard; a distributed evaluation reads one split of one pass`);
          states.set(ctx.node, await state.save());
        },
      };
    },
  };
  return { ...definition, main: behaviour } as AnyNodeDefinition;
}

export function shardGraph(graph: Graph, range: ItemRange): ShardedGraph {
  const states = new Map<string, unknown>();
  const registry = new NodeRegistry();
  for (const definition of graph.registry.list()) {
    if (isSource(definition)) registry.register(shardSource(definition, range));
    else if (mergeHook(definition)) registry.register(capturingMetric(definition, range.start, states));
    else registry.register(definition);
  }
  return { graph: Graph.fromJson(graph.toJson(), registry, `${graph.name} items ${range.start}-${range.end - 1}`), states };
}
