import { describe, expect, it } from 'vitest';
import { filter, lastValueFrom, tap, toArray } from 'rxjs';
import { compile } from '../../src/graph/compile.ts';
import type { RunEvent } from '../../src/graph/events.ts';
import { GraphBuilder } from '../../src/graph/graph.ts';
import { run } from '../../src/graph/run.ts';
import { Adam } from '../../src/nodes/train/adam.ts';
import { TensorWorker } from '../../workers/host.ts';
import { Affine, Collect, Counter, Distance, FIXTURE_MODULE, collected } from '../fixtures/nodes.ts';

function affineGraph(count: number, params: { scale?: number; throwAt?: number } = {}) {
  const g = new GraphBuilder({ name: 'affine', modules: [FIXTURE_MODULE] });
  const src = g.add('src', Counter, { params: { count } });
  const affine = g.add('affine', Affine, { params, inputs: { vector: src.out.vector } });
  g.add('collect', Collect, { inputs: { value: affine.out.sum } });
  return g.build();
}

const runAll = (graph: ReturnType<typeof affineGraph>, backend?: string) =>
  lastValueFrom(run(compile(graph), { executor: () => TensorWorker.start(backend ? { backend } : {}) }).pipe(toArray()));

describe('tensor worker', () => {
  it('reports which backends load, which GEMM the native kernels use, and why tfjs-node does not load', async () => {
    const report = await TensorWorker.probe();
    const byName = Object.fromEntries(report.attempts.map((a) => [a.name, a]));
    // npm ci builds the addon, so the native kernels are active everywhere; OpenBLAS is demanded
    // only where .ci/run installed it (it sets SAMFLOW_CI_OPENBLAS=1), else the kernel's own GEMM runs.
    expect(byName.native!.ok, byName.native!.detail).toBe(true);
    expect(byName.native!.detail).toMatch(
      process.env.SAMFLOW_CI_OPENBLAS === '1'
        ? /^cpu backend \+ native kernels, GEMM: OpenBLAS cblas_sgemm/
        : /^cpu backend \+ native kernels, GEMM: (OpenBLAS cblas_sgemm|blocked fallback SGEMM .*OpenBLAS not found)/,
    );
    expect(byName.wasm!.ok).toBe(true);
    expect(byName.cpu!.ok).toBe(true);
    if (!byName['tfjs-node-gpu']!.ok) expect(byName['tfjs-node-gpu']!.detail).toMatch(/@tensorflow\/tfjs-node-gpu (is not installed|is installed but failed)/);
    expect(report.selected).toBe(report.attempts.find((a) => a.ok)!.name);
  });

  it('refuses an unknown backend name, naming where it came from', async () => {
    await expect(TensorWorker.start({ backend: 'tpu' })).rejects.toThrow("--backend: unknown backend 'tpu' (expected one of: auto, tfjs-node-gpu, tfjs-node, native, wasm, cpu)");
  });

  describe.each(['native', 'wasm', 'cpu'])('on the %s backend', (backend) => {
    it('computes per item and returns typed values to the main thread', async () => {
      const all = await runAll(affineGraph(6, { scale: 3 }), backend);
      expect(all[0]).toMatchObject({ type: 'started', backend });
      expect(all.at(-1)).toMatchObject({ type: 'finished', items: 6 });
      // vector [i, i, i, i] * 3 + 0, summed: 12 i
      expect(collected).toEqual([0, 12, 24, 36, 48, 60]);
    });
  });

  it('sends each segment once as JSON, then per item only its inputs, as transferred typed arrays', async () => {
    const worker = await TensorWorker.start();
    const loads: unknown[] = [];
    const runs: { keys: string[]; detachedAfter: boolean[] }[] = [];
    const spy = {
      backend: worker.backend,
      load: async (segment: Parameters<TensorWorker['load']>[0]) => {
        loads.push(JSON.parse(JSON.stringify(segment)));
        return worker.load(segment);
      },
      run: async (id: string, meta: Parameters<TensorWorker['run']>[1], inputs: Parameters<TensorWorker['run']>[2]) => {
        const values = Object.values(inputs) as { data: Float32Array }[];
        const result = await worker.run(id, meta, inputs);
        runs.push({ keys: Object.keys(inputs), detachedAfter: values.map((v) => v.data.buffer.byteLength === 0) });
        return result;
      },
      save: (id: string, dir: string) => worker.save(id, dir),
      restore: (id: string, dir: string) => worker.restore(id, dir),
      close: () => worker.close(),
    };
    const all = await lastValueFrom(run(compile(affineGraph(5)), { executor: async () => spy }).pipe(toArray()));
    expect(all.at(-1)).toMatchObject({ type: 'finished', items: 5 });
    expect(loads).toHaveLength(1);
    expect(loads[0]).toMatchObject({ id: '1', nodes: [{ name: 'affine', kind: 'test/affine' }], inputs: [{ key: 'src.vector', type: 'Vector', transport: 'tensor' }] });
    expect(runs).toEqual(Array.from({ length: 5 }, () => ({ keys: ['src.vector'], detachedAfter: [true] })));
  });

  it('a throwing worker node ends the run with a failed event naming the segment', async () => {
    const all = await runAll(affineGraph(10, { throwAt: 4 }));
    expect(all.at(-1)).toEqual({
      type: 'failed',
      node: 'affine',
      kind: 'test/affine',
      segment: '1',
      itemIndex: 4,
      error: "node 'affine' (kind test/affine) (worker segment 1) failed on item 4: affine refuses item 4",
    });
    // Items before the failing one may still be in flight downstream when the run stops, so what
    // was collected is a prefix of theirs; nothing from item 4 on.
    expect([0, 8, 16, 24].slice(0, collected.length)).toEqual(collected);
  });

  it('a killed worker ends the run with a failed event, not a hang', async () => {
    let worker: TensorWorker | undefined;
    const events = await lastValueFrom(
      run(compile(affineGraph(100_000)), { executor: async () => (worker = await TensorWorker.start()) }).pipe(
        tap((e) => {
          if (e.type === 'progress' && e.items === 3) void worker!.crash(70);
        }),
        toArray(),
      ),
    );
    expect(events.at(-1)).toEqual({ type: 'failed', segment: '1', error: 'worker segment 1: the worker exited unexpectedly (code 70)' });
  });

  it('unsubscribing closes the worker', async () => {
    let worker: TensorWorker | undefined;
    await new Promise<void>((resolve) => {
      const subscription = run(compile(affineGraph(100_000)), { executor: async () => (worker = await TensorWorker.start()) }).subscribe((e) => {
        if (e.type === 'progress' && e.items === 3) {
          subscription.unsubscribe();
          resolve();
        }
      });
    });
    expect(worker!.isClosing).toBe(true);
    await expect(worker!.run('1', { index: 0, split: 'val', epoch: 0, groupEnd: false }, {})).rejects.toThrow('worker segment 1: the worker was closed');
  });

  it('keeps the tensor count flat over 200 training and 200 eval items', async () => {
    const g = new GraphBuilder({ name: 'train', modules: [FIXTURE_MODULE] });
    const src = g.add('src', Counter, { params: { count: 400, groupSize: 200, train: 200 } });
    const affine = g.add('affine', Affine, { params: { scale: 0.01 }, inputs: { vector: src.out.vector } });
    const loss = g.add('loss', Distance, { params: { target: 1 }, inputs: { vector: affine.out.vector } });
    g.add('optimizer', Adam, { params: { lr: 0.05 }, inputs: { loss: loss.out.loss } });
    g.add('collect', Collect, { inputs: { value: affine.out.sum } });
    const all = await lastValueFrom(run(compile(g.build()), { executor: () => TensorWorker.start() }).pipe(toArray()));
    expect(all.at(-1)).toMatchObject({ type: 'finished', items: 400 });
    const counts = all.flatMap((e) => (e.type === 'progress' ? [e.tensors!] : []));
    expect(counts).toHaveLength(400);
    // After the first step (Adam creates its moment variables) the count never moves.
    expect(new Set(counts.slice(1))).toEqual(new Set([counts[1]]));
    const losses = all.flatMap((e) => (e.type === 'metric' && e.name === 'loss' ? [e.value] : []));
    expect(losses).toHaveLength(400);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // Item 0 has y = 0 against a target of 1; the trained bias brings the loss down.
    expect(losses[0]).toBeCloseTo(1, 6);
    expect(mean(losses.slice(180, 200))).toBeLessThan(0.05 * mean(losses.slice(0, 20)));
    // Eval items do not train: y = 0.01 i + b with b frozen, so the sums step by exactly 4 * 0.01.
    const steps = collected.slice(201).map((v, i) => v - collected[200 + i]!);
    for (const step of steps) expect(step).toBeCloseTo(0.04, 4);
  });
});
