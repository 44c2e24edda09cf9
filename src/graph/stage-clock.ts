/**
 * Busy time per stage of a run, reported once in the `finished` event: two clock reads per
 * call, so it is always on. A main stage's time is the time its node spent producing items
 * (a source's pulls, a map node's process calls; regrouping operators are not timed); a worker
 * segment's is the time the worker was busy with it, not the round trips, which overlap.
 */
import type { StageSummary, StageTiming } from './events.ts';

export class StageClock {
  private readonly busy = new Map<string, { ms: number; calls: number }>();

  add(stage: string, ms: number): void {
    const entry = this.busy.get(stage) ?? { ms: 0, calls: 0 };
    entry.ms += ms;
    entry.calls++;
    this.busy.set(stage, entry);
  }

  async time<T>(stage: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.add(stage, performance.now() - start);
    }
  }

  /** The timed stages, in graph order. */
  timings(stages: readonly StageSummary[]): StageTiming[] {
    return stages.flatMap((s) => {
      const entry = this.busy.get(s.id);
      return entry ? [{ ...s, seconds: entry.ms / 1000, calls: entry.calls }] : [];
    });
  }
}
