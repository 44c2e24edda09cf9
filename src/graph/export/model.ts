/**
 * The export model: a compiled graph reduced to plain, renderer-neutral JSON. Every output
 * format (Mermaid, DOT, HTML) is drawn from this one value, so they all show the same nodes,
 * edges and segments, and a tool outside samflow can read the JSON without the registry.
 */
import type { CompiledGraph, CompiledNode, Stage } from '../compile.ts';
import { parseRef } from '../graph.ts';
import type { Placement } from '../node.ts';
import type { Transport } from '../port.ts';

export interface ExportNode {
  readonly name: string;
  readonly kind: string;
  readonly placement: Placement;
  /** Id of the stage (segment) the node runs in. */
  readonly stage: string;
  readonly description: string;
  /** Params as validated, defaults filled in. */
  readonly params: unknown;
}

export interface ExportEdge {
  readonly from: { readonly node: string; readonly port: string };
  readonly to: { readonly node: string; readonly port: string };
  /** Name of the producing port's type. */
  readonly type: string;
  readonly transport: Transport;
}

/** One compiled stage: a worker segment, the source stage or a main-thread stage. */
export interface ExportSegment {
  readonly id: string;
  readonly placement: Placement;
  readonly nodes: readonly string[];
}

export interface GraphExport {
  readonly graph: { readonly name: string; readonly seed: number };
  readonly nodes: readonly ExportNode[];
  readonly edges: readonly ExportEdge[];
  readonly segments: readonly ExportSegment[];
}

/**
 * Nodes come in stage order (the order they run in), edges in consumer order and then in the
 * order the consumer's kind declares its inputs, so the same graph always exports the same text.
 */
export function exportModel(compiled: CompiledGraph): GraphExport {
  const { graph, stages } = compiled;
  const segments = stages.map(
    (stage): ExportSegment => ({
      id: stage.id,
      placement: stage.type === 'worker' ? 'worker' : 'main',
      nodes: stageNodes(stage).map((n) => n.json.name),
    }),
  );
  const compiledNodes = stages.flatMap((stage) => stageNodes(stage).map((node) => ({ node, stage: stage.id })));
  const nodes = compiledNodes.map(
    ({ node: { json, definition }, stage }): ExportNode => ({
      name: json.name,
      kind: json.kind,
      placement: definition.placement,
      stage,
      description: definition.description,
      params: json.params,
    }),
  );
  const definitions = new Map(compiledNodes.map(({ node }) => [node.json.name, node.definition]));
  const edges = compiledNodes.flatMap(({ node: { json, definition } }) =>
    Object.keys(definition.inputs).flatMap((port): ExportEdge[] => {
      const ref = json.inputs[port];
      if (ref === undefined) return [];
      const from = parseRef(ref)!;
      const type = definitions.get(from.node)!.outputs[from.port]!;
      return [{ from, to: { node: json.name, port }, type: type.name, transport: type.transport }];
    }),
  );
  return { graph: { name: graph.name, seed: graph.json.seed }, nodes, edges, segments };
}

function stageNodes(stage: Stage): readonly CompiledNode[] {
  return stage.type === 'main' ? [stage.node] : stage.nodes;
}
