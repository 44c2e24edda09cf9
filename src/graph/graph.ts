/**
 * The pipeline builder and the Graph value.
 *
 * The builder is typed: an input accepts only an output reference whose port type has the same
 * name, so connecting a `Mask` output to an `Image` input does not compile. `build()` goes
 * through the same JSON validation a graph loaded from a file gets, so both paths fail alike.
 */
import type { z } from 'zod';
import type { InputSpecs, NodeDefinition, OutputSpecs, SpecPort } from './node.ts';
import type { OptionalPort } from './node.ts';
import type { PortName, PortType } from './port.ts';
import { defaultRegistry, type NodeRegistry } from './registry.ts';
import { validateGraph } from './validate.ts';

export const GRAPH_FORMAT = 'samflow-graph@1';

export interface NodeJson {
  readonly name: string;
  readonly kind: string;
  readonly params: unknown;
  /** input port -> 'producer.port' */
  readonly inputs: Readonly<Record<string, string>>;
  /** Parallel items in this node (main map nodes). */
  readonly concurrency?: number;
  /** Items buffered ahead of this node. */
  readonly prefetch?: number;
}

export interface GraphJson {
  readonly format: typeof GRAPH_FORMAT;
  readonly name: string;
  readonly seed: number;
  /** Modules that register the kinds this graph uses beyond the built-in ones (the worker imports them). */
  readonly modules: readonly string[];
  readonly nodes: readonly NodeJson[];
}

/** A reference to one output port of one node: what the builder connects. */
export interface OutputRef<P extends PortType = PortType> {
  readonly node: string;
  readonly port: string;
  readonly type: P;
}

type AnyPort<N extends string> = PortType<N, unknown, unknown>;
type RequiredKeys<I> = { [K in keyof I]: I[K] extends OptionalPort ? never : K }[keyof I];
type OptionalKeys<I> = { [K in keyof I]: I[K] extends OptionalPort ? K : never }[keyof I];

export type BuilderInputs<I> = { [K in RequiredKeys<I>]: OutputRef<AnyPort<PortName<I[K]>>> } & {
  [K in OptionalKeys<I>]?: OutputRef<AnyPort<PortName<SpecPort<I[K]>>>>;
};

export interface AddOptions<I, S extends z.ZodType> {
  readonly params?: z.input<S>;
  readonly inputs?: BuilderInputs<I>;
  readonly concurrency?: number;
  readonly prefetch?: number;
}

type AddArgs<I, S extends z.ZodType> = {} extends BuilderInputs<I>
  ? [options?: AddOptions<I, S>]
  : [options: AddOptions<I, S> & { readonly inputs: BuilderInputs<I> }];

export interface NodeHandle<O extends OutputSpecs> {
  readonly name: string;
  readonly out: { readonly [K in keyof O]: OutputRef<O[K]> };
}

export class GraphBuilder {
  private readonly nodes: NodeJson[] = [];

  constructor(
    private readonly options: { name: string; seed?: number; modules?: readonly string[]; registry?: NodeRegistry },
  ) {}

  add<K extends string, I extends InputSpecs, O extends OutputSpecs, S extends z.ZodType>(
    name: string,
    definition: NodeDefinition<K, I, O, S>,
    ...[options]: AddArgs<I, S>
  ): NodeHandle<O> {
    const inputs: Record<string, string> = {};
    for (const [port, ref] of Object.entries((options?.inputs ?? {}) as Record<string, OutputRef | undefined>)) {
      if (ref) inputs[port] = `${ref.node}.${ref.port}`;
    }
    this.nodes.push({
      name,
      kind: definition.kind,
      params: options?.params ?? {},
      inputs,
      ...(options?.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(options?.prefetch !== undefined ? { prefetch: options.prefetch } : {}),
    });
    const out = Object.fromEntries(
      Object.entries(definition.outputs).map(([port, type]) => [port, { node: name, port, type }]),
    );
    return { name, out: out as NodeHandle<O>['out'] };
  }

  toJson(): GraphJson {
    return {
      format: GRAPH_FORMAT,
      name: this.options.name,
      seed: this.options.seed ?? 0,
      modules: [...(this.options.modules ?? [])],
      nodes: [...this.nodes],
    };
  }

  /** Validates and returns the graph (throws GraphValidationError listing every problem). */
  build(): Graph {
    return Graph.fromJson(this.toJson(), this.options.registry);
  }
}

/** A validated graph: nodes with their params parsed by each kind's schema (defaults filled in). */
export class Graph {
  private constructor(
    readonly json: GraphJson,
    readonly registry: NodeRegistry,
  ) {}

  static fromJson(json: unknown, registry: NodeRegistry = defaultRegistry, source = 'graph'): Graph {
    return new Graph(validateGraph(json, registry, source), registry);
  }

  get name(): string {
    return this.json.name;
  }

  get nodes(): readonly NodeJson[] {
    return this.json.nodes;
  }

  node(name: string): NodeJson {
    const node = this.json.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`graph '${this.name}' has no node '${name}'`);
    return node;
  }

  toJson(): GraphJson {
    return structuredClone(this.json) as GraphJson;
  }
}

export function parseRef(ref: string): { node: string; port: string } | undefined {
  const dot = ref.lastIndexOf('.');
  if (dot <= 0 || dot === ref.length - 1) return undefined;
  return { node: ref.slice(0, dot), port: ref.slice(dot + 1) };
}
