/**
 * Runs one worker segment per item: typed arrays in, tensors through the segment's nodes,
 * typed arrays out. On a training item with an optimiser node in the segment, everything up
 * to the optimiser runs inside its `minimize` (one gradient tape across node boundaries);
 * otherwise the segment runs under a plain tidy. No tensor outlives the item except the
 * nodes' own variables.
 */
import * as tf from '@tensorflow/tfjs';
import { type CompiledNode, type PortKey, type SegmentJson } from '../src/graph/compile.ts';
import { NodeRunError, messageOf } from '../src/graph/errors.ts';
import type { ItemMeta, NodeEvent } from '../src/graph/events.ts';
import { parseRef } from '../src/graph/graph.ts';
import type { StepInfo, WorkerNode } from '../src/graph/node.ts';
import { isTensorData, type TensorData } from '../src/graph/port.ts';
import type { NodeRegistry } from '../src/graph/registry.ts';
import { readNodeState, writeNodeState } from '../src/nodes/train/state-files.ts';
import { activeMarker } from './progress-marker.ts';

interface LiveNode {
  readonly compiled: CompiledNode;
  readonly impl: WorkerNode<Record<string, unknown>, Record<string, unknown>>;
}

export interface SegmentRunReply {
  readonly outputs: Record<PortKey, unknown>;
  readonly events: (NodeEvent & { node: string })[];
  readonly tensors: number;
}

export class SegmentRunner {
  private events: (NodeEvent & { node: string })[] = [];
  private prepared = false;

  private constructor(
    readonly segment: SegmentJson,
    private readonly nodes: readonly LiveNode[],
    private readonly optimizer: LiveNode | undefined,
  ) {}

  static async create(segment: SegmentJson, registry: NodeRegistry): Promise<SegmentRunner> {
    // Events a node emits while it is created (a checkpoint loaded) go out with the first item.
    const early: (NodeEvent & { node: string })[] = [];
    const holder: { runner?: SegmentRunner } = {};
    const nodes: LiveNode[] = [];
    for (const json of segment.nodes) {
      const definition = registry.get(json.kind, `worker segment ${segment.id}`);
      if (definition.placement !== 'worker' || !definition.worker) {
        throw new NodeRunError(json.name, json.kind, undefined, new Error('is not a worker node'), segment.id);
      }
      const compiled: CompiledNode = { json, definition, inputs: json.inputs, seed: json.seed };
      const emit = (event: NodeEvent) => (holder.runner?.events ?? early).push({ ...event, node: json.name });
      try {
        const impl = await definition.worker.create(json.params, { node: json.name, kind: json.kind, seed: json.seed, emit });
        nodes.push({ compiled, impl });
      } catch (error) {
        throw new NodeRunError(json.name, json.kind, undefined, error, segment.id);
      }
    }
    const optimizers = nodes.filter((n) => n.impl.minimize);
    if (optimizers.length > 1) {
      throw new Error(`worker segment ${segment.id}: more than one optimiser node (${optimizers.map((n) => n.compiled.json.name).join(', ')}); use one per segment`);
    }
    const optimizer = optimizers[0];
    if (optimizer && !('loss' in optimizer.compiled.inputs)) {
      throw new NodeRunError(optimizer.compiled.json.name, optimizer.compiled.json.kind, undefined, new Error(`an optimiser node needs its 'loss' input connected`), segment.id);
    }
    holder.runner = new SegmentRunner(segment, nodes, optimizer);
    holder.runner.events = early;
    return holder.runner;
  }

  run(meta: ItemMeta, inputs: Readonly<Record<PortKey, unknown>>): SegmentRunReply {
    // Training means an optimiser steps on this item: an evaluation that reads a 'train' split
    // (a folder whose only split is train/) runs without dropout or noisy gates.
    const step: StepInfo = { meta, training: meta.split === 'train' && this.optimizer !== undefined, emit: () => undefined };
    if (this.optimizer && step.training && !this.prepared) {
      // Nodes may set up on their first item (an adapter is injected into the model it receives);
      // one forward pass first lets the optimiser see every variable on its very first step.
      const before = this.nodes.filter((n) => !this.dependentsOf(this.optimizer!).includes(n));
      scoped(() => this.forward(before, this.toTensors(inputs, meta), { ...step, dryRun: true }));
      this.events = this.events.filter((e) => e.type !== 'metric');
    }
    this.prepared = true;
    const outputs = this.optimizer && step.training ? this.trainStep(step, inputs) : this.evalStep(step, inputs);
    activeMarker()?.node(undefined, undefined);
    const events = this.events;
    this.events = [];
    return { outputs, events, tensors: tf.memory().numTensors };
  }

