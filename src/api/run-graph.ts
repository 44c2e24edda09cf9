/** Runs a graph with the tensor worker on the best backend (or `backend`: auto, tfjs-node-gpu, tfjs-node, native, wasm, cpu). */
import { lastValueFrom, tap, toArray, type Observable } from 'rxjs';
import { compile } from '../graph/compile.ts';
import type { RunEvent } from '../graph/events.ts';
import type { Graph } from '../graph/graph.ts';
import { run } from '../graph/run.ts';
import { TensorWorker } from '../../workers/host.ts';

export function runGraph(graph: Graph, options: { backend?: string } = {}): Observable<RunEvent> {
  return run(compile(graph), { executor: () => TensorWorker.start(options.backend !== undefined ? { backend: options.backend } : {}) });
}

/**
 * A run's events to its end, each handed to `onEvent` with the phase it belongs to; a `failed`
 * event becomes an error naming the phase (for jobs made of several runs: pre-training, fine-tuning, evaluations).
 */
export async function collectRun(phase: string, events: Observable<RunEvent>, onEvent?: (phase: string, event: RunEvent) => void): Promise<RunEvent[]> {
  const all = await lastValueFrom(events.pipe(tap((e) => onEvent?.(phase, e)), toArray()));
  const failed = all.find((e) => e.type === 'failed');
  if (failed?.type === 'failed') throw new Error(`${phase}: ${failed.error}`);
  return all;
}
