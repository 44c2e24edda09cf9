/**
 * Executes a compiled graph as a chain of rxjs stages and reports what happens as
 * `Observable<RunEvent>`.
 *
 * - Backpressure: the source is pulled with credits (pulledSource); the sink hands credits
 *   back, so at most `window` source items are in flight, whatever the stages' speeds.
 * - Main map stages run with their concurrency, in order when the node asks for it.
 * - Worker segments go to the executor once; per item only the values they read cross.
 * - Any error ends the run with one `failed` event naming node, kind, segment and item;
 *   unsubscribing stops the source and closes the executor.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defer, map, mergeMap, Observable, Subject, type OperatorFunction } from 'rxjs';
import { compile, type CompiledGraph, type CompiledNode, type MainStage, type PortKey, type SourceStage, type Stage, type WorkerStage } from './compile.ts';
import { NodeRunError, RunHookError, WorkerFailure, messageOf } from './errors.ts';
import type { ItemMeta, NodeEvent, RunEvent, RunPosition } from './events.ts';
import type { SegmentExecutor, ExecutorFactory } from './executor.ts';
import { Graph } from './graph.ts';
import { isTensorData } from './port.ts';
import type { Emission, Item, MapBehaviour, MapNode, NodeContext, OperatorBehaviour, SourceBehaviour, SourceContext } from './node.ts';
import { orderedMergeMap } from './operators/ordered-merge-map.ts';
import { pulledSource } from './operators/pulled-source.ts';
import { StageClock } from './stage-clock.ts';
import { yieldToEventLoop } from './operators/yield-to-event-loop.ts';

export interface RunOptions {
  /** Makes the executor for worker segments; required when the graph has any. */
  readonly executor?: ExecutorFactory;
  /**
   * Called whenever the run is drained (no item in flight, every stage caught up): before the
   * first item of each new epoch, every `boundaryEvery` source items inside a group, and once
   * after the last item. The run waits for it, so state saved here is consistent everywhere.
   */
  readonly onBoundary?: (boundary: Boundary) => Promise<void>;
  /** Source items between boundaries inside a group (0: only at epochs and the end); rounded up to whole batches. */
  readonly boundaryEvery?: number;
  /** Continue an earlier run: segments restore their state from `dir`, the source starts at `position`. */
  readonly resume?: { readonly dir: string; readonly position: RunPosition };
  /**
   * Aborting stops the run gracefully: in a 'train' group at the next whole batch, elsewhere at
   * the end of the group, then the 'end' boundary runs and `finished` says why it stopped.
   */
  readonly signal?: AbortSignal;
}

/** A drained point of a run (see RunOptions.onBoundary). */
export interface Boundary {
  readonly reason: 'epoch' | 'interval' | 'end';
  readonly position: RunPosition;
  /** The epoch of the last item consumed, or undefined before the first. */
  readonly epoch: number | undefined;
  /** Why the run stops after this boundary, when it does. */
  readonly stopping: string | undefined;
  /** Every node with state (worker segments' nodes, main-thread map nodes) writes it into `dir`. */
  save(dir: string): Promise<void>;
  emit(event: RunEvent): void;
}

interface Envelope {
  readonly meta: ItemMeta;
  readonly values: Readonly<Record<PortKey, unknown>>;
  readonly weight: number;
}

