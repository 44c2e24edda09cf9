/**
 * The run folder (DESIGN.md "The run folder"): what `train` writes and `eval`, `predict` and
 * `resume` read. Nothing in it is overwritten by another run.
 *
 * ```
 * run.json              pipeline, options, training control, base checkpoint
 * graph.json, graph.html
 * events.jsonl          every event, appended by a resumed run
 * report.html           rewritten at every checkpoint and at the end
 * checkpoints/
 *   epoch-3/            one folder per checkpoint: each worker node's state (<node>.safetensors
 *                       + .json; the adapter node's is an ordinary adapter checkpoint) and
 *                       run-state.json (position, model selection), written last
 *   last.json           the checkpoint a resume continues from
 *   best.json           the best checkpoint by the monitored metric
 * eval/<name>/          one folder per evaluation
 * ```
 *
 * A checkpoint is written into a temporary folder and renamed when complete, and the pointers
 * are replaced by rename, so a kill at any moment leaves either the old checkpoint or the new
 * one, never a half-written one that loads.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunPosition } from '../graph/events.ts';
import type { SelectionState, TrainControl } from '../nodes/train/model-selection.ts';

export const RUN_FORMAT = 'samflow-run@1';

export interface RunRecord {
  readonly format: typeof RUN_FORMAT;
  /** A built-in pipeline's name, or the absolute path of the module that exports it. */
  readonly pipeline: string;
  readonly options: Record<string, unknown>;
  readonly control: TrainControl;
  readonly created: string;
}

export interface RunState {
  readonly position: RunPosition;
  /** The epoch of the last item consumed. */
  readonly epoch: number;
  /** Optimiser updates done (from the run's `lr` events). */
  readonly updates: number;
  readonly selection: SelectionState;
  /** Set on the checkpoint written when the run ended: how. */
  readonly ended?: { readonly complete: boolean; readonly reason?: string };
}

export interface Pointer {
  readonly checkpoint: string;
  readonly epoch: number;
  readonly metric?: string;
  readonly value?: number;
}

/** Writes `text` beside `path` and renames it into place: a reader never sees half a file. */
export function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

function readJson<T>(path: string, what: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new Error(`${path}: missing; ${what}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

export class RunFolder {
  private constructor(readonly dir: string) {}

  /** A new run folder; one that already holds anything is an error, never overwritten. */
  static create(dir: string): RunFolder {
    RunFolder.refuseExisting(dir);
    const path = resolve(dir);
    try {
      mkdirSync(join(path, 'checkpoints'), { recursive: true });
    } catch (error) {
      throw new Error(`${dir}: cannot create the run folder (${error instanceof Error ? error.message : String(error)}); choose another --out`);
    }
    return new RunFolder(path);
  }

  /** Fails unless `dir` is absent or empty (checked before any work starts, and again at creation). */
  static refuseExisting(dir: string): void {
    const path = resolve(dir);
    if (existsSync(path) && readdirSync(path).length > 0) {
      const isRun = existsSync(join(path, 'run.json'));
      throw new Error(
        `${dir} already exists${isRun ? ' and holds a run' : ' and is not empty'}; a run never overwrites another: choose another --out${isRun ? `, or continue that run with: samflow resume ${dir}` : ''}`,
      );
    }
  }

  /** An existing run folder, checked to be one. */
  static open(dir: string): RunFolder {
    const path = resolve(dir);
    if (!existsSync(join(path, 'run.json'))) {
      throw new Error(`${dir}: not a run folder (no run.json); give the folder a 'samflow train' run wrote`);
    }
    return new RunFolder(path);
  }

  get record(): RunRecord {
    const record = readJson<RunRecord>(join(this.dir, 'run.json'), 'this run folder is incomplete');
    if (record.format !== RUN_FORMAT) throw new Error(`${join(this.dir, 'run.json')}: format '${String(record.format)}' is not ${RUN_FORMAT}`);
    return record;
  }

  writeRecord(record: RunRecord): void {
    writeAtomically(join(this.dir, 'run.json'), `${JSON.stringify(record, null, 2)}\n`);
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  checkpointDir(name: string): string {
    return join(this.dir, 'checkpoints', name);
  }

  /**
   * Writes checkpoint `name`: `write` fills a temporary folder, run-state.json goes in last,
   * then the folder is renamed into place and `last.json` points to it.
   */
  async commitCheckpoint(name: string, state: RunState, write: (dir: string) => Promise<void>): Promise<string> {
    const final = this.checkpointDir(name);
    const temporary = this.checkpointDir(`.${name}.partial`);
    rmSync(temporary, { recursive: true, force: true });
    mkdirSync(temporary, { recursive: true });
    await write(temporary);
    writeFileSync(join(temporary, 'run-state.json'), `${JSON.stringify(state, null, 2)}\n`);
    // A resumed run may reach a checkpoint the killed one had already written: the new one replaces it.
    rmSync(final, { recursive: true, force: true });
    renameSync(temporary, final);
    this.setPointer('last', { checkpoint: name, epoch: state.epoch });
    return final;
  }

  /** Records on a checkpoint that the run ended there (how), so resume can tell a finished run from an interrupted one. */
  markEnded(name: string, ended: NonNullable<RunState['ended']>): void {
    writeAtomically(join(this.checkpointDir(name), 'run-state.json'), `${JSON.stringify({ ...this.checkpointState(name), ended }, null, 2)}\n`);
  }

  setPointer(which: 'last' | 'best', pointer: Pointer): void {
    writeAtomically(join(this.dir, 'checkpoints', `${which}.json`), `${JSON.stringify(pointer, null, 2)}\n`);
  }

  pointer(which: 'last' | 'best'): Pointer | undefined {
    const path = join(this.dir, 'checkpoints', `${which}.json`);
    return existsSync(path) ? readJson<Pointer>(path, '') : undefined;
  }

  /** The state saved with a checkpoint (its run-state.json is written last, so it exists only if the checkpoint is complete). */
  checkpointState(name: string): RunState {
    return readJson<RunState>(join(this.checkpointDir(name), 'run-state.json'), `checkpoint '${name}' is incomplete or was removed`);
  }

  /** Checkpoint folders present (complete ones). */
  checkpoints(): string[] {
    const dir = join(this.dir, 'checkpoints');
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && existsSync(join(dir, e.name, 'run-state.json')))
      .map((e) => e.name);
  }

  removeCheckpoint(name: string): void {
    rmSync(this.checkpointDir(name), { recursive: true, force: true });
  }

  /**
   * A checkpoint by name, or 'best' / 'last'; the error lists what exists.
   */
  resolveCheckpoint(which: string): string {
    const name = which === 'best' || which === 'last' ? this.pointer(which)?.checkpoint : which;
    const present = this.checkpoints();
    if (!name || !present.includes(name)) {
      throw new Error(
        `${this.dir}: no checkpoint '${which}'${name && name !== which ? ` (${which} points to '${name}')` : ''}; the run has ${present.length ? present.join(', ') : 'none (did it train for a whole epoch?)'}`,
      );
    }
    return name;
  }
}
