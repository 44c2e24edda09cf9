import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { mergeMap } from 'rxjs';
import { orderedMergeMap } from '../../src/graph/operators/ordered-merge-map.ts';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('orderedMergeMap', () => {
  it('emits in input order even when later items finish first', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const durations: Record<string, string> = { a: '-----(a|)', b: '-(b|)', c: '--(c|)' };
      const source = cold('abc|');
      expectObservable(source.pipe(orderedMergeMap((x) => cold(durations[x]!), 3))).toBe('-----(abc|)');
      // plain mergeMap reorders: b and c overtake a
      expectObservable(source.pipe(mergeMap((x) => cold(durations[x]!), 3))).toBe('--b-c(a|)');
    });
  });

  it('runs at most `concurrency` projections at once', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('--(a|)');
      const b = cold('--(b|)');
      const c = cold('--(c|)');
      const inners: Record<string, typeof a> = { a, b, c };
      expectObservable(cold('abc|').pipe(orderedMergeMap((x) => inners[x]!, 2))).toBe('--ab(c|)');
      // c waits for a free slot: it starts only when a completes
      expectSubscriptions(c.subscriptions).toBe('--^-!');
    });
  });

  it('errors as soon as a projection errors', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('ab|');
      const inner = (x: string) => (x === 'b' ? cold('-#', undefined, new Error('bad b')) : cold('---a|'));
      expectObservable(source.pipe(orderedMergeMap(inner, 2))).toBe('--#', undefined, new Error('bad b'));
    });
  });

  it('unsubscribing cancels running projections', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const inner = cold('-----x|');
      expectObservable(cold('a|').pipe(orderedMergeMap(() => inner, 1)), '^--!').toBe('---');
      expectSubscriptions(inner.subscriptions).toBe('^--!');
    });
  });

  it('rejects a projection that completes without a value', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a|').pipe(orderedMergeMap(() => cold('-|'), 1))).toBe(
        '-#',
        undefined,
        new Error('orderedMergeMap: projection of item 0 completed without a value'),
      );
    });
  });
});
