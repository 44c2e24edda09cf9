/**
 * How a metric node's result is assembled from shards. A main-thread metric node that keeps its
 * group's accumulation as `state` (save/restore, as a resumed run needs anyway) declares next to
 * `create` in its `main` behaviour:
 *
 * ```ts
 * main: { type: 'map', create, merge: (saved: readonly unknown[]) => combined },
 * ```
 *
 * `merge` combines the states saved at the end of each shard, in item order, into the one state
 * the node would hold had it seen every item (per-image scores appended; confusion matrices
 * summed). The submitter restores that into a fresh instance and lets it finish, so the events
 * are the very ones a single-process run emits: the same code makes the numbers.
 */
import { compile, type CompiledNode } from '../graph/compile.ts';
import type { NodeEvent, RunEvent } from '../graph/events.ts';
import type { Graph } from '../graph/graph.ts';
import type { AnyNodeDefinition, MapBehaviour } from '../graph/node.ts';

export interface Mergeable {
  merge(saved: readonly unknown[]): unknown;
}

type MapWithMerge = MapBehaviour<unknown, Record<string, unknown>, Record<string, unknown>> & Partial<Mergeable>;

/** The node's merge hook, when its kind has one. */
export function mergeHook(definition: AnyNodeDefinition): Mergeable['merge'] | undefined {
  const main = definition.main as MapWithMerge | undefined;
  return main?.type === 'map' && typeof main.merge === 'function' ? main.merge.bind(main) : undefined;
}

function mapNodes(graph: Graph): CompiledNode[] {
  return compile(graph).stages.flatMap((s) => (s.type === 'main' ? [s.node] : []));
}

/** Names of the graph's nodes whose results are merged from shards. */
export function mergeableNodes(graph: Graph): string[] {
  return mapNodes(graph).filter((n) => mergeHook(n.definition)).map((n) => n.json.name);
}

/** The events each mergeable node emits from its shards' saved states (`shards` in item order). */
export async function mergeShardStates(graph: Graph, shards: readonly Record<string, unknown>[]): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for (const node of mapNodes(graph)) {
    const merge = mergeHook(node.definition);
    if (!merge) continue;
    const name = node.json.name;
    const missing = shards.findIndex((s) => !(name in s));
    if (missing >= 0) throw new Error(`shard ${missing + 1} of ${shards.length} returned no state for node '${name}' (${node.json.kind}); was it run by an older samflow worker?`);
    const behaviour = node.definition.main as MapWithMerge;
    const emit = (event: NodeEvent) => events.push({ ...event, node: name } as RunEvent);
    const impl = behaviour.create(node.json.params, { node: name, kind: node.json.kind, seed: node.seed, emit });
    if (!impl.state) throw new Error(`node '${name}' (${node.json.kind}) declares merge but keeps no state to restore the merged one into`);
    impl.state.restore(merge(shards.map((s) => s[name])));
    await impl.finish?.();
  }
  return events;
}
