/**
 * One run of a sweep, wherever it runs (this process, or a worker): trained into its folder, or
 * continued from its last checkpoint when an earlier attempt was killed, or only read when it
 * has ended already, so running a job twice never trains twice. Its result is what the summary
 * shows: the monitored metric's best value and the run's metrics at that epoch.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom, tap } from 'rxjs';
import { parseOptions, resolvePipeline } from '../api/pipeline.ts';
import { RunFolder } from '../api/run-folder.ts';
import { resume, train } from '../api/training.ts';
import type { RunEvent } from '../graph/events.ts';
import { TrainControl } from '../nodes/train/model-selection.ts';
import type { RunJob } from './queues.ts';

export interface SweepRunResult {
  readonly name: string;
  readonly dir: string;
  readonly pipeline: string;
  readonly options: Record<string, unknown>;
  readonly status: 'done' | 'failed';
  readonly error?: string;
  /** The metric that picks the run's best checkpoint, on which split, and which way is better. */
  readonly monitor: { readonly name: string; readonly split: string; readonly mode: 'max' | 'min' };
  readonly best?: { readonly value: number; readonly epoch: number; readonly checkpoint: string };
  /** Means of each metric on the monitored split at the best epoch (else the last one reported). */
  readonly metrics: Record<string, number>;
}

export interface SweepRunContext {
  readonly backend?: string;
  readonly onEvent?: (event: RunEvent) => void;
  readonly updateProgress?: (progress: object) => Promise<void>;
}

const stable = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));

/** Starts, continues or skips the run, by what its folder holds. */
async function begin(job: RunJob, backend: { backend?: string }) {
  const fresh = () => {
    // What a killed first attempt left before its first checkpoint: nothing to continue from.
    rmSync(job.dir, { recursive: true, force: true });
    return train({ pipeline: job.pipeline, options: job.options, ...(job.control ? { control: job.control } : {}), out: job.dir, ...backend });
  };
  if (!existsSync(join(job.dir, 'run.json'))) return fresh();
  const folder = RunFolder.open(job.dir);
  const entry = await resolvePipeline(job.pipeline);
  if (stable(folder.record.options) !== stable(parseOptions(entry, job.options))) {
    throw new Error(`${job.dir} holds a run with other options than this sweep's run '${job.name}'; give the sweep another output folder`);
  }
  const last = folder.pointer('last');
  if (!last) return fresh();
  if (folder.checkpointState(last.checkpoint).ended?.complete) return undefined;
  return resume(job.dir, backend);
}

export async function runSweepRun(job: RunJob, ctx: SweepRunContext = {}): Promise<SweepRunResult> {
  const backend = ctx.backend !== undefined ? { backend: ctx.backend } : {};
  let failure: string | undefined;
  try {
    const started = await begin(job, backend);
    let reported = 0;
    if (started) {
      await lastValueFrom(
        started.events.pipe(
          tap((event) => {
            ctx.onEvent?.(event);
            if (event.type === 'failed') failure = event.error;
            if (event.type === 'progress' && ctx.updateProgress && Date.now() - reported > 1000) {
              reported = Date.now();
              void ctx.updateProgress({ items: event.items, total: event.total }).catch(() => undefined);
            }
          }),
        ),
        { defaultValue: undefined },
      );
    }
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  }
  return summarizeRun(job, failure);
}

function loggedEvents(path: string): RunEvent[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').flatMap((line) => {
    try {
      return line.trim() ? [JSON.parse(line) as RunEvent] : [];
    } catch {
      return []; // a line cut short by a kill
    }
  });
}

/** The run's result from its folder (its record, best pointer and events.jsonl). */
export function summarizeRun(job: RunJob, failure?: string): SweepRunResult {
  const hasRun = existsSync(join(job.dir, 'run.json'));
  const folder = hasRun ? RunFolder.open(job.dir) : undefined;
  const control = TrainControl.parse(folder?.record.control ?? job.control ?? {});
  const monitor = { name: control.monitor, split: control.split, mode: control.mode };
  const base = { name: job.name, dir: job.dir, pipeline: job.pipeline, options: job.options, monitor };
  if (!folder) return { ...base, status: 'failed', error: failure ?? 'the run did not start', metrics: {} };
  const sums = new Map<number, Map<string, { sum: number; count: number }>>();
  for (const event of loggedEvents(folder.path('events.jsonl'))) {
    if (event.type !== 'metric' || event.split !== control.split || event.epoch === undefined || event.name === 'lr') continue;
    const names = sums.get(event.epoch) ?? new Map<string, { sum: number; count: number }>();
    const m = names.get(event.name) ?? { sum: 0, count: 0 };
    names.set(event.name, { sum: m.sum + event.value, count: m.count + 1 });
    sums.set(event.epoch, names);
  }
  const pointer = folder.pointer('best');
  const epoch = pointer?.epoch ?? [...sums.keys()].sort((a, b) => a - b).at(-1);
  const metrics = Object.fromEntries([...(epoch !== undefined ? (sums.get(epoch) ?? []) : [])].map(([name, m]) => [name, m.sum / m.count]));
  const best = pointer && pointer.value !== undefined ? { value: pointer.value, epoch: pointer.epoch, checkpoint: pointer.checkpoint } : undefined;
  return { ...base, status: failure ? 'failed' : 'done', ...(failure ? { error: failure } : {}), ...(best ? { best } : {}), metrics };
}
