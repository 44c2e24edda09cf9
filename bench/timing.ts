/** The benches' timing: the median of `runs` timed calls after one untimed warm-up call. */

export const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Median milliseconds of `runs` calls of fn(0..runs-1), after fn(-1) as a warm-up: first-call
 * allocation and kernel set-up are not what is measured.
 */
export function timeIt(runs: number, fn: (run: number) => void): number {
  fn(-1);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn(i);
    ms.push(performance.now() - t0);
  }
  return median(ms);
}
