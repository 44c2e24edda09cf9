/**
 * `train` and `resume`: a pipeline's training graph run into a run folder (run-folder.ts), with
 * the training control of the run's record: a checkpoint at every epoch's end (and every
 * `checkpointEvery` items), the best `keep` by the monitored metric plus the latest kept,
 * early stopping after `patience` validated epochs without improvement. Everything a resume
 * needs is in the latest checkpoint, so `resume` continues a run killed at any moment and
 * reproduces the uninterrupted run's updates.
 *
 * Both return the run's events: the same stream the CLI prints and events.jsonl records.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { Observable } from 'rxjs';
import { compile, type CompiledGraph } from '../graph/compile.ts';
import type { RunEvent, RunPosition } from '../graph/events.ts';
import { exportGraph } from '../graph/export/index.ts';
import { run, type Boundary } from '../graph/run.ts';
import { baseCheckpointId } from '../nodes/report/base-checkpoint.ts';
import { runReport } from '../nodes/report/html-report.ts';
import type { LoggedEvent } from '../nodes/report/report-data.ts';
import { ModelSelection, TrainControl } from '../nodes/train/model-selection.ts';
import { TensorWorker } from '../../workers/host.ts';
import { buildGraph, loadGraphFile, parseOptions, resolvePipeline } from './pipeline.ts';
import { RUN_FORMAT, RunFolder, type RunState } from './run-folder.ts';

export interface TrainRequest {
  /** A built-in pipeline's name or the path of a pipeline module. */
  readonly pipeline: string;
  readonly options?: Record<string, unknown>;
  /** Overrides of the pipeline's training control (monitor, mode, patience, keep, ...). */
  readonly control?: Partial<TrainControl>;
  /** The run folder to create (default runs/<pipeline>-<time>); an existing one is an error. */
  readonly out?: string;
  readonly backend?: string;
  /** Seconds a step may make no progress before the run ends with an error (default $SAMFLOW_WATCHDOG_S, else 600; 0: off). */
  readonly watchdogSeconds?: number;
  /** Aborting stops the run gracefully: the step finishes, a checkpoint and the report are written. */
  readonly signal?: AbortSignal;
}

type WorkerRequest = Pick<TrainRequest, 'backend' | 'watchdogSeconds'>;

/** The tensor worker, started before anything is written: a backend that cannot load leaves no run folder. */
async function startWorker(compiled: CompiledGraph, request: WorkerRequest): Promise<TensorWorker | undefined> {
  if (!compiled.stages.some((s) => s.type === 'worker')) return undefined;
  return TensorWorker.start({
    ...(request.backend !== undefined ? { backend: request.backend } : {}),
    ...(request.watchdogSeconds !== undefined ? { watchdogSeconds: request.watchdogSeconds } : {}),
  });
}

export interface TrainingRun {
  readonly dir: string;
  readonly events: Observable<RunEvent>;
}