export function run(graphOrCompiled: Graph | CompiledGraph, options: RunOptions = {}): Observable<RunEvent> {
  return new Observable<RunEvent>((subscriber) => {
    const started = performance.now();
    const clock = new StageClock();
    const compiled = graphOrCompiled instanceof Graph ? compile(graphOrCompiled) : graphOrCompiled;
    const events = new Subject<RunEvent>();
    const eventSub = events.subscribe((e) => subscriber.next(e));
    let executor: SegmentExecutor | undefined;
    let closed = false;
    let finished = options.resume?.position.items ?? 0;
    let lastTensors: number | undefined;
    const workerStages = compiled.stages.filter((s): s is WorkerStage => s.type === 'worker');
    const mainNodes = new Map<string, MapNode<Record<string, unknown>, Record<string, unknown>>>();
    const mainSaved = options.resume ? readMainState(options.resume.dir) : {};
    let source: ReturnType<typeof sourceStage> | undefined;
    let stopped: string | undefined;
    const boundary = async (reason: Boundary['reason'], position: RunPosition, epoch: number | undefined) => {
      await source?.idle();
      const stopping = reason === 'end' ? stopped : stopReason(options.signal);
      try {
        await options.onBoundary?.({
          reason,
          position,
          epoch,
          stopping,
          save: async (dir) => {
            for (const stage of workerStages) await executor!.save(stage.segment.id, dir);
            const saved: Record<string, unknown> = {};
            for (const [name, impl] of mainNodes) if (impl.state) saved[name] = await impl.state.save();
            if (Object.keys(saved).length) writeFileSync(join(dir, MAIN_STATE_FILE), `${JSON.stringify(saved)}\n`);
          },
          emit: (event) => events.next(event),
        });
      } catch (error) {
        throw error instanceof NodeRunError || error instanceof WorkerFailure ? error : new RunHookError(error);
      }
    };

    const fail = (error: unknown) => {
      if (closed) return;
      subscriber.next(failedEvent(error));
      subscriber.complete();
    };
    const emitFrom = (node: string) => (event: NodeEvent) => events.next({ ...event, node });

    const stageSub = defer(async () => {
      if (workerStages.length) {
        if (!options.executor) throw new Error(`graph '${compiled.graph.name}' has worker nodes but no executor was given`);
        executor = await options.executor();
        for (const stage of workerStages) await executor.load(stage.segment);
        if (options.resume) for (const stage of workerStages) await executor.restore(stage.segment.id, options.resume.dir);
      }
      return executor;
    })
      .pipe(
        mergeMap(() => {
          const [first, ...rest] = compiled.stages;
          source = sourceStage(first as SourceStage, compiled.window, emitFrom, clock, {
            start: options.resume?.position ?? { items: 0, groupItems: 0 },
            unit: batchUnit(compiled),
            every: options.boundaryEvery ?? 0,
            boundary,
            stopReason: () => stopReason(options.signal),
            onStop: (reason) => (stopped = reason),
          });
          const src = source;
          events.next({
            type: 'started',
            graph: compiled.graph.name,
            stages: compiled.stages.map(summary),
            ...(executor ? { backend: executor.backend } : {}),
            window: compiled.window,
            ...(options.resume ? { resumedAt: options.resume.position } : {}),
          });
          let stream = src.items;
          for (const stage of rest) {
            stream = stream.pipe(
              stage.type === 'worker'
                ? workerStage(stage, executor!, (tensors) => (lastTensors = tensors), emitFrom, clock)
                : mainStage(stage as MainStage, emitFrom, src.release, clock, (name, impl) => {
                    mainNodes.set(name, impl);
                    if (name in mainSaved) {
                      if (!impl.state) throw new NodeRunError(name, (stage as MainStage).node.json.kind, undefined, new Error('the checkpoint holds state for this node, but it keeps none'));
                      impl.state.restore(mainSaved[name]);
                    }
                  }),
            );
          }
          return stream.pipe(
            map((envelope) => {
              finished += envelope.weight;
              events.next({
                type: 'progress',
                items: finished,
                ...(src.total !== undefined ? { total: src.total } : {}),
                split: envelope.meta.split,
                epoch: envelope.meta.epoch,
                ...(lastTensors !== undefined ? { tensors: lastTensors } : {}),
              });
              src.release(envelope.weight);
            }),
            thenRun(async () => {
              const end = src.position();
              await boundary('end', end.position, end.epoch);
            }),
          );
        }),
      )
      .subscribe({
        error: fail,
        complete: () => {
          if (closed) return;
          const timing = clock.timings(compiled.stages.map(summary));
          subscriber.next({ type: 'finished', items: finished, seconds: (performance.now() - started) / 1000, ...(stopped ? { stopped } : {}), ...(timing.length ? { timing } : {}) });
          subscriber.complete();
        },
      });

    return () => {
      closed = true;
      stageSub.unsubscribe();
      eventSub.unsubscribe();
      void executor?.close();
    };
  });
}

function failedEvent(error: unknown): RunEvent {
  if (error instanceof NodeRunError) {
    return {
      type: 'failed',
      error: error.message,
      node: error.node,
      kind: error.kind,
      ...(error.segment !== undefined ? { segment: error.segment } : {}),
      ...(error.itemIndex !== undefined ? { itemIndex: error.itemIndex } : {}),
    };
  }
  if (error instanceof WorkerFailure) {
    return { type: 'failed', error: error.message, ...(error.segment !== undefined ? { segment: error.segment } : {}) };
  }
  return { type: 'failed', error: messageOf(error) };
}

