/**
 * One thread of the metric pool (see pool.ts): scores images on request, replying with the
 * scores or with the error's message.
 */
import { parentPort } from 'node:worker_threads';
import type { PoolReply, PoolRequest } from './pool.ts';
import { scoreBinaryImage } from './binary-metrics.ts';

if (!parentPort) throw new Error('pool-worker.ts must run in a worker thread (it is started by MetricPool)');
const port = parentPort;

port.on('message', (request: PoolRequest) => {
  let reply: PoolReply;
  try {
    const scores = scoreBinaryImage(request.image, request.names);
    reply = { id: request.id, ok: true, scores };
  } catch (error) {
    reply = { id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
