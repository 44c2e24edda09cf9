/** samflow's public API. */
import './nodes/index.ts';
import type { Observable } from 'rxjs';
import { compile } from './graph/compile.ts';
import type { RunEvent } from './graph/events.ts';
import type { Graph } from './graph/graph.ts';
import { run } from './graph/run.ts';
import { TensorWorker } from '../workers/host.ts';

export { defineNode, optional } from './graph/node.ts';
export { portType, tensorData, type TensorData } from './graph/port.ts';
export { Graph, GraphBuilder, type GraphJson } from './graph/graph.ts';
export { compile } from './graph/compile.ts';
export { run } from './graph/run.ts';
export type { RunEvent } from './graph/events.ts';
export { defaultRegistry } from './graph/registry.ts';
export { TensorWorker } from '../workers/host.ts';
export * as ports from './nodes/ports.ts';

/** Runs a graph with the tensor worker on the best backend (or `backend`: auto, tfjs-node-gpu, tfjs-node, wasm, cpu). */
export function runGraph(graph: Graph, options: { backend?: string } = {}): Observable<RunEvent> {
  return run(compile(graph), { executor: () => TensorWorker.start(options.backend !== undefined ? { backend: options.backend } : {}) });
}
