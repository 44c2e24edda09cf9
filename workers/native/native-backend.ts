/**
 * The cpu backend with pooled output arrays for the native kernels (see buffer-pool.ts): every
 * path by which a tensor gets or loses an array (write, move, dispose, read) is counted.
 */
import os from 'node:os';
import type * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { BufferPool } from './buffer-pool.ts';

type DataId = object;
type Values = Parameters<MathBackendCPU['write']>[0];

/**
 * Freed outputs kept for reuse: a quarter of the machine's memory, at most 8 GiB, or
 * SAMFLOW_POOL_BYTES. A 4096-token global block keeps ~3 GiB of 64 MB attention maps per step.
 */
export function poolBytes(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.SAMFLOW_POOL_BYTES;
  if (value === undefined || value === '') return Math.min(os.totalmem() / 4, 8 * 2 ** 30);
  const bytes = Number(value);
  if (!Number.isFinite(bytes) || bytes < 0) throw new Error(`SAMFLOW_POOL_BYTES: expected a number of bytes >= 0, got '${value}'`);
  return bytes;
}

/** SAMFLOW_THREADS, read by the addon when it starts its threads: a positive integer, if set. */
export function checkThreadsSetting(env: NodeJS.ProcessEnv = process.env): void {
  const value = env.SAMFLOW_THREADS;
  if (value !== undefined && value !== '' && !/^[1-9][0-9]*$/.test(value)) throw new Error(`SAMFLOW_THREADS: expected a positive whole number of threads, got '${value}'`);
}

export class NativeBackend extends MathBackendCPU {
  readonly pool = new BufferPool(poolBytes());

  constructor() {
    super();
    // The cpu backend tells Node users on first use to install tfjs-node "to speed things up";
    // with native kernels that advice is wrong, so skip it.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** An output array for a native kernel (contents stale: the kernel writes all of it). */
  output(n: number): Float32Array {
    return this.pool.take(n);
  }

  override write(values: Values, shape: number[], dtype: tf.DataType): DataId {
    this.pool.retain(values);
    return super.write(values, shape, dtype);
  }

  override move(dataId: DataId, values: Values, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.pool.retain(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const released = super.disposeData(dataId, force);
    if (values !== undefined && !this.data.has(dataId)) this.pool.release(values);
    return released;
  }

  override readSync(dataId: DataId): tf.backend_util.BackendValues {
    if (this.data.has(dataId)) this.pool.escape(this.data.get(dataId).values);
    return super.readSync(dataId);
  }
}
