/**
 * samflow's public API (`import { train, evaluate, predict } from 'samflow'`): the same
 * functions the CLI calls, returning the same events it prints.
 */
import './nodes/index.ts';

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
export { evaluate, predict, type EvaluateRequest, type PredictRequest, type InferenceRun } from './api/inference.ts';
export { runGraph } from './api/run-graph.ts';