  private evalStep(step: StepInfo, inputs: Readonly<Record<PortKey, unknown>>): Record<PortKey, unknown> {
    return scoped(() => {
      const values = this.toTensors(inputs, step.meta);
      this.forward(this.nodes, values, step);
      return this.readOutputs(values, step.meta);
    });
  }

  private trainStep(step: StepInfo, inputs: Readonly<Record<PortKey, unknown>>): Record<PortKey, unknown> {
    const optimizer = this.optimizer!;
    const after = this.dependentsOf(optimizer);
    const before = this.nodes.filter((n) => !after.includes(n));
    const variables = new Map(this.nodes.flatMap((n) => (n.impl.variables?.() ?? []).map((v, i) => [`${n.compiled.json.name}/${i}`, v] as const)));
    let saved: Map<PortKey, unknown> | undefined;
    const lossKey = optimizer.compiled.inputs.loss!;
    try {
      this.call(optimizer, step.meta, () =>
        optimizer.impl.minimize!(
          () => {
            const values = this.toTensors(inputs, step.meta);
            this.forward(before, values, step);
            // What follows (backward, update) is the optimiser's work.
            activeMarker()?.node(Number(this.segment.id), this.nodes.indexOf(optimizer));
            saved = new Map([...values].map(([k, v]) => [k, v instanceof tf.Tensor ? tf.keep(v) : v]));
            const loss = values.get(lossKey);
            if (!(loss instanceof tf.Tensor) || loss.rank !== 0) {
              throw new Error(`input 'loss' ('${lossKey}') must be a scalar tensor, got ${describe(loss)}`);
            }
            // The optimiser owns (and disposes) what it gets; the saved copy stays for `after`.
            return tf.clone(loss);
          },
          variables,
          { ...step, emit: (e) => this.events.push({ ...e, node: optimizer.compiled.json.name }) },
        ),
      );
      return scoped(() => {
        const values = new Map(saved);
        this.forward(after, values, step);
        return this.readOutputs(values, step.meta);
      });
    } finally {
      for (const v of saved?.values() ?? []) if (v instanceof tf.Tensor) v.dispose();
    }
  }

  private forward(nodes: readonly LiveNode[], values: Map<PortKey, unknown>, step: StepInfo): void {
    const marker = activeMarker();
    for (const node of nodes) {
      marker?.node(Number(this.segment.id), this.nodes.indexOf(node));
      const inputs: Record<string, unknown> = {};
      for (const [port, key] of Object.entries(node.compiled.inputs)) inputs[port] = values.get(key);
      const name = node.compiled.json.name;
      const nodeStep: StepInfo = { ...step, emit: (e) => this.events.push({ ...e, node: name }) };
      const outputs = this.call(node, step.meta, () => node.impl.forward(inputs, nodeStep));
      for (const port of Object.keys(node.compiled.definition.outputs)) {
        if (!(port in outputs)) {
          throw new NodeRunError(name, node.compiled.json.kind, step.meta.index, new Error(`did not produce its output '${port}'`), this.segment.id);
        }
        values.set(`${name}.${port}`, outputs[port]);
      }
    }
  }