function summary(stage: Stage) {
  const nodes = stage.type === 'main' ? [stage.node] : stage.nodes;
  return { id: stage.id, placement: stage.type === 'worker' ? ('worker' as const) : ('main' as const), nodes: nodes.map((n) => n.json.name) };
}

function contextFor(node: CompiledNode, emitFrom: (node: string) => (e: NodeEvent) => void): NodeContext {
  return { node: node.json.name, kind: node.json.kind, seed: node.seed, emit: emitFrom(node.json.name) };
}

function inputsOf(node: CompiledNode, values: Readonly<Record<PortKey, unknown>>): Record<string, unknown> {
  const inputs: Record<string, unknown> = {};
  for (const [port, key] of Object.entries(node.inputs)) inputs[port] = values[key];
  return inputs;
}

function outputsOf(node: CompiledNode, outputs: Readonly<Record<string, unknown>>, where: number): Record<PortKey, unknown> {
  const values: Record<PortKey, unknown> = {};
  for (const port of Object.keys(node.definition.outputs)) {
    if (!(port in outputs)) {
      throw new NodeRunError(node.json.name, node.json.kind, where, new Error(`did not produce its output '${port}'`));
    }
    values[`${node.json.name}.${port}`] = outputs[port];
  }
  return values;
}

function kept(stage: Stage, values: Readonly<Record<PortKey, unknown>>): Record<PortKey, unknown> {
  const out: Record<PortKey, unknown> = {};
  for (const key of stage.keep) if (key in values) out[key] = values[key];
  return out;
}

/** Main-thread nodes' state in a checkpoint folder (worker nodes write their own files). */
const MAIN_STATE_FILE = 'main-nodes.json';

function readMainState(dir: string): Record<string, unknown> {
  const path = join(dir, MAIN_STATE_FILE);
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${path}: cannot read the main-thread nodes' saved state (${messageOf(error)})`);
  }
}

function stopReason(signal: AbortSignal | undefined): string | undefined {
  if (!signal?.aborted) return undefined;
  return typeof signal.reason === 'string' ? signal.reason : messageOf(signal.reason ?? 'stopped');
}

/** Source items one worker step holds: the product of every regrouping stage's batch size. */
function batchUnit(compiled: CompiledGraph): number {
  let unit = 1;
  for (const stage of compiled.stages) {
    const main = stage.type === 'main' ? stage.node.definition.main : undefined;
    if (main?.type === 'operator') unit *= main.itemsPerOutput?.((stage as MainStage).node.json.params) ?? 1;
  }
  return unit;
}

interface SourceControl {
  /** Where to start: items to skip, and how far into its group the first item is. */
  readonly start: RunPosition;
  /** Items of a whole batch: stops and interval boundaries inside a group fall on multiples of it. */
  readonly unit: number;
  readonly every: number;
  boundary(reason: 'epoch' | 'interval', position: RunPosition, epoch: number): Promise<void>;
  stopReason(): string | undefined;
  onStop(reason: string): void;
}

/**
 * All source nodes advance together: item i of the run is item i of every source. Between two
 * items the stage holds the run's boundaries (it waits for the pipeline to drain, then for the
 * boundary hook) and its graceful stop.
 */
