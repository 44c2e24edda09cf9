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
import { ProgressMarker, type MarkerReading } from './progress-marker.ts';
import type { FailureReply, LoadReply, RunReply, TensorWorkerApi } from './tensor-worker.ts';

export interface WorkerOptions {
  /** 'auto' or a name from BACKEND_ORDER; defaults to $SAMFLOW_BACKEND, then auto. */
  readonly backend?: string;
  /**
   * Seconds a step may go without any progress (no node or kernel starting or ending) before
   * the run ends with an error naming the node and kernel it was in; 0: never. Default
   * $SAMFLOW_WATCHDOG_S, else 600.
   */
  readonly watchdogSeconds?: number;
}

/** The watchdog limit from an option or SAMFLOW_WATCHDOG_S, checked. */
export function watchdogSeconds(option: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  if (option !== undefined) {
    if (!Number.isFinite(option) || option < 0) throw new Error(`watchdog: expected seconds >= 0, got ${option}`);
    return option;
  }
  const value = env.SAMFLOW_WATCHDOG_S;
  if (value === undefined || value === '') return 600;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`SAMFLOW_WATCHDOG_S: expected seconds >= 0 (0: off), got '${value}'`);
  return seconds;
}

/** A step that made no progress for the watchdog's limit. */
export class StallError extends Error {}

export class TensorWorker implements SegmentExecutor {
  private closing = false;
  private current: string | undefined;
  private readonly dead: Promise<never>;
  private readonly segments = new Map<string, SegmentJson>();
  private readonly inFlight: { meta: ItemMeta; reject: (error: Error) => void }[] = [];
  private watchdog: NodeJS.Timeout | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly api: Comlink.Remote<TensorWorkerApi>,
    readonly report: BackendReport,
    dead: Promise<never>,
    private readonly marker: ProgressMarker,
    private readonly kernels: readonly string[],
    private readonly watchdogMs: number,
  ) {
    this.dead = dead;
  }

  get backend(): string {
    return this.report.selected;
  }

  /** Steps of progress the worker has reported (nodes and kernels entered and left), for stress runs. */
  get beats(): number {
    return this.marker.read().beats;
  }

  static async start(options: WorkerOptions = {}): Promise<TensorWorker> {
    const choice: BackendChoice | undefined = parseBackendChoice(
      options.backend ?? process.env.SAMFLOW_BACKEND,
      options.backend !== undefined ? '--backend' : 'SAMFLOW_BACKEND',
    );
    const watchdog = watchdogSeconds(options.watchdogSeconds);
    const { worker, api, dead, state } = spawn();
    const marker = new ProgressMarker();
    try {
      const { kernels, ...report } = await Promise.race([api.init(choice, marker.buffer), dead]);
      const host = new TensorWorker(worker, api, report, dead, marker, kernels, watchdog * 1000);
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
    this.segments.set(segment.id, segment);
    check(await this.call<LoadReply>(() => this.api.load(segment)), segment.id);
  }

  async run(segmentId: string, meta: ItemMeta, inputs: Readonly<Record<PortKey, unknown>>): Promise<SegmentResult> {
    this.current = segmentId;
    const buffers = Object.values(inputs)
      .filter(isTensorData)
      .map((t) => t.data.buffer as ArrayBuffer);
    const reply = await this.call<RunReply>(
      () => this.api.run(segmentId, meta, Comlink.transfer(inputs, [...new Set(buffers)]) as Record<PortKey, unknown>),
      meta,
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

  private async call<T>(fn: () => Promise<T>, item?: ItemMeta): Promise<T> {
    if (this.closing) return Promise.reject(new WorkerFailure(this.current, 'the worker was closed'));
    if (!item || this.watchdogMs <= 0) return Promise.race([fn(), this.dead]);
    let entry!: { meta: ItemMeta; reject: (error: Error) => void };
    const stalled = new Promise<never>((_, reject) => (entry = { meta: item, reject }));
    stalled.catch(() => undefined);
    this.inFlight.push(entry);
    this.watch();
    try {
      return await Promise.race([fn(), this.dead, stalled]);
    } finally {
      this.inFlight.splice(this.inFlight.indexOf(entry), 1);
      if (!this.inFlight.length) this.unwatch();
    }
  }

  /**
   * While items are in flight, checks that the worker's marker moves. When it has not moved
   * for the watchdog's limit, every pending call fails, naming the oldest item (the worker takes
   * them in order, so that is the one it is stuck on). The worker may be stuck in native code,
   * where it can neither answer nor be interrupted: it is let go (unref, terminate not awaited)
   * so the run can still write its report and the process can exit.
   */
  private watch(): void {
    if (this.watchdog) return;
    let last = this.marker.read().beats;
    let since = performance.now();
    this.watchdog = setInterval(() => {
      const now = this.marker.read();
      if (now.beats !== last) {
        last = now.beats;
        since = performance.now();
        return;
      }
      if (performance.now() - since < this.watchdogMs) return;
      const error = this.stallError(now, this.inFlight[0]!.meta);
      for (const pending of this.inFlight) pending.reject(error);
      this.unwatch();
      this.closing = true;
      this.worker.unref();
      void this.worker.terminate().catch(() => undefined);
    }, Math.min(1000, Math.max(10, this.watchdogMs / 4)));
    this.watchdog.unref();
  }

  private unwatch(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private stallError(at: MarkerReading, item: ItemMeta): Error {
    const segment = at.segment !== undefined ? this.segments.get(String(at.segment)) : undefined;
    const node = segment && at.node !== undefined ? segment.nodes[at.node] : undefined;
    const kernel = at.kernel !== undefined ? `kernel ${this.kernels[at.kernel] ?? at.kernel}` : `no kernel (in JavaScript${this.report.active === 'native' ? '' : `, or a ${this.report.active} kernel, which is not tracked`})`;
    const seconds = this.watchdogMs / 1000;
    const stall = new StallError(`no progress for ${seconds} s in ${kernel} on ${item.split} item ${item.index} (epoch ${item.epoch + 1}); the tensor worker was stopped (SAMFLOW_WATCHDOG_S sets the limit, 0 turns it off)`);
    return node ? new NodeRunError(node.name, node.kind, item.index, stall, segment!.id) : new WorkerFailure(this.current, stall.message);
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
