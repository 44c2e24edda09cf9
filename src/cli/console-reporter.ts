/**
 * Prints a run for a person: what runs where, progress per (epoch, split) group, one line per
 * epoch with the mean of each metric per split, and a closing summary.
 *
 * Progress on a terminal is one cli-progress bar per group (log lines and warnings go above
 * it); elsewhere (CI, pipes, log files) it is a plain line at each tenth of a group, or after
 * 30 s without one. Both show items done/total, the group's running mean loss, the current lr,
 * images/s and the ETA. A group's item count comes from the progress event's `groupTotal` when
 * the runner sends one, else from the same split's previous epoch; the first epoch falls back
 * to the run's total and ETA.
 */
// The default import: Node's CommonJS interop does not see cli-progress's nested `Format` export by name.
import cliProgress, { type GenericFormatter, type Options } from 'cli-progress';
import type { RunEvent } from '../graph/events.ts';

type Means = Map<string, { sum: number; count: number }>;

// Fields and events the runner does not send yet: read when present, so they print once it does.
type ProgressEvent = Extract<RunEvent, { type: 'progress' }> & { groupTotal?: number };
type FinishedEvent = Extract<RunEvent, { type: 'finished' }> & { stopped?: string };
interface CheckpointEvent {
  type: 'checkpoint';
  path: string;
  epoch: number;
  step: number;
  tags: readonly string[];
}
export type ReportedEvent = Exclude<RunEvent, { type: 'progress' | 'finished' }> | ProgressEvent | FinishedEvent | CheckpointEvent;

/** What a progress line or bar shows (also the bar's payload). */
export interface GroupProgress {
  /** 1-based, as printed. */
  readonly epoch: number;
  readonly split: string;
  /** Items of this group so far. */
  readonly done: number;
  /** The group's item count: from the event, else the same split's previous epoch. */
  readonly groupTotal?: number;
  readonly runItems: number;
  readonly runTotal?: number;
  /** Running mean of the group's 'loss' metric. */
  readonly loss?: number;
  readonly lr?: number;
  /** Items per second in this group. */
  readonly rate?: number;
  readonly tensors?: number;
}

/** The part of a cli-progress bar the reporter drives. */
export interface ProgressBar {
  update(value: number, payload: GroupProgress): void;
  setTotal(total: number): void;
}

/** The part of a cli-progress MultiBar the reporter drives: one per group, holding one bar. */
export interface ProgressBars {
  create(total: number, value: number, payload: GroupProgress): ProgressBar;
  /** A line (ending in a newline) printed above the bar at the next redraw. */
  log(text: string): void;
  /** Redraws now (prints pending log lines). */
  update(): void;
  stop(): void;
}

export interface ConsoleReporterOptions {
  /** Prints one line (no newline at its end). */
  readonly write?: (line: string) => void;
  /** Draw bars; else plain progress lines. */
  readonly tty?: boolean;
  /** Milliseconds, for images/s, the plain lines' ETA and their 30 s spacing. */
  readonly now?: () => number;
  /** Makes the bars of one group; `format` renders their line. */
  readonly bars?: (format: GenericFormatter) => ProgressBars;
}

/** cli-progress bars on `stream`, which should be where `write` prints, so log lines interleave in order. */
export function cliProgressBars(stream: NodeJS.WritableStream = process.stdout): (format: GenericFormatter) => ProgressBars {
  // No hidden cursor and no line-wrap switch: nothing to restore if the process dies mid-bar.
  return (format) => new cliProgress.MultiBar({ format, stream, clearOnComplete: true, linewrap: true, hideCursor: false, etaBuffer: 20, barsize: 24 });
}

const TENTHS = 10;
const QUIET_MS = 30_000;

interface Group {
  readonly epoch: number;
  readonly split: string;
  /** Run items before the group's first item. */
  readonly before: number;
  /** When the group's first item started: the previous group's last item, or the run's start. */
  readonly since: number;
  done: number;
  /** Plain lines: the tenth of the group printed last, and when. */
  tenth: number | undefined;
  lineAt: number;
  bars?: ProgressBars;
  bar?: ProgressBar;
}

export class ConsoleReporter {
  private readonly epochs = new Map<number, Map<string, Means>>();
  private readonly printedEpochs = new Set<number>();
  /** Items in the last finished group of each split: the next epoch's estimate. */
  private readonly counts = new Map<string, number>();
  private readonly write: (line: string) => void;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly makeBars: (format: GenericFormatter) => ProgressBars;
  private group: Group | undefined;
  private runStart: number | undefined;
  private resumedItems = 0;
  private lastProgressAt: number | undefined;
  private runItems = 0;
  private lr: number | undefined;