function sourceStage(stage: SourceStage, window: number, emitFrom: (node: string) => (e: NodeEvent) => void, clock: StageClock, control: SourceControl) {
  const totals = stage.nodes.map((n) => (n.definition.main as SourceBehaviour<unknown, unknown>).total?.(n.json.params));
  const total = totals.every((t) => t !== undefined) ? Math.min(...(totals as number[])) : undefined;
  const every = control.every > 0 ? Math.ceil(control.every / control.unit) * control.unit : 0;
  let consumed = control.start.items;
  let groupItems = control.start.groupItems;
  let lastEpoch: number | undefined;
  const position = (): RunPosition => ({ items: consumed, groupItems });
  async function* items(): AsyncGenerator<Envelope> {
    const skip = control.start.items;
    const iterators = stage.nodes.map((node) => {
      const behaviour = node.definition.main as SourceBehaviour<unknown, Record<string, unknown>>;
      try {
        const ctx: SourceContext = { ...contextFor(node, emitFrom), skip: behaviour.resumable ? skip : 0 };
        const made = behaviour.create(node.json.params, ctx);
        const iterator = (Symbol.asyncIterator in made ? made[Symbol.asyncIterator]() : made[Symbol.iterator]()) as
          | Iterator<Emission<Record<string, unknown>>>
          | AsyncIterator<Emission<Record<string, unknown>>>;
        return { iterator, drop: behaviour.resumable ? 0 : skip };
      } catch (error) {
        throw new NodeRunError(node.json.name, node.json.kind, undefined, error);
      }
    });
    const next = (index: number) =>
      Promise.all(
        iterators.map(async (it, i) => {
          const node = stage.nodes[i]!;
          try {
            // A source that cannot skip by itself is pulled past the items a resumed run has done.
            for (; it.drop > 0; it.drop--) if ((await it.iterator.next()).done) break;
            return await it.iterator.next();
          } catch (error) {
            throw new NodeRunError(node.json.name, node.json.kind, index, error);
          }
        }),
      );
    try {
      for (let index = skip; ; index++) {
        const steps = await clock.time(stage.id, () => next(index));
        const ended = steps.filter((s) => s.done).length;
        if (ended === steps.length) return;
        if (ended > 0) {
          const names = stage.nodes.map((n, i) => `'${n.json.name}'${steps[i]!.done ? ' (ended)' : ''}`).join(', ');
          throw new Error(`sources ${names} produced different numbers of items: they must advance together (item ${index})`);
        }
        let values: Record<PortKey, unknown> = {};
        let meta: Partial<ItemMeta> = {};
        steps.forEach((step, i) => {
          const emission = step.value as Emission<Record<string, unknown>>;
          values = { ...values, ...outputsOf(stage.nodes[i]!, emission.values, index) };
          meta = { ...meta, ...emission.meta };
        });
        const itemMeta: ItemMeta = { split: meta.split ?? 'train', epoch: meta.epoch ?? 0, groupEnd: meta.groupEnd ?? false, index };
        if (lastEpoch !== undefined && itemMeta.epoch !== lastEpoch) await control.boundary('epoch', position(), lastEpoch);
        // Not before a resumed run's first item: its resume position had its boundary in the earlier run.
        else if (every > 0 && lastEpoch !== undefined && groupItems > 0 && groupItems % every === 0) await control.boundary('interval', position(), lastEpoch);
        const stop = control.stopReason();
        if (stop !== undefined && (groupItems === 0 || (itemMeta.split === 'train' && groupItems % control.unit === 0))) {
          control.onStop(stop);
          return;
        }
        yield { meta: itemMeta, values, weight: 1 };
        consumed = index + 1;
        groupItems = itemMeta.groupEnd ? 0 : groupItems + 1;
        lastEpoch = itemMeta.epoch;
      }
    } finally {
      await Promise.all(iterators.map((it) => it.iterator.return?.()));
    }
  }
  const pulled = pulledSource(() => items(), window);
  return { ...pulled, total, position: () => ({ position: position(), epoch: lastEpoch }) };
}

function mainStage(
  stage: MainStage,
  emitFrom: (node: string) => (e: NodeEvent) => void,
  release: (weight: number) => void,
  clock: StageClock,
  created: (name: string, impl: MapNode<Record<string, unknown>, Record<string, unknown>>) => void,
): OperatorFunction<Envelope, Envelope> {
  const node = stage.node;
  const behaviour = node.definition.main!;
  return (input) =>
    defer(() => {
      const ctx = contextFor(node, emitFrom);
      if (behaviour.type === 'operator') return input.pipe(operatorStage(stage, behaviour, { ...ctx, release }));
      if (behaviour.type !== 'map') throw new Error(`node '${node.json.name}': a source can only start a graph`);
      const impl = (behaviour as MapBehaviour<unknown, Record<string, unknown>, Record<string, unknown>>).create(node.json.params, ctx);
      created(node.json.name, impl);
      const inFlight = new Set<Promise<Record<string, unknown>>>();
      const project = (envelope: Envelope) =>
        defer(async (): Promise<Envelope> => {
          await yieldToEventLoop();
          let outputs: Record<string, unknown>;
          const work = clock.time(stage.id, async () => impl.process(inputsOf(node, envelope.values), envelope.meta));
          inFlight.add(work);
          try {
            outputs = await work;
          } catch (error) {
            // The node's other items in flight finish first (a writer's temp files are cleaned up), then the run fails.
            await Promise.allSettled([...inFlight].filter((p) => p !== work));
            throw new NodeRunError(node.json.name, node.json.kind, envelope.meta.index, error);
          } finally {
            inFlight.delete(work);
          }
          return { ...envelope, values: { ...kept(stage, envelope.values), ...outputsOf(node, outputs, envelope.meta.index) } };
        });
      const processed = behaviour.ordered !== false
        ? input.pipe(orderedMergeMap(project, stage.concurrency))
        : input.pipe(mergeMap(project, stage.concurrency));
      return impl.finish ? processed.pipe(thenRun(async () => {
        try {
          await impl.finish!();
        } catch (error) {
          throw new NodeRunError(node.json.name, node.json.kind, undefined, error);
        }
      })) : processed;
    });
}

