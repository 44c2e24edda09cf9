import { describe, expect, it } from 'vitest';
import { StageClock } from '../../src/graph/stage-clock.ts';

describe('stage clock', () => {
  it('sums busy time and calls per stage, listed in graph order, untimed stages left out', async () => {
    const clock = new StageClock();
    clock.add('2', 30);
    clock.add('0', 5);
    clock.add('2', 20);
    await expect(clock.time('0', async () => 'done')).resolves.toBe('done');
    await expect(clock.time('0', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom'); // a failed call still counts
    const stages = ['0', '1', '2'].map((id) => ({ id, placement: 'main' as const, nodes: [`n${id}`] }));
    const timings = clock.timings(stages);
    expect(timings.map((t) => [t.id, t.nodes, t.calls])).toEqual([['0', ['n0'], 3], ['2', ['n2'], 2]]);
    expect(timings[1]!.seconds).toBeCloseTo(0.05, 9);
    expect(timings[0]!.seconds).toBeGreaterThanOrEqual(0.005);
  });
});
