/**
 * A small pool of worker threads that score binary-segmentation images, so heavy per-image
 * metrics (distance transforms, 256-threshold E-measure at 1024²) never block the main thread's
 * event loop. Images cross as transferables; a thread runs one image at a time, and images
 * queue in order behind busy threads.
 *
 * Threads are unref'd while idle (an idle pool never keeps the process alive) and ref'd while
 * they hold work. A thread that dies rejects its image and every queued one with the reason,
 * and the pool refuses further work.
 *
 * ```ts
 * const pool = MetricPool.shared();
 * const scores = await pool.score({ width, height, pred, gt }, ['sm', 'em', 'wfm']);
 * // A 64x64 probability map scored against its 622x529 ground truth, resized in the pool thread:
 * await pool.score({ width: 622, height: 529, pred: probs64, gt }, ['iou'], { predSize: { width: 64, height: 64 } });
 * ```
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { checkBinaryImage, type BinaryImage, type PixelArray } from './binary-image.ts';
import type { BinaryMetricName, BinaryScores } from './binary-metrics.ts';

export interface PoolRequest {
  readonly id: number;
  /** With `predSize`, `image.pred` is a float32 map of that size, resized bilinearly to the ground truth's size before scoring. */
  readonly image: BinaryImage;
  readonly names: readonly BinaryMetricName[];
  readonly predSize?: { readonly width: number; readonly height: number };
}

export interface ScoreOptions {
  /** Move the image's buffers to the pool thread instead of copying them (see `score`). */
  readonly transfer?: boolean;
  /**
   * The prediction's own size when it differs from the ground truth's (`image.width` x
   * `image.height`): it is resized to the ground truth's size (resizeBilinear, PyTorch's
   * bilinear, align_corners=False) in the pool thread, before scoring. Needs float32 `pred`.
   */
  readonly predSize?: { readonly width: number; readonly height: number };
}

/** Throws unless `pred` holds a predSize map and `gt` a width x height one. */
function checkResizedImage(image: BinaryImage, predSize: { width: number; height: number }): void {
  const { width, height } = predSize;
  const positive = (w: number, h: number) => Number.isInteger(w) && Number.isInteger(h) && w >= 1 && h >= 1;
  if (!positive(width, height)) throw new Error(`image: predSize must be positive integers, got ${width}x${height}`);
  if (!positive(image.width, image.height)) throw new Error(`image: width and height must be positive integers, got ${image.width}x${image.height}`);
  if (!(image.pred instanceof Float32Array)) throw new Error('image: a prediction to resize must be a Float32Array');
  if (image.gt.length !== image.width * image.height) {
    throw new Error(`image: ground truth holds ${image.gt.length} values; a ${image.width}x${image.height} image needs ${image.width * image.height}`);
  }
  if (image.pred.length !== width * height) {
    throw new Error(`image: prediction holds ${image.pred.length} values; its predSize ${width}x${height} needs ${width * height}`);
  }
}

export type PoolReply = { readonly id: number; readonly ok: true; readonly scores: BinaryScores } | { readonly id: number; readonly ok: false; readonly error: string };

interface Job {
  readonly request: PoolRequest;
  readonly transfer: ArrayBuffer[];
  resolve(scores: BinaryScores): void;
  reject(error: Error): void;
}

interface Thread {
  readonly worker: Worker;
  job?: Job;
}

/** Threads in the shared pool: $SAMFLOW_METRIC_THREADS, else the core count (at most 4). */
export function defaultPoolSize(): number {
  const env = process.env.SAMFLOW_METRIC_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`SAMFLOW_METRIC_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return Math.max(1, Math.min(4, availableParallelism()));
}

let shared: MetricPool | undefined;

export class MetricPool {
  private readonly threads: Thread[] = [];
  private readonly queue: Job[] = [];
  private nextId = 0;
  private failure: Error | undefined;
  private closed = false;

  constructor(readonly size: number = defaultPoolSize()) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`MetricPool: size must be a positive integer, got ${size}`);
  }

  /** The process-wide pool, started on first use. */
  static shared(): MetricPool {
    if (!shared || shared.closed) shared = new MetricPool();
    return shared;
  }

  /** Threads started so far (they start on demand, up to `size`). */
  get started(): number {
    return this.threads.length;
  }

  /**
   * Scores one image off the main thread. The image's arrays are copied before they cross,
   * unless `transfer` is set and each array spans its whole buffer: then the buffers move to
   * the pool thread and are detached here.
   */
  score(image: BinaryImage, names: readonly BinaryMetricName[], options: ScoreOptions = {}): Promise<BinaryScores> {
    if (this.closed) return Promise.reject(new Error('MetricPool: the pool was closed'));
    if (this.failure) return Promise.reject(this.failure);
    const predSize = options.predSize && { width: options.predSize.width, height: options.predSize.height };
    try {
      if (predSize) checkResizedImage(image, predSize);
      else checkBinaryImage(image);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const owns = (a: PixelArray) => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
    const own =
      options.transfer && owns(image.pred) && owns(image.gt)
        ? image
        : { width: image.width, height: image.height, pred: image.pred.slice(), gt: image.gt.slice() };
    const transfer = [...new Set([own.pred.buffer as ArrayBuffer, own.gt.buffer as ArrayBuffer])];
    return new Promise<BinaryScores>((resolve, reject) => {
      this.queue.push({ request: { id: this.nextId++, image: own, names, ...(predSize ? { predSize } : {}) }, transfer, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every thread; queued and running images are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('MetricPool: the pool was closed'));
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let thread = this.threads.find((t) => !t.job);
      if (!thread && this.threads.length < this.size) thread = this.spawn();
      if (!thread) return;
      const job = this.queue.shift()!;
      thread.job = job;
      thread.worker.ref();
      thread.worker.postMessage(job.request, job.transfer);
    }
  }

  private spawn(): Thread {
    const worker = new Worker(new URL('./pool-bootstrap.js', import.meta.url));
    const thread: Thread = { worker };
    worker.on('message', (reply: PoolReply) => {
      const job = thread.job;
      if (!job || job.request.id !== reply.id) return;
      thread.job = undefined;
      worker.unref();
      if (reply.ok) job.resolve(reply.scores);
      else job.reject(new Error(reply.error));
      this.dispatch();
    });
    const die = (reason: string) => {
      if (this.closed) return;
      this.failure = new Error(`MetricPool: a metric thread ${reason}`);
      this.failAll(this.failure);
    };
    worker.on('error', (error) => die(`threw: ${error.message}`));
    worker.on('exit', (code) => die(`exited unexpectedly (code ${code})`));
    this.threads.push(thread);
    return thread;
  }

  private failAll(error: Error): void {
    for (const thread of this.threads) {
      thread.job?.reject(error);
      thread.job = undefined;
      thread.worker.unref();
    }
    for (const job of this.queue.splice(0)) job.reject(error);
  }
}
