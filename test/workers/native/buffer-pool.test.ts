/** The output pool's bookkeeping, without any kernel: views, reads and the size cap. */
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../../workers/native/buffer-pool.ts';
import { checkThreadsSetting, poolBytes } from '../../../workers/native/native-backend.ts';

describe('BufferPool', () => {
  it('hands a buffer back out only after every tensor holding it or a view of it is released', () => {
    const pool = new BufferPool(1 << 20);
    const a = pool.take(16);
    pool.retain(a); // the output tensor
    const view = a.subarray(4, 8);
    pool.retain(view); // a Slice tensor sharing the buffer
    pool.release(a);
    expect(pool.take(16)).not.toBe(a);
    pool.release(view);
    expect(pool.pooledBytes).toBe(64);
    const again = pool.take(16);
    expect(again.buffer).toBe(a.buffer);
    expect(pool.pooledBytes).toBe(0);
  });

  it('never reuses a buffer that was read out, and keeps no more than its cap', () => {
    const pool = new BufferPool(100);
    const read = pool.take(16);
    pool.retain(read);
    pool.escape(read);
    pool.release(read);
    expect(pool.pooledBytes).toBe(0);
    const big = pool.take(32); // 128 bytes: over the cap, so dropped when released
    pool.retain(big);
    pool.release(big);
    expect(pool.pooledBytes).toBe(0);
    const small = [pool.take(8), pool.take(8), pool.take(8), pool.take(8)];
    for (const a of small) {
      pool.retain(a);
      pool.release(a);
    }
    expect(pool.pooledBytes).toBe(96); // the fourth 32-byte array pushed the oldest out
  });

  it('keeps arrays of other sizes when a request misses, and lets the oldest go past its cap', () => {
    const pool = new BufferPool(96);
    const made = [8, 8, 16].map((n) => pool.take(n));
    for (const a of made.slice(0, 2)) {
      pool.retain(a);
      pool.release(a);
    }
    expect(pool.pooledBytes).toBe(64);
    pool.take(12); // a miss: nothing is let go
    expect(pool.pooledBytes).toBe(64);
    pool.retain(made[2]);
    pool.release(made[2]); // 64 more bytes: over the cap of 96, so the oldest 32-byte array goes
    expect(pool.pooledBytes).toBe(96);
    expect(pool.take(16).buffer).toBe(made[2]!.buffer);
    expect(pool.take(8).buffer).toBe(made[1]!.buffer);
  });

  it('hands a sparse writer arrays zero outside its spans, clearing a recycled one only where needed', () => {
    const pool = new BufferPool(1 << 20);
    const handBack = (a: Float32Array) => {
      pool.retain(a);
      pool.release(a);
    };
    const zeroOutside = (a: Float32Array, starts: number[], span: number) => a.every((v, i) => v === 0 || starts.some((s) => i >= s && i < s + span));
    const sparse = pool.takeSparse(12, [0, 8], 2);
    const stale = pool.take(12);
    expect(Array.from(sparse)).toEqual(new Array(12).fill(0));
    sparse.set([1, 2], 0);
    sparse.set([3, 4], 8);
    stale.fill(7); // a kernel's output: every element written
    handBack(sparse);
    handBack(stale);
    // Both are free; the one whose spans are known is preferred, and cleared where they were and are not now.
    const again = pool.takeSparse(12, [4, 8], 2);
    expect(again.buffer).toBe(sparse.buffer);
    expect(Array.from(again)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 3, 4, 0, 0]); // 8-9 stale: the caller writes them
    again.set([5, 6], 4);
    again.set([1, 1], 8);
    // The stale one, when no other is free, is cleared everywhere outside the new spans.
    const cleared = pool.takeSparse(12, [6, 2], 2);
    expect(cleared.buffer).toBe(stale.buffer);
    expect(Array.from(cleared)).toEqual([0, 0, 7, 7, 0, 0, 7, 7, 0, 0, 0, 0]);
    handBack(cleared);
    handBack(again);
    // Taken by a kernel, its spans are no longer known: a later sparse taker clears it all outside its own.
    const overwritten = pool.take(12);
    expect(overwritten.buffer).toBe(again.buffer);
    overwritten.fill(9);
    handBack(overwritten);
    const first = pool.takeSparse(12, [10], 2);
    const second = pool.takeSparse(12, [10], 2);
    expect(new Set([first.buffer, second.buffer])).toEqual(new Set([stale.buffer, again.buffer]));
    expect(zeroOutside(first, [10], 2) && zeroOutside(second, [10], 2)).toBe(true);
    // Spans of another length: the old ones are cleared whole.
    first.set([8, 8], 10);
    handBack(first);
    expect(Array.from(pool.takeSparse(12, [10], 1))).toEqual(new Array(12).fill(0));
    expect(pool.pooledBytes).toBe(0);
    expect(Array.from(pool.takeSparse(12, [0], 12))).toEqual(new Array(12).fill(0)); // fresh
  });

  it('ignores arrays it did not make', () => {
    const pool = new BufferPool(1 << 20);
    const foreign = new Float32Array(16);
    pool.retain(foreign);
    pool.release(foreign);
    expect(pool.pooledBytes).toBe(0);
    expect(pool.take(16)).not.toBe(foreign);
  });

  it('sizes itself from SAMFLOW_POOL_BYTES or the machine, and refuses a setting that is not a size', () => {
    expect(poolBytes({ SAMFLOW_POOL_BYTES: '0' })).toBe(0);
    expect(poolBytes({ SAMFLOW_POOL_BYTES: '1048576' })).toBe(1048576);
    const auto = poolBytes({});
    expect(auto).toBeGreaterThan(0);
    expect(auto).toBeLessThanOrEqual(8 * 2 ** 30);
    expect(() => poolBytes({ SAMFLOW_POOL_BYTES: 'lots' })).toThrow("SAMFLOW_POOL_BYTES: expected a number of bytes >= 0, got 'lots'");
    expect(() => checkThreadsSetting({ SAMFLOW_THREADS: '2.5' })).toThrow("SAMFLOW_THREADS: expected a positive whole number of threads, got '2.5'");
    expect(() => checkThreadsSetting({ SAMFLOW_THREADS: '3' })).not.toThrow();
  });

  it('makes a named native backend fail loudly on a bad setting', async () => {
    const { selectBackend } = await import('../../../workers/backend.ts');
    process.env.SAMFLOW_POOL_BYTES = '-1';
    try {
      await expect(selectBackend('native')).rejects.toThrow("backend 'native' could not be loaded (native: SAMFLOW_POOL_BYTES: expected a number of bytes >= 0, got '-1')");
    } finally {
      delete process.env.SAMFLOW_POOL_BYTES;
    }
  });
});