  private call<T>(node: LiveNode, meta: ItemMeta | undefined, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof NodeRunError) throw error;
      throw new NodeRunError(node.compiled.json.name, node.compiled.json.kind, meta?.index, error, this.segment.id);
    }
  }

  /** The node and every node in this segment that depends on it, in segment order. */
  private dependentsOf(root: LiveNode): LiveNode[] {
    const names = new Set([root.compiled.json.name]);
    for (const node of this.nodes) {
      if (Object.values(node.compiled.inputs).some((key) => names.has(parseRef(key)!.node))) names.add(node.compiled.json.name);
    }
    return this.nodes.filter((n) => names.has(n.compiled.json.name));
  }

  private toTensors(inputs: Readonly<Record<PortKey, unknown>>, meta: ItemMeta): Map<PortKey, unknown> {
    const values = new Map<PortKey, unknown>();
    for (const port of this.segment.inputs) {
      const value = inputs[port.key];
      if (port.transport !== 'tensor') {
        values.set(port.key, value);
        continue;
      }
      if (!isTensorData(value)) {
        const consumer = this.nodes.find((n) => Object.values(n.compiled.inputs).includes(port.key))!;
        throw new NodeRunError(consumer.compiled.json.name, consumer.compiled.json.kind, meta.index,
          new Error(`input '${port.key}' (${port.type}) must arrive as TensorData {dtype, shape, data}, got ${describe(value)}`), this.segment.id);
      }
      values.set(port.key, tf.tensor(value.data, [...value.shape], value.dtype));
    }
    return values;
  }

  private readOutputs(values: Map<PortKey, unknown>, meta: ItemMeta): Record<PortKey, unknown> {
    const out: Record<PortKey, unknown> = {};
    for (const port of this.segment.outputs) {
      const value = values.get(port.key);
      if (port.transport === 'tensor') {
        if (!(value instanceof tf.Tensor)) {
          const { node } = parseRef(port.key)!;
          const kind = this.nodes.find((n) => n.compiled.json.name === node)?.compiled.json.kind ?? '?';
          throw new NodeRunError(node, kind, meta.index, new Error(`output '${port.key}' (${port.type}) must be a tensor, got ${describe(value)}`), this.segment.id);
        }
        out[port.key] = toTensorData(value);
      } else {
        out[port.key] = value instanceof tf.Tensor ? value.arraySync() : value;
      }
    }
    return out;
  }

  /**
   * Every node with state writes it into `dir` (between two items). A node that declares no
   * state but owns variables gets them saved as they are (`<node>.safetensors`, by position).
   */
  save(dir: string): void {
    for (const node of this.nodes) {
      const name = node.compiled.json.name;
      if (node.impl.state) this.call(node, undefined, () => node.impl.state!.save(dir));
      else if (node.impl.variables?.().length) {
        const variables = node.impl.variables() as tf.Variable[];
        this.call(node, undefined, () => writeNodeState(dir, name, new Map(variables.map((v, i) => [`${i}`, v])), { variables: variables.length }));
      }
    }
  }

  /** Every node with state reads it back from `dir`, before the segment's first item. */
  async restore(dir: string): Promise<void> {
    for (const node of this.nodes) {
      const name = node.compiled.json.name;
      try {
        if (node.impl.state) await node.impl.state.restore(dir);
        else if (node.impl.variables?.().length) {
          const variables = node.impl.variables() as tf.Variable[];
          const saved = await readNodeState<{ variables: number }>(dir, name);
          if (saved.json.variables !== variables.length) throw new Error(`${dir}: saved ${saved.json.variables} variables, but the node has ${variables.length}`);
          variables.forEach((v, i) => {
            const t = saved.tensors.get(`${i}`)!;
            if (t.shape.join() !== v.shape.join()) throw new Error(`${dir}: variable ${i} was saved as [${t.shape.join(', ')}], the node's is [${v.shape.join(', ')}]`);
            tf.tidy(() => v.assign(tf.tensor(t.data, [...t.shape])));
          });
        }
      } catch (error) {
        throw new NodeRunError(name, node.compiled.json.kind, undefined, error, this.segment.id);
      }
    }
  }

  dispose(): void {
    for (const node of this.nodes) node.impl.dispose?.();
  }
}

/** Copies a tensor out (a backend may share its buffer between tensors, so never hand it over). */
export function toTensorData(tensor: tf.Tensor): TensorData {
  const dtype = tensor.dtype === 'int32' ? 'int32' : tensor.dtype === 'bool' ? 'bool' : 'float32';
  const raw = tensor.dataSync();
  const data = dtype === 'int32' ? Int32Array.from(raw) : dtype === 'bool' ? Uint8Array.from(raw) : Float32Array.from(raw);
  return { dtype, shape: tensor.shape, data };
}

function describe(value: unknown): string {
  if (value instanceof tf.Tensor) return `a ${value.dtype} tensor of shape [${value.shape.join(', ')}]`;
  if (value === undefined) return 'nothing';
  return messageOf(typeof value === 'object' ? (value?.constructor?.name ?? 'an object') : typeof value);
}

/** Like tf.tidy for a function that returns no tensors: every tensor made inside is freed. */
function scoped<T>(fn: () => T): T {
  tf.engine().startScope();
  try {
    return fn();
  } finally {
    tf.engine().endScope();
  }
}
