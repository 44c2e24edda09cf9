/**
 * The main-thread side of the tensor worker: a SegmentExecutor over comlink.
 *
 * A worker that dies (crash, out of memory, killed) rejects every pending and later call with
 * a WorkerFailure naming the segment it was running, so a run fails instead of hanging.
 */
import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { PortKey, SegmentJson } from '../src/graph/compile.ts';
import { NodeRunError, WorkerFailure } from '../src/graph/errors.ts';
import type { ItemMeta } from '../src/graph/events.ts';
import type { SegmentExecutor, SegmentResult } from '../src/graph/executor.ts';
import { isTensorData } from '../src/graph/port.ts';
import { parseBackendChoice, type BackendChoice, type BackendReport } from './backend.ts';
import type { FailureReply, LoadReply, RunReply, TensorWorkerApi } from './tensor-worker.ts';

export interface WorkerOptions {
  /** 'auto' or a name from BACKEND_ORDER; defaults to $SAMFLOW_BACKEND, then auto. */
  readonly backend?: string;
}

export class TensorWorker implements SegmentExecutor {
  private closing = false;
  private current: string | undefined;
  private readonly dead: Promise<never>;

  private constructor(
    private readonly worker: Worker,
    private readonly api: Comlink.Remote<TensorWorkerApi>,
    readonly report: BackendReport,
    dead: Promise<never>,
  ) {
    this.dead = dead;
  }

  get backend(): string {
    return this.report.selected;
  }

  static async start(options: WorkerOptions = {}): Promise<TensorWorker> {
    const choice: BackendChoice | undefined = parseBackendChoice(
      options.backend ?? process.env.SAMFLOW_BACKEND,
      options.backend !== undefined ? '--backend' : 'SAMFLOW_BACKEND',
    );
    const { worker, api, dead, state } = spawn();
    try {
      const report = await Promise.race([api.init(choice), dead]);
      const host = new TensorWorker(worker, api, report, dead);
      state.host = host;
      return host;
    } catch (error) {
      await worker.terminate();
      throw error;
    }
  }

  /** Loads every backend in turn and reports which worked and why the others did not. */
  static async probe(): Promise<BackendReport> {
    const { worker, api, dead } = spawn();
    try {
      return await Promise.race([api.probe(), dead]);
    } finally {
      await worker.terminate();
    }
  }

  /** @internal the segment whose call is in flight, for the failure message. */
  get runningSegment(): string | undefined {
    return this.current;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  async load(segment: SegmentJson): Promise<void> {
    this.current = segment.id;
    check(await this.call<LoadReply>(() => this.api.load(segment)), segment.id);
  }

  async run(segmentId: string, meta: ItemMeta, inputs: Readonly<Record<PortKey, unknown>>): Promise<SegmentResult> {
    this.current = segmentId;
    const buffers = Object.values(inputs)
      .filter(isTensorData)
      .map((t) => t.data.buffer as ArrayBuffer);
    const reply = await this.call<RunReply>(() =>
      this.api.run(segmentId, meta, Comlink.transfer(inputs, [...new Set(buffers)]) as Record<PortKey, unknown>),
    );
    return check(reply, segmentId);
  }

  async save(segmentId: string, dir: string): Promise<void> {
    this.current = segmentId;
    check(await this.call<LoadReply>(() => this.api.save(segmentId, dir)), segmentId);
  }

  async restore(segmentId: string, dir: string): Promise<void> {
    this.current = segmentId;
    check(await this.call<LoadReply>(() => this.api.restore(segmentId, dir)), segmentId);
  }

  /** Test hook: makes the worker exit as if it had crashed. */
  async crash(code = 70): Promise<void> {
    void this.api.crash(code);
    await this.dead.catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.api[Comlink.releaseProxy]();
    await this.worker.terminate();
  }

  private call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new WorkerFailure(this.current, 'the worker was closed'));
    return Promise.race([fn(), this.dead]);
  }
}

function spawn() {
  const worker = new Worker(new URL('./bootstrap.js', import.meta.url));
  const api = Comlink.wrap<TensorWorkerApi>(nodeEndpoint(worker));
  const state: { host?: TensorWorker } = {};
  const dead = new Promise<never>((_, reject) => {
    const segment = () => state.host?.runningSegment;
    worker.once('error', (error) => reject(new WorkerFailure(segment(), `the worker threw: ${error.message}`)));
    worker.once('exit', (code) =>
      reject(new WorkerFailure(segment(), state.host?.isClosing ? 'the worker was closed' : `the worker exited unexpectedly (code ${code})`)),
    );
  });
  dead.catch(() => undefined);
  return { worker, api, dead, state };
}

function check<R extends { readonly ok: true }>(reply: R | FailureReply, segment: string): R {
  if (reply.ok) return reply;
  if (reply.node && reply.kind) throw new NodeRunError(reply.node, reply.kind, reply.itemIndex, new Error(reply.error), segment);
  throw new WorkerFailure(segment, reply.error);
}
