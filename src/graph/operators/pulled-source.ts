import { Observable } from 'rxjs';

/**
 * An Observable over an (async) iterator that pulls only while it holds credit.
 *
 * rxjs has no backpressure of its own; this is how the runner gets it. The source starts with
 * `window` credits, spends one per item it pulls, and pulls again only when the end of the
 * pipeline hands credits back with `release(n)`. So at most `window` items are ever between
 * the source and the sink, however slow the sink. Unsubscribing returns the iterator.
 */
export interface PulledSource<T> {
  readonly items: Observable<T>;
  release(credits: number): void;
  /** Resolves once every item pulled so far has been released: nothing is in flight. */
  idle(): Promise<void>;
}

export function pulledSource<T>(open: () => Iterator<T> | AsyncIterator<T>, window: number): PulledSource<T> {
  let credit = window;
  let wake: (() => void) | undefined;
  let drained: (() => void)[] = [];
  return {
    release(credits: number) {
      credit += credits;
      wake?.();
      if (credit >= window && drained.length) {
        const waiting = drained;
        drained = [];
        for (const resolve of waiting) resolve();
      }
    },
    idle() {
      return credit >= window ? Promise.resolve() : new Promise<void>((resolve) => drained.push(resolve));
    },
    items: new Observable<T>((subscriber) => {
      const iterator = open();
      let closed = false;
      const pump = async () => {
        while (!closed) {
          if (credit <= 0) {
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
            continue;
          }
          const step = await iterator.next();
          if (closed) return;
          if (step.done) {
            subscriber.complete();
            return;
          }
          credit -= 1;
          subscriber.next(step.value);
        }
      };
      pump().catch((error: unknown) => subscriber.error(error));
      return () => {
        closed = true;
        wake?.();
        void Promise.resolve(iterator.return?.()).catch(() => undefined);
      };
    }),
  };
}
