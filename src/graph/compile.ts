/**
 * Splits a validated graph into an ordered list of stages: one source stage, then main-thread
 * stages (one node each, so each gets its own concurrency and prefetch) and maximal worker
 * segments (consecutive worker nodes run as one unit in the tensor worker, under one tape).
 *
 * Values flow between stages in an envelope keyed 'node.port'; the compiler works out which
 * keys each stage reads and which stay alive after it, so dead values are dropped early and a
 * worker segment receives only what it reads.
 */
import { GraphValidationError } from './errors.ts';
import { parseRef, type Graph, type NodeJson } from './graph.ts';
import type { AnyNodeDefinition } from './node.ts';
import type { Transport } from './port.ts';

export type PortKey = string;

export interface CompiledNode {
  readonly json: NodeJson;
  readonly definition: AnyNodeDefinition;
  /** input port -> envelope key */
  readonly inputs: Readonly<Record<string, PortKey>>;
  readonly seed: number;
}

export interface SegmentPort {
  readonly key: PortKey;
  readonly type: string;
  readonly transport: Transport;
}

/** What the worker receives, once, to rebuild a segment. Plain JSON. */
export interface SegmentJson {
  readonly id: string;
  readonly graph: string;
  readonly modules: readonly string[];
  readonly nodes: readonly (NodeJson & { readonly seed: number })[];
  readonly inputs: readonly SegmentPort[];
  readonly outputs: readonly SegmentPort[];
}

interface StageBase {
  readonly id: string;
  /** Keys this stage reads from the envelope. */
  readonly reads: readonly PortKey[];
  /** Keys still needed after this stage; everything else is dropped. */
  readonly keep: readonly PortKey[];
  readonly concurrency: number;
  readonly prefetch: number;
  /** Source items one envelope at this stage stands for (grows after a batching node). */
  readonly scale: number;
}

export interface SourceStage extends StageBase {
  readonly type: 'source';
  readonly nodes: readonly CompiledNode[];
}
export interface MainStage extends StageBase {
  readonly type: 'main';
  readonly node: CompiledNode;
}
export interface WorkerStage extends StageBase {
  readonly type: 'worker';
  readonly nodes: readonly CompiledNode[];
  readonly segment: SegmentJson;
}
export type Stage = SourceStage | MainStage | WorkerStage;

export interface CompiledGraph {
  readonly graph: Graph;
  readonly stages: readonly Stage[];
  /** Most source items in flight at once: the sum of every stage's capacity. */
  readonly window: number;
}

export function compile(graph: Graph): CompiledGraph {
  const nodes = graph.nodes.map((json): CompiledNode => {
    const inputs: Record<string, PortKey> = {};
    for (const [port, ref] of Object.entries(json.inputs)) inputs[port] = ref;
    return { json, definition: graph.registry.get(json.kind), inputs, seed: nodeSeed(graph.json.seed, json.name) };
  });
  const order = orderByPlacement(nodes);
  const groups = groupStages(order);
  const problems: string[] = [];
  const stages: Stage[] = [];
  let scale = 1;
  let window = 0;
  const producedAt = new Map<PortKey, number>();

  groups.forEach((group, index) => {
    const names = new Set(group.map((n) => n.json.name));
    const reads = [...new Set(group.flatMap((n) => Object.values(n.inputs)))].filter((key) => !names.has(producer(key)));
    const first = group[0]!;
    const id = `${index}`;
    for (const key of reads) {
      const from = producedAt.get(key);
      const barrier = from === undefined ? undefined : stages.slice(from + 1).find(isRegrouping);
      if (barrier && barrier.type === 'main') {
        problems.push(
          `node '${consumerOf(group, key)}' reads '${key}', produced before node '${barrier.node.json.name}' (kind ${barrier.node.json.kind}) regroups items; route it through that node`,
        );
      }
    }
    let stage: Stage;
    if (first.definition.main?.type === 'source') {
      stage = { type: 'source', id, nodes: group, reads: [], keep: [], concurrency: 1, prefetch: 0, scale };
    } else if (first.definition.placement === 'worker') {
      const segment = segmentJson(graph, id, group, reads, nodes);
      for (const port of [...segment.inputs, ...segment.outputs]) {
        if (port.transport === 'local') {
          problems.push(`'${port.key}' (${port.type}) cannot cross between the main thread and worker segment ${id}: its values live where they are made`);
        }
      }
      const prefetch = Math.max(...group.map((n) => n.json.prefetch ?? 1));
      stage = { type: 'worker', id, nodes: group, segment, reads, keep: [], concurrency: 1, prefetch, scale };
      window += (1 + prefetch) * scale;
    } else {
      const main = first.definition.main!;
      const concurrency = first.json.concurrency ?? (main.type === 'map' ? (main.concurrency ?? 1) : 1);
      const prefetch = first.json.prefetch ?? 1;
      stage = { type: 'main', id, node: first, reads, keep: [], concurrency, prefetch, scale };
      if (main.type === 'operator') {
        const per = main.itemsPerOutput?.(first.json.params) ?? 1;
        window += (per + prefetch) * scale;
        scale *= per;
      } else {
        window += (concurrency + prefetch) * scale;
      }
    }
    stages.push(stage);
    for (const n of group) for (const port of Object.keys(n.definition.outputs)) producedAt.set(`${n.json.name}.${port}`, index);
  });
  if (problems.length) throw new GraphValidationError(`graph '${graph.name}'`, problems);

  const withKeep = stages.map((stage, i) => ({
    ...stage,
    keep: [...new Set(stages.slice(i + 1).flatMap((s) => s.reads))].filter((key) => producedAt.get(key)! <= i),
  })) as Stage[];
  return { graph, stages: withKeep, window: Math.max(1, window) };
}

