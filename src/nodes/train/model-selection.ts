/**
 * Model selection by a monitored metric, as Lightning's EarlyStopping and ModelCheckpoint do
 * it: after each validated epoch the metric's value (its mean over the epoch's events) is
 * compared with the best so far; the `keep` best checkpoints are kept (plus the latest, which a
 * resume needs), and after `patience` validated epochs without an improvement of more than
 * `minDelta` the run stops. Pure bookkeeping: the run folder does the files.
 *
 * ```ts
 * const selection = new ModelSelection(TrainControl.parse({ monitor: 'sm', mode: 'max', patience: 10 }));
 * selection.observe(0, 0.71, 'epoch-1'); // { improved: true, dropped: [], stop: undefined }
 * ```
 */
import { z } from 'zod';

export const TrainControl = z
  .object({
    monitor: z.string().min(1).default('loss').describe("the metric that picks the best checkpoint and stops early (any metric the run reports, e.g. 'sm', 'iou', 'loss')"),
    mode: z.enum(['min', 'max']).default('min').describe('whether a lower (min) or higher (max) value is better'),
    split: z.string().min(1).default('val').describe('the split whose metric is monitored'),
    patience: z.number().int().min(0).default(0).describe('validated epochs without improvement before stopping (0: never stop early)'),
    minDelta: z.number().min(0).default(0).describe('an improvement must exceed this'),
    keep: z.number().int().min(1).default(3).describe('best checkpoints kept by the monitored metric (the latest is kept as well)'),
    checkpointEvery: z.number().int().min(0).default(0).describe('also checkpoint every N source items inside an epoch (0: at epoch ends only)'),
  })
  .strict();
export type TrainControl = z.output<typeof TrainControl>;

export interface Score {
  readonly epoch: number;
  readonly value: number;
  readonly checkpoint: string;
}

export interface SelectionState {
  readonly scores: readonly Score[];
  readonly best: Score | undefined;
  /** Validated epochs since the last improvement. */
  readonly stale: number;
}

export interface Observation {
  readonly improved: boolean;
  /** Checkpoints that fell out of the best `keep`. */
  readonly dropped: readonly string[];
  /** Set when the run should stop: why. */
  readonly stop: string | undefined;
}

export class ModelSelection {
  private scores: Score[];
  private bestScore: Score | undefined;
  private stale: number;

  constructor(
    readonly control: TrainControl,
    state: SelectionState = { scores: [], best: undefined, stale: 0 },
  ) {
    // A NaN score comes back from a checkpoint's JSON as null: it stays NaN (never best, ranked last).
    this.scores = state.scores.map((s) => (typeof s.value === 'number' ? s : { ...s, value: NaN }));
    this.bestScore = state.best;
    this.stale = state.stale;
  }

  get best(): Score | undefined {
    return this.bestScore;
  }

  /** The checkpoints to keep by score, best first. */
  get kept(): readonly Score[] {
    return this.ranked().slice(0, this.control.keep);
  }

  observe(epoch: number, value: number, checkpoint: string): Observation {
    const { mode, minDelta, patience, monitor, split } = this.control;
    const before = new Set(this.kept.map((s) => s.checkpoint));
    const score = { epoch, value, checkpoint };
    this.scores.push(score);
    const improved = !Number.isNaN(value) && (this.bestScore === undefined || (mode === 'max' ? value > this.bestScore.value + minDelta : value < this.bestScore.value - minDelta));
    if (improved) {
      this.bestScore = score;
      this.stale = 0;
    } else {
      this.stale++;
    }
    const now = new Set(this.kept.map((s) => s.checkpoint));
    const dropped = [...before].filter((c) => !now.has(c));
    const best = this.bestScore;
    const stop =
      patience > 0 && this.stale >= patience
        ? `early stopping: ${split} ${monitor} did not improve${minDelta ? ` by more than ${minDelta}` : ''} for ${patience} validated epoch(s); best ${best ? `${best.value.toFixed(4)} at epoch ${best.epoch + 1}` : 'none'}`
        : undefined;
    return { improved, dropped, stop };
  }

  state(): SelectionState {
    return { scores: [...this.scores], best: this.bestScore, stale: this.stale };
  }

  private ranked(): Score[] {
    const sign = this.control.mode === 'max' ? -1 : 1;
    // NaN sorts last; ties keep the earlier epoch, as a checkpoint callback does.
    return [...this.scores].sort((a, b) => (Number.isNaN(a.value) ? 1 : Number.isNaN(b.value) ? -1 : sign * (a.value - b.value) || a.epoch - b.epoch));
  }
}
