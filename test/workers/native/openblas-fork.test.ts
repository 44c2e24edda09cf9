/**
 * OpenBLAS shuts its thread pool down in a process that forks (its pthread_atfork handler).
 * A fork from the main thread while the tensor worker is inside cblas_sgemm used to leave the
 * worker waiting forever for the pool's threads (native/src/blas.cc says why and how it is
 * fixed). Here the main thread forks every 2 ms while a Conv-LoRA graph trains in the worker:
 * it must finish. Without the fix this hangs on the first run; without OpenBLAS it passes
 * trivially, so CI (which installs OpenBLAS) is where it counts.
 */
import { spawnSync } from 'node:child_process';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/graph/compile.ts';
import { run } from '../../../src/graph/run.ts';
import { convLoraBinary } from '../../../pipelines/conv-lora-binary.ts';
import { TensorWorker } from '../../../workers/host.ts';
import { TINY_SAM } from '../../fixtures/sam-configs.ts';

describe('native GEMM while the process forks', () => {
  it('trains to the end while the main thread spawns children all along', async () => {
    const worker = await TensorWorker.start({ backend: 'native' });
    if (process.env.SAMFLOW_CI_OPENBLAS === '1') expect(worker.report.attempts.find((a) => a.name === 'native')!.detail).toMatch(/GEMM: OpenBLAS cblas_sgemm/);
    let forks = 0;
    const timer = setInterval(() => {
      spawnSync('true');
      forks++;
    }, 2);
    try {
      const events = await lastValueFrom(run(compile(convLoraBinary({ arch: TINY_SAM, train: 12, val: 4, batchSize: 2, epochs: 2 })), { executor: async () => worker }).pipe(toArray()));
      expect(events.at(-1)).toMatchObject({ type: 'finished', items: 2 * 16 });
    } finally {
      clearInterval(timer);
      await worker.close();
    }
    expect(forks).toBeGreaterThan(50);
  }, 60_000);
});
