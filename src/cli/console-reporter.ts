/**
 * Prints a run for a person: what runs where, a progress bar (on a terminal), one line per
 * epoch with the mean of each metric per split, and a closing summary.
 */
import { SingleBar } from 'cli-progress';
import type { RunEvent } from '../graph/events.ts';

type Means = Map<string, { sum: number; count: number }>;

export class ConsoleReporter {
  private readonly epochs = new Map<number, Map<string, Means>>();
  private printedEpochs = new Set<number>();
  private bar: SingleBar | undefined;
  private lastLogged = 0;

  constructor(private readonly write: (line: string) => void = (l) => process.stdout.write(`${l}\n`), private readonly tty = process.stdout.isTTY === true) {}

  handle(event: RunEvent): void {
    switch (event.type) {
      case 'started': {
        const stages = event.stages
          .map((s) => (s.placement === 'worker' ? `[worker: ${s.nodes.join(', ')}]` : s.nodes.join(', ')))
          .join(' -> ');
        this.write(`samflow: running '${event.graph}' on ${event.backend ?? 'the main thread only'}`);
        this.write(`  stages: ${stages}`);
        this.write(`  at most ${event.window} items in flight`);
        break;
      }
      case 'progress': {
        this.finishEpochsBefore(event.epoch);
        if (this.tty && event.total) {
          this.bar ??= new SingleBar({ format: '  {bar} {value}/{total} items | epoch {epoch} {split}', hideCursor: true, clearOnComplete: true });
          if (!this.bar.isActive) this.bar.start(event.total, 0, { epoch: event.epoch + 1, split: event.split });
          this.bar.update(event.items, { epoch: event.epoch + 1, split: event.split });
        } else if (event.total && event.items - this.lastLogged >= event.total / 10) {
          this.lastLogged = event.items;
          this.write(`  ${event.items}/${event.total} items${event.tensors !== undefined ? ` (${event.tensors} live tensors)` : ''}`);
        }
        break;
      }
      case 'metric': {
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
      case 'finished': {
        this.finishEpochsBefore(Number.POSITIVE_INFINITY);
        const last = [...this.epochs.keys()].sort((a, b) => a - b).at(-1);
        const final = last === undefined ? undefined : this.epochs.get(last);
        const evalSplit = final && ([...final.keys()].find((s) => s !== 'train') ?? 'train');
        if (final && evalSplit) this.write(`final (${evalSplit}, epoch ${last! + 1}): ${formatMeans(final.get(evalSplit)!)}`);
        this.write(`done: ${event.items} items in ${event.seconds.toFixed(1)} s (${(event.items / event.seconds).toFixed(1)} items/s)`);
        break;
      }
      case 'failed':
        this.stopBar();
        this.write(`FAILED: ${event.error}`);
        break;
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

  private print(line: string): void {
    if (this.bar?.isActive) {
      this.bar.stop();
      this.write(line);
    } else {
      this.write(line);
    }
  }

  private stopBar(): void {
    if (this.bar?.isActive) this.bar.stop();
  }
}

function formatMeans(means: Means): string {
  return [...means].map(([name, { sum, count }]) => `${name} ${(sum / count).toFixed(4)}`).join(', ');
}
