/**
 * The tensor worker: owns the TensorFlow.js runtime and the live worker segments. Exposed over
 * comlink; the main thread never holds a tensor. Replies carry typed arrays as transferables.
 */
import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { PortKey, SegmentJson } from '../src/graph/compile.ts';
import { NodeRunError, messageOf } from '../src/graph/errors.ts';
import type { ItemMeta } from '../src/graph/events.ts';
import { isTensorData } from '../src/graph/port.ts';
import { defaultRegistry } from '../src/graph/registry.ts';
import { probeBackends, selectBackend, type BackendChoice, type BackendReport } from './backend.ts';
import { kernelNames, ProgressMarker, useMarker } from './progress-marker.ts';
import { SegmentRunner, type SegmentRunReply } from './segment-runner.ts';

export interface FailureReply {
  readonly ok: false;
  readonly error: string;
  readonly node?: string;
  readonly kind?: string;
  readonly itemIndex?: number;
}
export type RunReply = ({ readonly ok: true } & SegmentRunReply) | FailureReply;
export type LoadReply = { readonly ok: true } | FailureReply;

const segments = new Map<string, SegmentRunner>();
const imported = new Set<string>();

async function importModules(modules: readonly string[]): Promise<void> {
  for (const specifier of ['../src/nodes/index.ts', ...modules]) {
    if (imported.has(specifier)) continue;
    await import(specifier);
    imported.add(specifier);
  }
}

function failure(error: unknown): FailureReply {
  if (error instanceof NodeRunError) {
    return {
      ok: false,
      error: messageOf(error.cause),
      node: error.node,
      kind: error.kind,
      ...(error.itemIndex !== undefined ? { itemIndex: error.itemIndex } : {}),
    };
  }
  return { ok: false, error: messageOf(error) };
}

const api = {
  /** Picks the backend; `marker` is the shared memory where this worker says what it is doing. */
  async init(backend: BackendChoice | undefined, marker: SharedArrayBuffer): Promise<BackendReport & { kernels: string[] }> {
    useMarker(new ProgressMarker(marker));
    const report = await selectBackend(backend);
    return { ...report, kernels: kernelNames() };
  },

  async probe(): Promise<BackendReport> {
    return probeBackends();
  },

  async load(segment: SegmentJson): Promise<LoadReply> {
    try {
      await importModules(segment.modules);
      segments.get(segment.id)?.dispose();
      segments.set(segment.id, await SegmentRunner.create(segment, defaultRegistry));
      return { ok: true };
    } catch (error) {
      return failure(error);
    }
  },

  run(segmentId: string, meta: ItemMeta, inputs: Record<PortKey, unknown>): RunReply {
    const segment = segments.get(segmentId);
    if (!segment) return { ok: false, error: `segment ${segmentId} is not loaded` };
    try {
      const reply = segment.run(meta, inputs);
      const buffers = Object.values(reply.outputs)
        .filter(isTensorData)
        .map((t) => t.data.buffer as ArrayBuffer);
      return Comlink.transfer({ ok: true as const, ...reply }, buffers);
    } catch (error) {
      return failure(error);
    }
  },

  save(segmentId: string, dir: string): LoadReply {
    const segment = segments.get(segmentId);
    if (!segment) return { ok: false, error: `segment ${segmentId} is not loaded` };
    try {
      segment.save(dir);
      return { ok: true };
    } catch (error) {
      return failure(error);
    }
  },

  async restore(segmentId: string, dir: string): Promise<LoadReply> {
    const segment = segments.get(segmentId);
    if (!segment) return { ok: false, error: `segment ${segmentId} is not loaded` };
    try {
      await segment.restore(dir);
      return { ok: true };
    } catch (error) {
      return failure(error);
    }
  },

  dispose(segmentId: string): void {
    segments.get(segmentId)?.dispose();
    segments.delete(segmentId);
  },

  /** For tests of the failure path: ends the worker the hard way. */
  crash(code: number): void {
    process.exit(code);
  },
};

export type TensorWorkerApi = typeof api;

Comlink.expose(api, nodeEndpoint(parentPort!));