function operatorStage(
  stage: MainStage,
  behaviour: OperatorBehaviour<unknown, Record<string, unknown>, Record<string, unknown>>,
  ctx: NodeContext & { release(weight: number): void },
): OperatorFunction<Envelope, Envelope> {
  const node = stage.node;
  return (input) => {
    const items = input.pipe(map((e): Item<Record<string, unknown>> => ({ meta: e.meta, weight: e.weight, values: inputsOf(node, e.values) })));
    let operator: OperatorFunction<Item<Record<string, unknown>>, Item<Record<string, unknown>>>;
    try {
      operator = behaviour.create(node.json.params, ctx);
    } catch (error) {
      throw new NodeRunError(node.json.name, node.json.kind, undefined, error);
    }
    return items.pipe(operator).pipe(
      map((item): Envelope => ({ meta: item.meta, weight: item.weight, values: outputsOf(node, item.values, item.meta.index) })),
      rethrowAs(node),
    );
  };
}

function workerStage(
  stage: WorkerStage,
  executor: SegmentExecutor,
  onTensors: (count: number) => void,
  emitFrom: (node: string) => (e: NodeEvent) => void,
  clock: StageClock,
): OperatorFunction<Envelope, Envelope> {
  // The worker takes items in order: it is busy with one from its sending (or the previous reply) to its reply.
  let lastReply = 0;
  // Up to 1 + prefetch items are sent ahead: the worker queues them, so it never idles for a round trip.
  return orderedMergeMap(async (envelope: Envelope): Promise<Envelope> => {
    const inputs: Record<PortKey, unknown> = {};
    for (const port of stage.segment.inputs) {
      const value = envelope.values[port.key];
      // Buffers cross as transferables and are gone from this thread afterwards: copy what a later stage still reads.
      inputs[port.key] = stage.keep.includes(port.key) && isTensorData(value) ? { ...value, data: value.data.slice() } : value;
    }
    const sent = performance.now();
    const result = await executor.run(stage.segment.id, envelope.meta, inputs);
    const replied = performance.now();
    clock.add(stage.id, replied - Math.max(sent, lastReply));
    lastReply = replied;
    for (const event of result.events) emitFrom(event.node)(event);
    onTensors(result.tensors);
    return { ...envelope, values: { ...kept(stage, envelope.values), ...result.outputs } };
  }, stage.concurrency + stage.prefetch);
}

/** Appends an async step after the source completes (not on error or unsubscribe). */
function thenRun<T>(step: () => Promise<void>): OperatorFunction<T, T> {
  return (source) =>
    new Observable<T>((subscriber) =>
      source.subscribe({
        next: (v) => subscriber.next(v),
        error: (e) => subscriber.error(e),
        complete: () => step().then(() => subscriber.complete(), (e: unknown) => subscriber.error(e)),
      }),
    );
}

function rethrowAs<T>(node: CompiledNode): OperatorFunction<T, T> {
  return (source) =>
    new Observable<T>((subscriber) =>
      source.subscribe({
        next: (v) => subscriber.next(v),
        error: (e: unknown) =>
          subscriber.error(e instanceof NodeRunError || e instanceof RunHookError ? e : new NodeRunError(node.json.name, node.json.kind, undefined, e)),
        complete: () => subscriber.complete(),
      }),
    );
}

