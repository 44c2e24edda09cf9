/**
 * One thread of the metric pool (see pool.ts): scores images on request, replying with the
 * scores or with the error's message. A prediction sent at its own size (`predSize`) is first
 * resized to the ground truth's, here rather than on the main thread.
 */
import { parentPort } from 'node:worker_threads';
import type { PoolReply, PoolRequest } from './pool.ts';
import { scoreBinaryImage } from './binary-metrics.ts';
import { resizeBilinear } from './resize-bilinear.ts';

if (!parentPort) throw new Error('pool-worker.ts must run in a worker thread (it is started by MetricPool)');
const port = parentPort;

port.on('message', (request: PoolRequest) => {
  let reply: PoolReply;
  try {
    const { image, predSize } = request;
    const pred = predSize ? resizeBilinear(image.pred as Float32Array, predSize.width, predSize.height, image.width, image.height) : image.pred;
    const scores = scoreBinaryImage({ ...image, pred }, request.names);
    reply = { id: request.id, ok: true, scores };
  } catch (error) {
    reply = { id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