  constructor(options: ConsoleReporterOptions = {}) {
    this.write = options.write ?? ((l) => process.stdout.write(`${l}\n`));
    this.tty = options.tty ?? process.stdout.isTTY === true;
    this.now = options.now ?? (() => performance.now());
    this.makeBars = options.bars ?? cliProgressBars();
  }

  handle(event: ReportedEvent): void {
    switch (event.type) {
      case 'started': {
        this.runStart = this.now();
        // A resumed run's item counts start where it stopped; rates and ETAs count from there.
        this.runItems = this.resumedItems = event.resumedAt?.items ?? 0;
        const stages = event.stages
          .map((s) => (s.placement === 'worker' ? `[worker: ${s.nodes.join(', ')}]` : s.nodes.join(', ')))
          .join(' -> ');
        this.write(`samflow: running '${event.graph}' on ${event.backend ?? 'the main thread only'}`);
        this.write(`  stages: ${stages}`);
        this.write(`  at most ${event.window} items in flight`);
        break;
      }
      case 'progress':
        this.progress(event);
        break;
      case 'metric': {
        // lr is a schedule, not a measurement: shown as its latest value, never averaged.
        if (event.name === 'lr') {
          this.lr = event.value;
          break;
        }
        if (event.epoch === undefined) break;
        const splits = this.epochs.get(event.epoch) ?? new Map<string, Means>();
        this.epochs.set(event.epoch, splits);
        const split = event.split ?? 'all';
        const means = splits.get(split) ?? new Map();
        splits.set(split, means);
        const m = means.get(event.name) ?? { sum: 0, count: 0 };
        means.set(event.name, { sum: m.sum + event.value, count: m.count + 1 });
        break;
      }
      case 'log':
        this.print(`  ${event.node ? `[${event.node}] ` : ''}${event.message}`);
        break;
      case 'warning':
        this.print(`  warning${event.node ? ` [${event.node}]` : ''}: ${event.message}`);
        break;
      case 'checkpoint': {
        const tags = event.tags.length ? `, ${event.tags.join(', ')}` : '';
        this.print(`  checkpoint: ${event.path} (epoch ${event.epoch + 1}, step ${event.step}${tags})`);
        break;
      }
      case 'finished': {
        this.endGroup();
        this.finishEpochsBefore(Number.POSITIVE_INFINITY);
        const last = [...this.epochs.keys()].sort((a, b) => a - b).at(-1);
        const final = last === undefined ? undefined : this.epochs.get(last);
        const evalSplit = final && ([...final.keys()].find((s) => s !== 'train') ?? 'train');
        if (final && evalSplit) this.write(`final (${evalSplit}, epoch ${last! + 1}): ${formatMeans(final.get(evalSplit)!)}`);
        if (event.stopped) this.write(`stopped early: ${event.stopped}`);
        const now = event.items - this.resumedItems;
        const resumed = this.resumedItems ? ` (resumed at item ${this.resumedItems}: ${now} items this time)` : '';
        this.write(`done: ${event.items} items${resumed} in ${event.seconds.toFixed(1)} s (${(now / event.seconds).toFixed(1)} items/s)`);
        break;
      }
      case 'failed':
        this.endGroup();
        this.write(`FAILED: ${event.error}`);
        break;
      // Event types added later print nothing until the reporter knows them.
    }
  }

  private progress(event: ProgressEvent): void {
    const now = this.now();
    this.runStart ??= now;
    if (this.group && (this.group.epoch !== event.epoch || this.group.split !== event.split)) this.endGroup();
    this.finishEpochsBefore(event.epoch);
    const group = (this.group ??= {
      epoch: event.epoch,
      split: event.split,
      before: this.runItems,
      since: this.lastProgressAt ?? this.runStart,
      done: 0,
      tenth: undefined,
      lineAt: this.lastProgressAt ?? this.runStart,
    });
    group.done = event.items - group.before;
    this.runItems = event.items;
    this.lastProgressAt = now;
    const view = this.view(group, event, now);
    if (this.tty) this.draw(group, view);
    else this.line(group, view, now);
  }

  private view(group: Group, event: ProgressEvent, now: number): GroupProgress {
    const estimate = this.counts.get(event.split);
    const seconds = (now - group.since) / 1000;
    const loss = this.epochs.get(event.epoch)?.get(event.split)?.get('loss');
    return {
      epoch: event.epoch + 1,
      split: event.split,
      done: group.done,
      // A group can outgrow last epoch's count (a source that skips items at random).
      groupTotal: event.groupTotal ?? (estimate === undefined ? undefined : Math.max(estimate, group.done)),
      runItems: event.items,
      runTotal: event.total,
      loss: loss && loss.sum / loss.count,
      lr: this.lr,
      rate: seconds > 0 ? group.done / seconds : undefined,
      tensors: event.tensors,
    };
  }

