import { Observable, type OperatorFunction, type ObservableInput, from } from 'rxjs';

/**
 * Like `mergeMap(project, concurrency)`, but emits results in the order of their inputs.
 *
 * Up to `concurrency` projections run at once; a result that finishes early waits in a
 * reorder buffer until every earlier input has been emitted. Each projection must emit exactly
 * one value (it is a per-item map). Errors from any projection error the output at once;
 * unsubscribing cancels running projections.
 *
 * ```ts
 * items$.pipe(orderedMergeMap((x) => decode(x), 4))
 * ```
 */
export function orderedMergeMap<T, R>(
  project: (value: T, index: number) => ObservableInput<R>,
  concurrency = 1,
): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const queue: [T, number][] = [];
      const done = new Map<number, R>();
      const running = new Map<number, { unsubscribe(): void } | undefined>();
      let nextIn = 0;
      let nextOut = 0;
      let sourceDone = false;

      const flush = () => {
        while (done.has(nextOut)) {
          const value = done.get(nextOut)!;
          done.delete(nextOut++);
          subscriber.next(value);
        }
        if (sourceDone && running.size === 0 && queue.length === 0 && done.size === 0) subscriber.complete();
      };
      const start = (value: T, index: number) => {
        let got = false;
        running.set(index, undefined);
        const inner = from(project(value, index)).subscribe({
          next: (result) => {
            if (got) {
              subscriber.error(new Error(`orderedMergeMap: projection of item ${index} emitted more than one value`));
              return;
            }
            got = true;
            done.set(index, result);
            flush();
          },
          error: (err) => subscriber.error(err),
          complete: () => {
            running.delete(index);
            if (!got) {
              subscriber.error(new Error(`orderedMergeMap: projection of item ${index} completed without a value`));
              return;
            }
            while (running.size < concurrency && queue.length) start(...queue.shift()!);
            flush();
          },
        });
        if (running.has(index)) running.set(index, inner);
      };
      const outer = source.subscribe({
        next: (value) => {
          const index = nextIn++;
          if (running.size < concurrency) start(value, index);
          else queue.push([value, index]);
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          flush();
        },
      });
      return () => {
        outer.unsubscribe();
        for (const inner of running.values()) inner?.unsubscribe();
      };
    });
}
