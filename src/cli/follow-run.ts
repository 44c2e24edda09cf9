/**
 * Prints a run's events as it goes (text, or JSON lines with --json) and turns its end into an
 * exit status. Ctrl-C once asks the run to stop gracefully (the step finishes, a checkpoint and
 * the report are written, the status is 130); a second Ctrl-C exits at once.
 */
import { lastValueFrom, tap, type Observable } from 'rxjs';
import type { RunEvent } from '../graph/events.ts';
import { ConsoleReporter } from './console-reporter.ts';

export const INTERRUPTED = 'interrupted (Ctrl-C)';

export interface Followed {
  readonly code: number;
  readonly events: readonly RunEvent[];
}

/** An AbortController wired to SIGINT for the duration of `body`. */
export async function withInterrupt<T>(body: (signal: AbortSignal, interrupted: () => boolean) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) {
      process.stderr.write('samflow: second Ctrl-C, exiting now without a checkpoint\n');
      process.exit(130);
    }
    process.stderr.write('samflow: stopping after the current step (writing a checkpoint and the report); Ctrl-C again to exit at once\n');
    controller.abort(INTERRUPTED);
  };
  process.on('SIGINT', onSigint);
  try {
    return await body(controller.signal, () => controller.signal.aborted);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export async function followRun(events: Observable<RunEvent>, options: { json?: boolean }): Promise<Followed> {
  const reporter = new ConsoleReporter();
  const seen: RunEvent[] = [];
  let code = 0;
  await lastValueFrom(
    events.pipe(
      tap((event) => {
        seen.push(event);
        if (options.json) process.stdout.write(`${JSON.stringify(event)}\n`);
        else reporter.handle(event);
        if (event.type === 'failed') code = 1;
        if (event.type === 'finished' && event.stopped === INTERRUPTED) code = 130;
      }),
    ),
    { defaultValue: undefined },
  );
  return { code, events: seen };
}
