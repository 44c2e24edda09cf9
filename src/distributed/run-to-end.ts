/**
 * Runs a job's graph or training run to its end inside a worker process: progress goes to the
 * BullMQ job (throttled), and a `failed` event becomes an error. A failure in the input (a source
 * node, i.e. a file that cannot be read) is an UnrecoverableError: retrying gives the same
 * answer, so the job fails once, naming the file.
 */
import { UnrecoverableError } from 'bullmq';
import { lastValueFrom, tap, type Observable } from 'rxjs';
import type { RunEvent } from '../graph/events.ts';

export interface JobProgress {
  updateProgress(progress: object): Promise<void>;
}

type Failed = Extract<RunEvent, { type: 'failed' }>;

export async function runToEnd(
  events: Observable<RunEvent>,
  job: JobProgress,
  options: { readonly isInputNode?: (node: string) => boolean; readonly describe: string },
): Promise<RunEvent[]> {
  const seen: RunEvent[] = [];
  let items = 0;
  let reported = 0;
  let failed: Failed | undefined;
  await lastValueFrom(
    events.pipe(
      tap((event) => {
        seen.push(event);
        if (event.type === 'failed') failed = event;
        if (event.type === 'progress') {
          items = event.items;
          if (Date.now() - reported > 250) {
            reported = Date.now();
            void job.updateProgress({ items }).catch(() => undefined);
          }
        }
      }),
    ),
    { defaultValue: undefined },
  );
  if (failed) {
    const message = `${options.describe}: ${failed.error}`;
    if (failed.node !== undefined && options.isInputNode?.(failed.node)) throw new UnrecoverableError(message);
    throw new Error(message);
  }
  await job.updateProgress({ items }).catch(() => undefined);
  return seen;
}
