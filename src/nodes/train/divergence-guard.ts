/**
 * Stops a run whose training loss has run away: `items` losses in a row above `factor` × the
 * median of the last WINDOW (a median, so one bad batch does not move the baseline, and the
 * baseline is the run's own scale, whatever the loss). Non-finite losses and gradient norms are
 * caught where they appear; this catches the finite blow-up (a loss stuck near 1e13).
 *
 * ```ts
 * const guard = new DivergenceGuard(100, 20);
 * guard.check(0.7, 'train item 3'); // fine; throws once 20 losses in a row exceed 100 × the median
 * ```
 */
const WINDOW = 100;
/** Losses seen before the median is trusted. */
const WARMUP = 10;

export class DivergenceGuard {
  private readonly recent: number[] = [];
  private above = 0;

  constructor(
    private readonly factor: number,
    private readonly items: number,
  ) {}

  check(loss: number, at: string): void {
    if (this.recent.length >= WARMUP) {
      const median = medianOf(this.recent);
      this.above = loss > this.factor * median ? this.above + 1 : 0;
      if (this.above >= this.items) {
        throw new Error(
          `training diverged: the loss has been above ${this.factor} × its running median (${median.toPrecision(3)}) for ${this.items} items in a row, now ${loss.toPrecision(3)} on ${at}; lower the lr`,
        );
      }
    }
    this.recent.push(loss);
    if (this.recent.length > WINDOW) this.recent.shift();
  }
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
