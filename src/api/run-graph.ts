/** Runs a graph with the tensor worker on the best backend (or `backend`: auto, tfjs-node-gpu, tfjs-node, native, wasm, cpu). */
import type { Observable } from 'rxjs';
import { compile } from '../graph/compile.ts';
import type { RunEvent } from '../graph/events.ts';
import type { Graph } from '../graph/graph.ts';
import { run } from '../graph/run.ts';
import { TensorWorker } from '../../workers/host.ts';

export function runGraph(graph: Graph, options: { backend?: string } = {}): Observable<RunEvent> {
  return run(compile(graph), { executor: () => TensorWorker.start(options.backend !== undefined ? { backend: options.backend } : {}) });
}
