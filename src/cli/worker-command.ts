/**
 * `samflow worker --redis URL`: takes jobs from samflow's queues (shards of distributed predict /
 * eval, runs of a sweep) until Ctrl-C or SIGTERM, which let the jobs in progress finish first.
 */
import { Option, type Command } from 'commander';
import { QUEUE_NAMES, type QueueKind } from '../distributed/queues.ts';
import { startWorker } from '../distributed/worker.ts';
import { prefixOption, redisOption, wholeNumber } from './queue-options.ts';
import { backendOption } from './train-commands.ts';

const KINDS = Object.keys(QUEUE_NAMES) as QueueKind[];

function parseQueues(value: string): QueueKind[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(KINDS as string[]).includes(n));
  if (unknown.length || !names.length) throw new Error(`--queues ${value}: expected some of ${KINDS.join(', ')} (shards: predict and eval; runs: sweeps)`);
  return names as QueueKind[];
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run jobs from the BullMQ queues on Redis: shards of predict / eval --redis, and runs of sweep --redis')
    .addOption(redisOption('the Redis holding the queues').makeOptionMandatory())
    .addOption(new Option('--concurrency <n>', 'jobs run at once by this process (each with its own tensor worker thread)').default(1).argParser(wholeNumber('--concurrency')))
    .option('--queues <list>', `which queues to take jobs from, comma-separated: ${KINDS.join(', ')} (default: all)`)
    .addOption(prefixOption())
    .addOption(new Option('--lock-duration <ms>', 'a job whose worker stops renewing its lock this long (killed, machine gone) is handed to another worker').default(30_000).argParser(wholeNumber('--lock-duration', 100)))
    .addOption(new Option('--stalled-interval <ms>', 'how often to look for such jobs').default(30_000).argParser(wholeNumber('--stalled-interval', 100)))
    .addOption(backendOption())
    .action(async (opts: { redis: string; concurrency: number; queues?: string; prefix?: string; lockDuration: number; stalledInterval: number; backend?: string }) => {
      const worker = await startWorker({
        redis: opts.redis,
        concurrency: opts.concurrency,
        lockDurationMs: opts.lockDuration,
        stalledIntervalMs: opts.stalledInterval,
        ...(opts.queues ? { queues: parseQueues(opts.queues) } : {}),
        ...(opts.prefix ? { prefix: opts.prefix } : {}),
        ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
      });
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          process.stdout.write(`samflow worker: ${signal}: finishing the jobs in progress, then exiting\n`);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await worker.close();
    });
}
