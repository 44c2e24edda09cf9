/**
 * The watchdog: a step whose worker makes no progress (no node or kernel starting or ending)
 * for the limit ends the run with one failed event naming the node, the item and where it was
 * stuck, and the worker is let go. Kernels are marked on the native backend, so a stall there
 * names the kernel (checked on the marker itself: a kernel cannot be made to hang from a test).
 */
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/graph/compile.ts';
import { GraphBuilder } from '../../src/graph/graph.ts';
import { run } from '../../src/graph/run.ts';
import { TensorWorker, watchdogSeconds } from '../../workers/host.ts';
import { kernelNames, markedKernel, ProgressMarker, useMarker } from '../../workers/progress-marker.ts';
import { Collect, Counter, FIXTURE_MODULE, Affine, Stall } from '../fixtures/nodes.ts';

function stallGraph(at: number, ms: number) {
  const g = new GraphBuilder({ name: 'stalls', modules: [FIXTURE_MODULE] });
  const src = g.add('src', Counter, { params: { count: 6 } });
  const stall = g.add('stall', Stall, { params: { at, ms }, inputs: { vector: src.out.vector } });
  const affine = g.add('affine', Affine, { inputs: { vector: stall.out.vector } });
  g.add('collect', Collect, { inputs: { value: affine.out.sum } });
  return compile(g.build());
}

describe('watchdog', () => {
  it('ends a run whose step stalls, naming the node and item, and lets the stuck worker go', async () => {
    const events = await lastValueFrom(run(stallGraph(3, 60_000), { executor: () => TensorWorker.start({ backend: 'native', watchdogSeconds: 0.5 }) }).pipe(toArray()));
    expect(events.filter((e) => e.type === 'progress')).toHaveLength(3);
    expect(events.at(-1)).toMatchObject({
      type: 'failed',
      node: 'stall',
      kind: 'test/stall',
      itemIndex: 3,
      error: "node 'stall' (kind test/stall) (worker segment 1) failed on item 3: no progress for 0.5 s in no kernel (in JavaScript) on val item 3 (epoch 1); the tensor worker was stopped (SAMFLOW_WATCHDOG_S sets the limit, 0 turns it off)",
    });
  });

  it('leaves a slow step that keeps making progress alone', async () => {
    // Each node start is progress: a 300 ms node under a 1 s limit is fine.
    const events = await lastValueFrom(run(stallGraph(2, 300), { executor: () => TensorWorker.start({ backend: 'native', watchdogSeconds: 1 }) }).pipe(toArray()));
    expect(events.at(-1)).toMatchObject({ type: 'finished', items: 6 });
  });

  it('names the kernel a marked kernel is in, and restores the outer one after a nested call', () => {
    const marker = new ProgressMarker();
    useMarker(marker);
    const seen: (number | undefined)[] = [];
    const inner = markedKernel('TestInner', () => seen.push(marker.read().kernel));
    const outer = markedKernel('TestOuter', () => {
      seen.push(marker.read().kernel);
      inner();
      seen.push(marker.read().kernel);
    });
    const before = marker.read().beats;
    outer();
    const names = kernelNames();
    expect(seen.map((id) => names[id!])).toEqual(['TestOuter', 'TestInner', 'TestOuter']);
    expect(marker.read()).toMatchObject({ kernel: undefined, beats: before + 4 });
  });

  it('takes its limit from the option, else SAMFLOW_WATCHDOG_S, else 600 s, and refuses nonsense', () => {
    expect(watchdogSeconds(undefined, {})).toBe(600);
    expect(watchdogSeconds(undefined, { SAMFLOW_WATCHDOG_S: '0' })).toBe(0);
    expect(watchdogSeconds(30, { SAMFLOW_WATCHDOG_S: '0' })).toBe(30);
    expect(() => watchdogSeconds(undefined, { SAMFLOW_WATCHDOG_S: 'soon' })).toThrow("SAMFLOW_WATCHDOG_S: expected seconds >= 0 (0: off), got 'soon'");
  });
});