function producer(key: PortKey): string {
  return parseRef(key)!.node;
}

function consumerOf(group: readonly CompiledNode[], key: PortKey): string {
  return group.find((n) => Object.values(n.inputs).includes(key))?.json.name ?? group[0]!.json.name;
}

function isRegrouping(stage: Stage): boolean {
  return stage.type === 'main' && stage.node.definition.main?.type === 'operator';
}

/**
 * A topological order that keeps placements together: sources first, then, while any node of
 * the current placement is ready, take it; switch placement only when none is. This makes
 * worker segments maximal for the DAGs pipelines build.
 */
function orderByPlacement(nodes: readonly CompiledNode[]): CompiledNode[] {
  const remaining = new Map(nodes.map((n) => [n.json.name, new Set(Object.values(n.inputs).map(producer))]));
  const done = new Set<string>();
  const order: CompiledNode[] = [];
  const ready = () => nodes.filter((n) => !done.has(n.json.name) && [...remaining.get(n.json.name)!].every((d) => done.has(d)));
  let placement: 'source' | 'main' | 'worker' = 'source';
  const kindOf = (n: CompiledNode) => (n.definition.main?.type === 'source' ? 'source' : n.definition.placement);
  while (order.length < nodes.length) {
    const candidates = ready();
    // Stay on the current placement while possible; else run main nodes first, so a worker
    // node that could start early (one with no inputs) waits to join the next worker segment.
    const pick =
      candidates.find((n) => kindOf(n) === placement) ??
      candidates.find((n) => kindOf(n) === 'main') ??
      candidates.find((n) => kindOf(n) === 'worker') ??
      candidates[0]!;
    placement = kindOf(pick);
    done.add(pick.json.name);
    order.push(pick);
  }
  return order;
}

/** Sources form one stage, consecutive worker nodes one segment, each other main node its own stage. */
function groupStages(order: readonly CompiledNode[]): CompiledNode[][] {
  const groups: CompiledNode[][] = [];
  for (const node of order) {
    const last = groups.at(-1);
    const isSourceNode = node.definition.main?.type === 'source';
    const joins =
      last &&
      ((isSourceNode && last[0]!.definition.main?.type === 'source') ||
        (node.definition.placement === 'worker' && last[0]!.definition.placement === 'worker'));
    if (joins) last.push(node);
    else groups.push([node]);
  }
  return groups;
}

function segmentJson(
  graph: Graph,
  id: string,
  group: readonly CompiledNode[],
  reads: readonly PortKey[],
  all: readonly CompiledNode[],
): SegmentJson {
  const names = new Set(group.map((n) => n.json.name));
  const portOf = (key: PortKey) => {
    const { node, port } = parseRef(key)!;
    const type = all.find((n) => n.json.name === node)!.definition.outputs[port]!;
    return { key, type: type.name, transport: type.transport };
  };
  const outputs = all
    .filter((n) => !names.has(n.json.name))
    .flatMap((n) => Object.values(n.inputs))
    .filter((key) => names.has(producer(key)));
  return {
    id,
    graph: graph.name,
    modules: graph.json.modules,
    nodes: group.map((n) => ({ ...n.json, seed: n.seed })),
    inputs: reads.map(portOf),
    outputs: [...new Set(outputs)].map(portOf),
  };
}

/** A stable 32-bit seed per node (FNV-1a over the graph seed and the node name). */
export function nodeSeed(graphSeed: number, name: string): number {
  let h = 0x811c9dc5 ^ (graphSeed >>> 0);
  for (const ch of `${graphSeed}:${name}`) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
