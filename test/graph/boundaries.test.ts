import { describe, expect, it } from 'vitest';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { compile } from '../../src/graph/compile.ts';
import type { RunEvent, RunPosition } from '../../src/graph/events.ts';
import { GraphBuilder, type Graph } from '../../src/graph/graph.ts';
import { run, type Boundary, type RunOptions } from '../../src/graph/run.ts';
import { Counter, Fail, Join, Sink, pulled, seen } from '../fixtures/nodes.ts';

interface Seen {
  readonly reason: Boundary['reason'];
  readonly position: RunPosition;
  readonly epoch: number | undefined;
  readonly stopping: string | undefined;
  /** What the sink had received when the hook ran. */
  readonly sunk: number;
}

/** Runs `graph`, recording every boundary the hook sees. */
async function runWithHook(graph: Graph, options: RunOptions = {}, onEvent?: (e: RunEvent) => void) {
  const boundaries: Seen[] = [];
  const onBoundary = async (b: Boundary) => {
    boundaries.push({ reason: b.reason, position: b.position, epoch: b.epoch, stopping: b.stopping, sunk: seen.length });
  };
  const events = await lastValueFrom(run(compile(graph), { onBoundary, ...options }).pipe(tap((e) => onEvent?.(e)), toArray()));
  return { events, boundaries };
}

/** counter -> (join) -> sink; the sink is slow and several items are in flight at once. */
function chain(name: string, counter: { count: number; groupSize?: number; train?: number }, join?: number): Graph {
  const g = new GraphBuilder({ name });
  const src = g.add('src', Counter, { params: counter });
  const label = join ? g.add('join', Join, { params: { size: join }, inputs: { label: src.out.label } }).out.label : src.out.label;
  g.add('sink', Sink, { params: { ms: 2 }, inputs: { label }, concurrency: 2, prefetch: 2 });
  return g.build();
}

const finishedOf = (events: readonly RunEvent[]) => events.at(-1) as Extract<RunEvent, { type: 'finished' }>;