/** Starts a new run. Bad options, control or an existing folder fail here, before any work. */
export async function train(request: TrainRequest): Promise<TrainingRun> {
  const fromFile = request.pipeline.endsWith('.json');
  if (fromFile && Object.keys(request.options ?? {}).length) {
    throw new Error(`${request.pipeline}: options apply to pipelines only; edit the graph's params instead`);
  }
  const entry = fromFile ? undefined : await resolvePipeline(request.pipeline);
  const options = entry ? parseOptions(entry, request.options ?? {}) : {};
  const parsed = TrainControl.safeParse({ ...entry?.control, ...request.control });
  if (!parsed.success) {
    throw new Error(`training control: ${parsed.error.issues.map((i) => `'${i.path.join('.')}': ${i.message}`).join('; ')}`);
  }
  const control = parsed.data;
  const graph = entry ? buildGraph(entry, () => entry.build(options)) : await loadGraphFile(request.pipeline);
  const compiled = compile(graph);
  const out = request.out ?? join('runs', `${graph.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  RunFolder.refuseExisting(out);
  const worker = await startWorker(compiled, request);
  let folder: RunFolder;
  try {
    folder = RunFolder.create(out);
  } catch (error) {
    await worker?.close();
    throw error;
  }
  const pipeline = entry ? (entry.module ?? entry.name) : resolvePath(request.pipeline);
  folder.writeRecord({ format: RUN_FORMAT, pipeline, options, control, created: new Date().toISOString() });
  writeFileSync(folder.path('graph.json'), `${JSON.stringify(graph.toJson(), null, 2)}\n`);
  writeFileSync(folder.path('graph.html'), await exportGraph(compiled, 'html'));
  return { dir: folder.dir, events: trainingEvents(folder, compiled, control, request, worker) };
}

export interface ResumeRequest {
  readonly backend?: string;
  readonly watchdogSeconds?: number;
  readonly signal?: AbortSignal;
}

/** Continues a run from its latest checkpoint, with the exact graph and control it was started with. */
export async function resume(dir: string, request: ResumeRequest = {}): Promise<TrainingRun> {
  const folder = RunFolder.open(dir);
  const record = folder.record;
  if (!folder.pointer('last')) {
    throw new Error(`${dir}: the run has no checkpoint to resume from (it stopped before its first epoch ended); start it again with samflow train`);
  }
  const name = folder.resolveCheckpoint('last');
  const state = folder.checkpointState(name);
  if (state.ended?.complete) {
    throw new Error(`${dir}: the run has ended (${state.ended.reason ?? 'all epochs done'}); nothing to resume. Evaluate it with: samflow eval ${dir} --data DIR`);
  }
  const compiled = compile(await loadGraphFile(folder.path('graph.json')));
  const worker = await startWorker(compiled, request);
  return {
    dir: folder.dir,
    events: trainingEvents(folder, compiled, TrainControl.parse(record.control), request, worker, { name, state }),
  };
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const samePosition = (a: RunPosition | undefined, b: RunPosition) => a !== undefined && a.items === b.items && a.groupItems === b.groupItems;

function previousEvents(path: string): LoggedEvent[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LoggedEvent];
      } catch {
        return []; // a line cut short by a kill
      }
    });
}

function trainingEvents(
  folder: RunFolder,
  compiled: CompiledGraph,
  control: TrainControl,
  request: { readonly signal?: AbortSignal },
  worker: TensorWorker | undefined,
  from?: { readonly name: string; readonly state: RunState },
): Observable<RunEvent> {
  return new Observable<RunEvent>((subscriber) => {
    const eventsPath = folder.path('events.jsonl');
    // The report shows one run: what a killed attempt did after the checkpoint it resumes from is done again.
    const logged = previousEvents(eventsPath);
    const resumedAt = from ? logged.map((e) => e.type === 'checkpoint' && e.path === folder.checkpointDir(from.name)).lastIndexOf(true) : -1;
    const history = resumedAt >= 0 ? logged.slice(0, resumedAt + 1) : logged;
    // One synchronous append per event, before it is passed on: a process killed at any moment has
    // recorded everything it emitted. (A buffered stream lost its last lines to a kill -9, and the
    // resume then rebuilt the report without the killed attempt's last checkpointed items.)
    const log = openSync(eventsPath, 'a');
    let open = true;
    const closeLog = () => {
      if (open) closeSync(log);
      open = false;
    };
    const selection = new ModelSelection(control, from?.state.selection);
    const scored = new Set(selection.state().scores.map((s) => s.epoch));
    const monitored = new Map<number, number[]>();
    const reported = new Map<number, Set<string>>();
    let updates = from?.state.updates ?? 0;
    let saved: { name: string; position: RunPosition } | undefined = from ? { name: from.name, position: from.state.position } : undefined;
    const early = new AbortController();
    const signal = request.signal ? AbortSignal.any([early.signal, request.signal]) : early.signal;

    const emit = (raw: RunEvent) => {
      // A run that fails keeps its checkpoints: say which one is the latest.
      const event = raw.type === 'failed' && saved ? { ...raw, error: `${raw.error}; the last checkpoint is ${folder.checkpointDir(saved.name)}` } : raw;
      // The record is timestamped (the report's throughput); subscribers get the event as the run made it.
      const logged: LoggedEvent = { ...event, time: new Date().toISOString() };
      history.push(logged);
      if (open) writeSync(log, `${JSON.stringify(logged)}\n`);
      if (event.type === 'metric') {
        if (event.name === 'lr' && event.step !== undefined) updates = Math.max(updates, event.step + 1);
        if (event.split === control.split && event.epoch !== undefined) {
          const names = reported.get(event.epoch) ?? new Set();
          reported.set(event.epoch, names.add(event.name));
          if (event.name === control.monitor) monitored.set(event.epoch, [...(monitored.get(event.epoch) ?? []), event.value]);
        }
      }
      subscriber.next(event);
    };
    const writeReport = async () => {
      const baseId = saved ? baseCheckpointId(folder.checkpointDir(saved.name)) : undefined;
      writeFileSync(folder.path('report.html.tmp'), await runReport(compiled, history, { record: folder.record, ...(baseId ? { baseId } : {}) }));
      renameSync(folder.path('report.html.tmp'), folder.path('report.html'));
    };

    const onBoundary = async (boundary: Boundary) => {
      if (boundary.epoch === undefined) return;
      for (const [epoch, names] of reported) {
        if (!monitored.has(epoch) && !scored.has(epoch)) {
          throw new Error(
            `training control monitors '${control.monitor}' on split '${control.split}', but epoch ${epoch + 1} reported ${[...names].sort().join(', ')} there; choose one of those with --monitor`,
          );
        }
      }
      const ended = boundary.reason === 'end' ? { complete: !boundary.stopping || early.signal.aborted, ...(boundary.stopping ? { reason: boundary.stopping } : {}) } : undefined;
      if (samePosition(saved?.position, boundary.position)) {
        if (ended) folder.markEnded(saved!.name, ended);
        return;
      }
      const whole = boundary.position.groupItems === 0;
      const name = whole ? `epoch-${boundary.epoch + 1}` : `epoch-${boundary.epoch + 1}-step-${updates}`;
      const epoch = [...monitored.keys()].filter((e) => !scored.has(e)).at(-1);
      const observation = epoch !== undefined ? selection.observe(epoch, mean(monitored.get(epoch)!), name) : undefined;
      if (epoch !== undefined) scored.add(epoch);
      const state: RunState = { position: boundary.position, epoch: boundary.epoch, updates, selection: selection.state(), ...(ended ? { ended } : {}) };
      const path = await folder.commitCheckpoint(name, state, (dir) => boundary.save(dir));
      saved = { name, position: boundary.position };
      const best = selection.best;
      if (observation?.improved && best) folder.setPointer('best', { checkpoint: best.checkpoint, epoch: best.epoch, metric: `${control.split} ${control.monitor}`, value: best.value });
      const keep = new Set([name, ...selection.kept.map((s) => s.checkpoint)]);
      for (const other of folder.checkpoints()) if (!keep.has(other)) folder.removeCheckpoint(other);
      const tags = ['last', ...(observation?.improved ? ['best'] : []), ...(selection.kept.some((s) => s.checkpoint === name) ? [`top-${control.keep}`] : [])];
      boundary.emit({ type: 'checkpoint', path, epoch: boundary.epoch, step: updates, tags });
      if (observation) {
        boundary.emit({
          type: 'log',
          message: `${control.split} ${control.monitor} ${observation.improved ? 'improved to' : 'is'} ${mean(monitored.get(epoch!)!).toFixed(4)} at epoch ${epoch! + 1}; best ${best ? `${best.value.toFixed(4)} (checkpoint ${best.checkpoint})` : 'none yet (every score so far is NaN)'}`,
        });
      }
      await writeReport();
      if (observation?.stop) early.abort(observation.stop);
    };

    if (from) emit({ type: 'log', message: `resuming from ${folder.checkpointDir(from.name)} at item ${from.state.position.items} (epoch ${from.state.epoch + 1}, ${from.state.updates} updates done)` });
    emit({
      type: 'log',
      message: `training control: checkpoint at each epoch's end${control.checkpointEvery ? ` and every ${control.checkpointEvery} items` : ''}, keep the ${control.keep} best by ${control.split} ${control.monitor} (${control.mode}) + the latest${control.patience ? `, stop after ${control.patience} validated epochs without improvement${control.minDelta ? ` > ${control.minDelta}` : ''}` : ''}; run folder ${folder.dir}`,
      data: control,
    });
    const runSub = run(compiled, {
      ...(worker ? { executor: async () => worker } : {}),
      onBoundary,
      boundaryEvery: control.checkpointEvery,
      signal,
      ...(from ? { resume: { dir: folder.checkpointDir(from.name), position: from.state.position } } : {}),
    }).subscribe({
      next: emit,
      error: (error: unknown) => subscriber.error(error),
      complete: () => {
        writeReport()
          .then(closeLog)
          .then(() => subscriber.complete(), (error: unknown) => subscriber.error(error));
      },
    });
    return () => {
      runSub.unsubscribe();
      closeLog();
    };
  });
}
