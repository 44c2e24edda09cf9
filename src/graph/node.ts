/**
 * defineNode(): a node kind is data (kind, ports, params schema, placement) plus a behaviour.
 * A node *instance* in a graph is only `{name, kind, params, inputs}`, so graphs serialise to
 * JSON and a worker can rebuild its segment from the registry.
 *
 * ```ts
 * export const Threshold = defineNode({
 *   kind: 'example/threshold',
 *   description: 'binarise probabilities',
 *   placement: 'main',
 *   inputs: { probs: Probabilities },
 *   outputs: { mask: MaskBatch },
 *   params: z.object({ at: z.number().default(0.5) }),
 *   main: { type: 'map', create: (p) => ({ process: ({ probs }) => ({ mask: threshold(probs, p.at) }) }) },
 * });
 * ```
 */
import type { OperatorFunction } from 'rxjs';
import type { z } from 'zod';
import type { ItemMeta, NodeEvent } from './events.ts';
import type { MainValue, PortType, WorkerValue } from './port.ts';
import { defaultRegistry } from './registry.ts';

export type Placement = 'main' | 'worker';

export interface OptionalPort<P extends PortType = PortType> {
  readonly optional: true;
  readonly port: P;
}

/** Marks an input port as optional: the node runs without it. */
export function optional<P extends PortType>(port: P): OptionalPort<P> {
  return { optional: true, port };
}

export type InputSpec = PortType | OptionalPort;
export type InputSpecs = Record<string, InputSpec>;
export type OutputSpecs = Record<string, PortType>;

export type SpecPort<S> = S extends OptionalPort<infer P> ? P : S;
type RequiredKeys<I> = { [K in keyof I]: I[K] extends OptionalPort ? never : K }[keyof I];
type OptionalKeys<I> = { [K in keyof I]: I[K] extends OptionalPort ? K : never }[keyof I];

export type MainInputs<I> = { [K in RequiredKeys<I>]: MainValue<I[K]> } & {
  [K in OptionalKeys<I>]?: MainValue<SpecPort<I[K]>>;
};
export type WorkerInputs<I> = { [K in RequiredKeys<I>]: WorkerValue<I[K]> } & {
  [K in OptionalKeys<I>]?: WorkerValue<SpecPort<I[K]>>;
};
export type MainOutputs<O> = { [K in keyof O]: MainValue<O[K]> };
export type WorkerOutputs<O> = { [K in keyof O]: WorkerValue<O[K]> };

export interface NodeContext {
  /** The instance name in the graph. */
  readonly node: string;
  readonly kind: string;
  /** A seed for this node, derived from the graph seed and the node name. */
  readonly seed: number;
  emit(event: NodeEvent): void;
}

/** One item on a main-thread stream; `weight` counts the source items it stands for. */
export interface Item<V> {
  readonly meta: ItemMeta;
  readonly values: V;
  readonly weight: number;
}

export interface Emission<O> {
  readonly values: O;
  readonly meta?: Partial<Omit<ItemMeta, 'index'>>;
}

export interface SourceContext extends NodeContext {
  /**
   * Leading items to leave out: a resumed run starts where the interrupted one stopped. A
   * source that sets `resumable` skips them without making them (nothing decoded); for other
   * sources the runner pulls and drops them.
   */
  readonly skip: number;
}

/** Produces items; pulled one at a time, so a source never runs ahead of the run's window. */
export interface SourceBehaviour<P, O> {
  readonly type: 'source';
  /** How many items one pass produces, for progress reporting, if known from params. */
  total?(params: P): number | undefined;
  /** True when `create` honours `ctx.skip` itself. */
  readonly resumable?: boolean;
  create(params: P, ctx: SourceContext): Iterable<Emission<O>> | AsyncIterable<Emission<O>>;
}

/** One output per input item; the runner supplies concurrency, ordering and error context. */
export interface MapBehaviour<P, I, O> {
  readonly type: 'map';
  /** Default parallelism; a graph may override it per instance. */
  readonly concurrency?: number;
  /**
   * Keep input order in the output (default true: runs stay deterministic and groups stay
   * contiguous). Set false for a node whose consumers do not care, to let fast items overtake.
   */
  readonly ordered?: boolean;
  create(
    params: P,
    ctx: NodeContext,
  ): MapNode<I, O>;
}

/** A map node's live state on the main thread. */
export interface MapNode<I, O> {
  process(inputs: I, meta: ItemMeta): O | Promise<O>;
  finish?(): void | Promise<void>;
  /**
   * What a resumed run needs of what the node gathered so far (a metric's scores of the group
   * in progress), as JSON. `save` runs at a boundary, when nothing is in flight; `restore`
   * before the resumed run's first item.
   */
  readonly state?: {
    save(): unknown | Promise<unknown>;
    restore(saved: unknown): void;
  };
}

/**
 * A full rxjs operator over the node's input items, for nodes that change how many items flow
 * (batching, filtering). Every input's `weight` must reach some output item, or be handed to
 * `release` when an input is dropped, so the run's window is refilled.
 */
export interface OperatorBehaviour<P, I, O> {
  readonly type: 'operator';
  /** Input items held to make one output item (a batch size), so the run window fits it. */
  itemsPerOutput?(params: P): number;
  create(params: P, ctx: NodeContext & { release(weight: number): void }): OperatorFunction<Item<I>, Item<O>>;
}

