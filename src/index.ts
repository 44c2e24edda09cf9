/**
 * samflow's public API (`import { train, evaluate, predict } from 'samflow'`): the same
 * functions the CLI calls, returning the same events it prints.
 */
import './nodes/index.ts';
import type { Observable } from 'rxjs';
import { compile } from './graph/compile.ts';
import type { RunEvent } from './graph/events.ts';
import type { Graph } from './graph/graph.ts';
import { run } from './graph/run.ts';
import { TensorWorker } from '../workers/host.ts';

export { z } from 'zod';
export { defineNode, optional } from './graph/node.ts';
export { portType, tensorData, type TensorData } from './graph/port.ts';
export { Graph, GraphBuilder, type GraphJson } from './graph/graph.ts';
export { compile } from './graph/compile.ts';
export { run, type Boundary, type RunOptions } from './graph/run.ts';
export type { RunEvent, RunPosition } from './graph/events.ts';
export { defaultRegistry } from './graph/registry.ts';
export { TensorWorker } from '../workers/host.ts';
export * as ports from './nodes/ports.ts';
export * as nodes from './nodes/index.ts';
export { definePipeline, type EvaluateTarget, type PipelineEntry, type PredictTarget } from './api/pipeline.ts';
export { train, resume, type TrainRequest, type ResumeRequest, type TrainingRun } from './api/training.ts';
export { TrainControl } from './nodes/train/model-selection.ts';
export { RunFolder } from './api/run-folder.ts';
export { convLoraBinary, SMALL_SAM } from '../pipelines/conv-lora-binary.ts';
export { toySegmentation } from '../pipelines/toy-segmentation.ts';

/** Runs a graph with the tensor worker on the best backend (or `backend`: auto, tfjs-node-gpu, tfjs-node, native, wasm, cpu). */
export function runGraph(graph: Graph, options: { backend?: string } = {}): Observable<RunEvent> {
  return run(compile(graph), { executor: () => TensorWorker.start(options.backend !== undefined ? { backend: options.backend } : {}) });
}
export { evaluate, predict, type EvaluateRequest, type PredictRequest, type InferenceRun } from './api/inference.ts';