  private draw(group: Group, view: GroupProgress): void {
    const [value, total] = scoped(view);
    if (!group.bar) {
      group.bars = this.makeBars(renderBar);
      // Created at the first item: cli-progress's ETA then rates the items after it.
      group.bar = group.bars.create(total ?? 0, value, view);
      return;
    }
    if (total !== undefined) group.bar.setTotal(total);
    group.bar.update(value, view);
  }

  private line(group: Group, view: GroupProgress, now: number): void {
    const [value, total] = scoped(view);
    const tenth = total ? Math.floor((value * TENTHS) / total) : 0;
    // The first item sets the baseline: a group that starts at 40 % of the run is not a step.
    const stepped = group.tenth !== undefined && tenth > group.tenth;
    if (group.tenth === undefined) group.tenth = tenth;
    if (!stepped && now - group.lineAt < QUIET_MS) return;
    group.tenth = tenth;
    group.lineAt = now;
    this.write(progressLine(view, this.eta(view, now)));
  }

  private eta(view: GroupProgress, now: number): number | undefined {
    if (view.groupTotal !== undefined) return view.rate ? (view.groupTotal - view.done) / view.rate : undefined;
    const seconds = (now - this.runStart!) / 1000;
    const done = view.runItems - this.resumedItems;
    if (view.runTotal === undefined || seconds <= 0 || done <= 0) return undefined;
    return (view.runTotal - view.runItems) / (done / seconds);
  }

  private endGroup(): void {
    const group = this.group;
    if (!group) return;
    this.group = undefined;
    this.counts.set(group.split, group.done);
    if (group.bars) {
      group.bars.update();
      group.bars.stop();
    }
  }

  private finishEpochsBefore(epoch: number): void {
    for (const [e, splits] of [...this.epochs].sort(([a], [b]) => a - b)) {
      if (e >= epoch || this.printedEpochs.has(e)) continue;
      this.printedEpochs.add(e);
      const parts = [...splits].map(([split, means]) => `${split} ${formatMeans(means)}`);
      this.print(`epoch ${e + 1}: ${parts.join(' | ')}`);
    }
  }

  /** A line above the bar while one is drawn (cli-progress redraws the bar under it), else a plain line. */
  private print(line: string): void {
    const bars = this.group?.bars;
    if (bars) {
      bars.log(`${line}\n`);
      bars.update();
    } else {
      this.write(line);
    }
  }
}

/** The bar's value and total: the group's when its size is known, else the run's, else no total. */
function scoped(view: GroupProgress): [value: number, total: number | undefined] {
  if (view.groupTotal !== undefined) return [view.done, view.groupTotal];
  if (view.runTotal !== undefined) return [view.runItems, view.runTotal];
  return [view.done, undefined];
}

/** cli-progress format function: the plain line with cli-progress's bar and ETA in it. */
export const renderBar: GenericFormatter = (options, params, payload: Partial<GroupProgress>) => {
  // cli-progress does not start a bar on a stream that is no TTY, so it can draw one without a payload.
  if (payload.split === undefined) return '';
  const view = payload as GroupProgress;
  const hasTotal = scoped(view)[1] !== undefined;
  // cli-progress's ETA is a string ('0', 'NULL', 'INF') until two updates give it a rate.
  const eta = hasTotal && typeof params.eta === 'number' ? params.eta : undefined;
  return progressLine(view, eta, hasTotal ? cliProgress.Format.BarFormat(params.progress, options) : undefined);
};

export function progressLine(view: GroupProgress, etaSeconds: number | undefined, bar?: string): string {
  const items = view.groupTotal !== undefined
    ? `${view.done}/${view.groupTotal} items`
    : `${view.done} items${view.runTotal !== undefined ? `, run ${view.runItems}/${view.runTotal}` : ''}`;
  const parts = [`epoch ${view.epoch} ${view.split}${bar !== undefined ? ` [${bar}]` : ''} ${items}`];
  if (view.loss !== undefined) parts.push(`loss ${view.loss.toFixed(4)}`);
  if (view.lr !== undefined) parts.push(`lr ${view.lr.toExponential(2)}`);
  if (view.rate !== undefined) parts.push(`${view.rate.toFixed(1)} img/s`);
  if (etaSeconds !== undefined) parts.push(`${view.groupTotal === undefined ? 'run ETA' : 'ETA'} ${formatEta(etaSeconds)}`);
  if (view.tensors !== undefined) parts.push(`${view.tensors} tensors`);
  return `  ${parts.join(' | ')}`;
}

function formatEta(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  // cli-progress pads hours to two digits and would print 123 h as '23h'.
  if (s >= 100 * 3600) return `${Math.round(s / 3600)}h`;
  return cliProgress.Format.TimeFormat(s, { autopaddingChar: '' } as Options, 1);
}

function formatMeans(means: Means): string {
  return [...means].map(([name, { sum, count }]) => `${name} ${(sum / count).toFixed(4)}`).join(', ');
}