export type MainBehaviour<P, I, O> = SourceBehaviour<P, O> | MapBehaviour<P, I, O> | OperatorBehaviour<P, I, O>;

export interface StepInfo {
  readonly meta: ItemMeta;
  /** True for items of the 'train' split in a segment with an optimiser: dropout, noisy gates and optimiser steps are on. */
  readonly training: boolean;
  /** A pass whose outputs are thrown away (set-up before the first optimiser step): accumulate nothing. */
  readonly dryRun?: boolean;
  emit(event: NodeEvent): void;
}

/** A node's live state inside the tensor worker. */
export interface WorkerNode<I, O> {
  /** A synchronous tensor function; it runs under the segment's tidy and gradient tape. */
  forward(inputs: I, step: StepInfo): O;
  /** Trainable variables this node owns (the segment's optimiser collects them). */
  variables?(): readonly unknown[];
  /**
   * Optimiser nodes only: differentiate `loss` (which runs the whole segment forward) with
   * respect to `variables` and update them. Keys are stable across processes
   * (`<node>/<position in its variables()>`), so optimiser state saved by one run can be
   * restored by another.
   */
  minimize?(loss: () => unknown, variables: ReadonlyMap<string, unknown>, step: StepInfo): void;
  /**
   * State a resumed run needs that the graph's params do not give (trained weights, optimiser
   * moments, step counters). `save` writes files into `dir` named after the node, synchronously,
   * between two items; `restore` reads them back before the first item of a resumed run.
   */
  readonly state?: {
    save(dir: string): void;
    restore(dir: string): void | Promise<void>;
  };
  dispose?(): void;
}

export interface WorkerBehaviour<P, I, O> {
  create(params: P, ctx: NodeContext): WorkerNode<I, O> | Promise<WorkerNode<I, O>>;
}

interface DefinitionBase<K extends string, I extends InputSpecs, O extends OutputSpecs, S extends z.ZodType> {
  readonly kind: K;
  readonly description: string;
  readonly inputs: I;
  readonly outputs: O;
  readonly params: S;
}

export interface MainNodeDefinition<
  K extends string = string,
  I extends InputSpecs = InputSpecs,
  O extends OutputSpecs = OutputSpecs,
  S extends z.ZodType = z.ZodType,
> extends DefinitionBase<K, I, O, S> {
  readonly placement: 'main';
  readonly main: MainBehaviour<z.output<S>, MainInputs<I>, MainOutputs<O>>;
}

export interface WorkerNodeDefinition<
  K extends string = string,
  I extends InputSpecs = InputSpecs,
  O extends OutputSpecs = OutputSpecs,
  S extends z.ZodType = z.ZodType,
> extends DefinitionBase<K, I, O, S> {
  readonly placement: 'worker';
  readonly worker: WorkerBehaviour<z.output<S>, WorkerInputs<I>, WorkerOutputs<O>>;
}

export type NodeDefinition<
  K extends string = string,
  I extends InputSpecs = InputSpecs,
  O extends OutputSpecs = OutputSpecs,
  S extends z.ZodType = z.ZodType,
> = MainNodeDefinition<K, I, O, S> | WorkerNodeDefinition<K, I, O, S>;

/** Any definition, with its generic parameters erased (what the registry stores). */
export type AnyNodeDefinition = NodeDefinition<string, InputSpecs, OutputSpecs, any> & {
  readonly main?: MainBehaviour<any, any, any>;
  readonly worker?: WorkerBehaviour<any, any, any>;
};

/** Defines a node kind and registers it, so graphs (and the worker) can find it by name. */
export function defineNode<
  const K extends string,
  const I extends InputSpecs,
  const O extends OutputSpecs,
  S extends z.ZodType,
  M extends MainBehaviour<z.output<S>, MainInputs<I>, MainOutputs<O>>,
>(definition: MainNodeDefinition<K, I, O, S> & { readonly main: M }): MainNodeDefinition<K, I, O, S> & { readonly main: M };
export function defineNode<
  const K extends string,
  const I extends InputSpecs,
  const O extends OutputSpecs,
  S extends z.ZodType,
>(definition: WorkerNodeDefinition<K, I, O, S>): WorkerNodeDefinition<K, I, O, S>;
export function defineNode(definition: AnyNodeDefinition): AnyNodeDefinition {
  for (const [port, spec] of Object.entries(definition.outputs)) {
    if (!spec || typeof spec.name !== 'string') {
      throw new Error(`defineNode(${definition.kind}): output '${port}' is not a port type`);
    }
  }
  if (definition.placement === 'main' && definition.main?.type === 'source' && Object.keys(definition.inputs).length) {
    throw new Error(`defineNode(${definition.kind}): a source produces items and takes no inputs, but declares ${Object.keys(definition.inputs).join(', ')}`);
  }
  if (definition.placement === 'main' && !definition.main) {
    throw new Error(`defineNode(${definition.kind}): placement 'main' needs a 'main' behaviour`);
  }
  if (definition.placement === 'worker' && !definition.worker) {
    throw new Error(`defineNode(${definition.kind}): placement 'worker' needs a 'worker' behaviour`);
  }
  defaultRegistry.register(definition);
  return definition;
}

export function inputPort(spec: InputSpec): { port: PortType; optional: boolean } {
  return 'optional' in spec ? { port: spec.port, optional: true } : { port: spec, optional: false };
}

export function isSource(def: AnyNodeDefinition): boolean {
  return def.placement === 'main' && def.main?.type === 'source';
}