describe('run boundaries', () => {
  it('calls the hook before the first item of each new epoch and once at the end', async () => {
    const graph = chain('epochs', { count: 9, groupSize: 3 });
    expect(compile(graph).window).toBeGreaterThan(1);
    const { boundaries, events } = await runWithHook(graph);
    expect(boundaries.map(({ reason, position, epoch }) => ({ reason, position, epoch }))).toEqual([
      { reason: 'epoch', position: { items: 3, groupItems: 0 }, epoch: 0 },
      { reason: 'epoch', position: { items: 6, groupItems: 0 }, epoch: 1 },
      { reason: 'end', position: { items: 9, groupItems: 0 }, epoch: 2 },
    ]);
    expect(finishedOf(events)).toMatchObject({ type: 'finished', items: 9 });
    expect(finishedOf(events).stopped).toBeUndefined();
  });

  it('runs the hook with nothing in flight: the sink has seen exactly position.items items', async () => {
    const { boundaries } = await runWithHook(chain('drained', { count: 12, groupSize: 4 }));
    expect(boundaries.map((b) => [b.position.items, b.sunk])).toEqual([
      [4, 4],
      [8, 8],
      [12, 12],
    ]);
  });

  it('puts interval boundaries on whole batches, counted from the start of each group', async () => {
    // boundaryEvery 3 with batches of 2 becomes every 4 items; groups of 6.
    const { boundaries } = await runWithHook(chain('interval', { count: 12, groupSize: 6 }, 2), { boundaryEvery: 3 });
    expect(boundaries.map(({ reason, position, epoch, sunk }) => ({ reason, position, epoch, sunk }))).toEqual([
      { reason: 'interval', position: { items: 4, groupItems: 4 }, epoch: 0, sunk: 2 },
      { reason: 'epoch', position: { items: 6, groupItems: 0 }, epoch: 0, sunk: 3 },
      { reason: 'interval', position: { items: 10, groupItems: 4 }, epoch: 1, sunk: 5 },
      { reason: 'end', position: { items: 12, groupItems: 0 }, epoch: 1, sunk: 6 },
    ]);
  });

  it('an abort in a train group stops at the next whole batch, and finished says why', async () => {
    const controller = new AbortController();
    let pulledAtAbort = 0;
    const graph = chain('stop-train', { count: 60, groupSize: 30, train: 60 }, 3);
    const { events, boundaries } = await runWithHook(graph, { signal: controller.signal }, (e) => {
      if (e.type === 'progress' && !controller.signal.aborted) {
        pulledAtAbort = pulled.count;
        controller.abort('user stop');
      }
    });
    const finished = finishedOf(events);
    expect(finished).toMatchObject({ type: 'finished', stopped: 'user stop' });
    // The items the source had handed on finish; the stop falls on the first multiple of 3 after them.
    expect(finished.items % 3).toBe(0);
    expect(finished.items).toBeGreaterThanOrEqual(pulledAtAbort - 1);
    expect(finished.items).toBeLessThanOrEqual(Math.ceil(pulledAtAbort / 3) * 3);
    expect(finished.items).toBeLessThan(30);
    expect(boundaries).toEqual([{ reason: 'end', position: { items: finished.items, groupItems: finished.items }, epoch: 0, stopping: 'user stop', sunk: finished.items / 3 }]);
  });

  it('an abort outside a train group stops at the end of the group', async () => {
    const controller = new AbortController();
    const graph = chain('stop-val', { count: 30, groupSize: 10 }, 2);
    const { events, boundaries } = await runWithHook(graph, { signal: controller.signal }, (e) => {
      if (e.type === 'progress') controller.abort(new Error('interrupted'));
    });
    expect(finishedOf(events)).toMatchObject({ type: 'finished', items: 10, stopped: 'interrupted' });
    expect(seen).toHaveLength(5);
    // The epoch boundary after the group still runs (and knows the run is stopping), then the end.
    expect(boundaries.map(({ reason, position, stopping }) => ({ reason, position, stopping }))).toEqual([
      { reason: 'epoch', position: { items: 10, groupItems: 0 }, stopping: 'interrupted' },
      { reason: 'end', position: { items: 10, groupItems: 0 }, stopping: 'interrupted' },
    ]);
  });

  it('a resumed run pulls and drops the items a non-resumable source already gave, and counts on from position.items', async () => {
    const { events } = await runWithHook(chain('resume', { count: 10, groupSize: 5 }), { resume: { dir: '/nonexistent', position: { items: 3, groupItems: 3 } } });
    expect(seen).toEqual([3, 4, 5, 6, 7, 8, 9].map((i) => `item ${i}`));
    expect(pulled.count).toBe(10);
    expect(events.filter((e) => e.type === 'progress').map((e) => (e as { items: number }).items)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(finishedOf(events)).toMatchObject({ type: 'finished', items: 10 });
  });

  it('a resumed run numbers its items as the uninterrupted run did', async () => {
    const g = new GraphBuilder({ name: 'resume-index' });
    const src = g.add('src', Counter, { params: { count: 10 } });
    const fail = g.add('fail', Fail, { params: { at: 5 }, inputs: { label: src.out.label } });
    g.add('sink', Sink, { inputs: { label: fail.out.label } });
    const { events } = await runWithHook(g.build(), { resume: { dir: '/nonexistent', position: { items: 3, groupItems: 3 } } });
    expect(events.at(-1)).toEqual({
      type: 'failed',
      node: 'fail',
      kind: 'test/fail-main',
      itemIndex: 5,
      error: "node 'fail' (kind test/fail-main) failed on item 5: boom at item 5",
    });
  });

  it('a resumed run has the uninterrupted run’s boundaries after its position, and none at its start', async () => {
    const graph = chain('resume-boundaries', { count: 12, groupSize: 6 }, 2);
    const whole = (await runWithHook(graph, { boundaryEvery: 2 })).boundaries;
    const start = { items: 8, groupItems: 2 };
    expect(whole.some((b) => b.position.items === start.items && b.position.groupItems === start.groupItems)).toBe(true);
    const resumed = (await runWithHook(graph, { boundaryEvery: 2, resume: { dir: '/nonexistent', position: start } })).boundaries;
    const strip = (bs: Seen[]) => bs.map(({ reason, position, epoch }) => ({ reason, position, epoch }));
    expect(strip(resumed)).toEqual(strip(whole.filter((b) => b.position.items > start.items)));
    expect(strip(resumed).map((b) => b.position.items)).toEqual([10, 12]);
  });

  it('a hook that throws between items ends the run with one failed event carrying its message and no node', async () => {
    const onBoundary = async (b: Boundary) => {
      if (b.reason === 'epoch') throw new Error('disk full');
    };
    const events = await lastValueFrom(run(compile(chain('hook-fails', { count: 12, groupSize: 4 }, 2)), { onBoundary }).pipe(toArray()));
    expect(events.filter((e) => e.type === 'failed')).toEqual([{ type: 'failed', error: 'disk full' }]);
    expect(events.at(-1)).toEqual({ type: 'failed', error: 'disk full' });
    expect(events.some((e) => e.type === 'finished')).toBe(false);
    expect(seen).toHaveLength(2);
  });

  it('a hook that throws at the end ends the run with one failed event instead of finished', async () => {
    const onBoundary = async (b: Boundary) => {
      if (b.reason === 'end') throw new Error(`cannot write at ${b.position.items}`);
    };
    const events = await lastValueFrom(run(compile(chain('end-fails', { count: 5 })), { onBoundary }).pipe(toArray()));
    expect(events.filter((e) => e.type === 'failed' || e.type === 'finished')).toEqual([{ type: 'failed', error: 'cannot write at 5' }]);
  });
});
