import { describe, expect, it } from 'vitest';
import { lastValueFrom, take, toArray, filter, firstValueFrom } from 'rxjs';
import { compile } from '../../src/graph/compile.ts';
import { GraphValidationError } from '../../src/graph/errors.ts';
import type { RunEvent } from '../../src/graph/events.ts';
import { GraphBuilder } from '../../src/graph/graph.ts';
import { run } from '../../src/graph/run.ts';
import { Counter, Delay, Fail, Join, Sink, pulled, seen } from '../fixtures/nodes.ts';

const events = (g: GraphBuilder) => lastValueFrom(run(g.build()).pipe(toArray()));

describe('runner', () => {
  it('never has more than prefetch + concurrency items in flight with a slow sink', async () => {
    const g = new GraphBuilder({ name: 'slow-sink' });
    const src = g.add('src', Counter, { params: { count: 40 } });
    g.add('sink', Sink, { params: { ms: 5 }, inputs: { label: src.out.label }, concurrency: 2, prefetch: 3 });
    expect(compile(g.build()).window).toBe(5);
    const all = await events(g);
    expect(all.at(-1)).toMatchObject({ type: 'finished', items: 40 });
    expect(pulled.maxInFlight).toBe(5);
    expect(seen).toHaveLength(40);
  });

  it('keeps input order through a concurrent stage', async () => {
    const g = new GraphBuilder({ name: 'order' });
    const src = g.add('src', Counter, { params: { count: 12 } });
    const slow = g.add('slow', Delay, { params: { schedule: [25, 0, 10, 0, 5, 30] }, inputs: { label: src.out.label }, concurrency: 4 });
    g.add('sink', Sink, { inputs: { label: slow.out.label } });
    await events(g);
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => `item ${i}`));
  });

  it('ends with a failed event naming node, kind and item', async () => {
    const g = new GraphBuilder({ name: 'fails' });
    const src = g.add('src', Counter, { params: { count: 10 } });
    const fail = g.add('fail', Fail, { params: { at: 3 }, inputs: { label: src.out.label } });
    g.add('sink', Sink, { inputs: { label: fail.out.label } });
    const all = await events(g);
    expect(all.at(-1)).toEqual({
      type: 'failed',
      node: 'fail',
      kind: 'test/fail-main',
      itemIndex: 3,
      error: "node 'fail' (kind test/fail-main) failed on item 3: boom at item 3",
    });
    expect(all.some((e) => e.type === 'finished')).toBe(false);
  });

  it('unsubscribing stops the source', async () => {
    const g = new GraphBuilder({ name: 'cancel' });
    const src = g.add('src', Counter, { params: { count: 100_000 } });
    g.add('sink', Sink, { params: { ms: 1 }, inputs: { label: src.out.label } });
    const graph = g.build();
    await lastValueFrom(run(graph).pipe(filter((e: RunEvent) => e.type === 'progress'), take(5)));
    await new Promise((r) => setTimeout(r, 20));
    expect(pulled.returned).toBe(true);
    expect(pulled.count).toBeLessThanOrEqual(5 + compile(graph).window);
    const countAfter = pulled.count;
    await new Promise((r) => setTimeout(r, 30));
    expect(pulled.count).toBe(countAfter);
  });

  it('regroups items through an operator node and counts source items', async () => {
    const g = new GraphBuilder({ name: 'join' });
    const src = g.add('src', Counter, { params: { count: 10 } });
    const join = g.add('join', Join, { params: { size: 3 }, inputs: { label: src.out.label } });
    g.add('sink', Sink, { params: { ms: 2 }, inputs: { label: join.out.label } });
    const all = await events(g);
    expect(seen).toEqual(['item 0+item 1+item 2', 'item 3+item 4+item 5', 'item 6+item 7+item 8', 'item 9']);
    expect(all.filter((e) => e.type === 'progress').map((e) => (e as { items: number }).items)).toEqual([3, 6, 9, 10]);
    expect(all.at(-1)).toMatchObject({ type: 'finished', items: 10 });
  });

  it('rejects a value read across a regrouping node, naming both nodes', () => {
    const g = new GraphBuilder({ name: 'barrier' });
    const src = g.add('src', Counter, { params: { count: 10 } });
    const join = g.add('join', Join, { params: { size: 3 }, inputs: { label: src.out.label } });
    const after = g.add('after', Delay, { inputs: { label: join.out.label } });
    g.add('late', Sink, { inputs: { label: src.out.label } });
    expect(after.name).toBe('after');
    expect(() => compile(g.build())).toThrow(GraphValidationError);
    expect(() => compile(g.build())).toThrow("node 'late' reads 'src.label', produced before node 'join' (kind test/join) regroups items; route it through that node");
  });

  it('advances several sources together and fails when their lengths differ', async () => {
    const g = new GraphBuilder({ name: 'two-sources' });
    const a = g.add('a', Counter, { params: { count: 4 } });
    g.add('b', Counter, { params: { count: 4, width: 2 } });
    g.add('sink', Sink, { inputs: { label: a.out.label } });
    expect(await events(g)).toContainEqual(expect.objectContaining({ type: 'finished', items: 4 }));

    const uneven = new GraphBuilder({ name: 'uneven' });
    const c = uneven.add('c', Counter, { params: { count: 4 } });
    uneven.add('d', Counter, { params: { count: 3 } });
    uneven.add('sink', Sink, { inputs: { label: c.out.label } });
    expect((await events(uneven)).at(-1)).toEqual({
      type: 'failed',
      error: "sources 'c', 'd' (ended) produced different numbers of items: they must advance together (item 3)",
    });
  });

  it('reports started, progress with totals, and finished', async () => {
    const g = new GraphBuilder({ name: 'events' });
    const src = g.add('src', Counter, { params: { count: 3 } });
    g.add('sink', Sink, { inputs: { label: src.out.label } });
    const all = await events(g);
    expect(all[0]).toEqual({
      type: 'started',
      graph: 'events',
      window: 2,
      stages: [
        { id: '0', placement: 'main', nodes: ['src'] },
        { id: '1', placement: 'main', nodes: ['sink'] },
      ],
    });
    expect(all.slice(1, 4)).toEqual([1, 2, 3].map((items) => ({ type: 'progress', items, total: 3, split: 'val', epoch: 0 })));
    expect(await firstValueFrom(run(g.build()).pipe(filter((e) => e.type === 'finished')))).toMatchObject({ items: 3 });
  });
});
