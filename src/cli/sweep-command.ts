/**
 * `samflow sweep SPEC.json [--redis URL]`: the runs a spec lists (pipelines x options), here one
 * after another or on workers, and a summary table (also summary.html and summary.json in the
 * sweep's folder), best first.
 */
import type { Command } from 'commander';
import { sweep } from '../distributed/sweep.ts';
import { ConsoleReporter } from './console-reporter.ts';
import { prefixOption, redisOption } from './queue-options.ts';
import { backendOption } from './train-commands.ts';

export function registerSweepCommand(program: Command, setCode: (code: number) => void): void {
  program
    .command('sweep')
    .description('train every run a spec lists (pipelines x grids of options: methods, data sets, seeds, lrs) and rank them: <out>/<run>/ per run, summary.html')
    .argument('<spec>', 'sweep spec .json: {"out": DIR, "pipelines": [{"pipeline": NAME, "options": {...}, "grid": {"seed": [0, 1], ...}}]}')
    .option('--out <dir>', "the sweep's folder, instead of the spec's \"out\"")
    .addOption(redisOption('queue the runs for samflow worker processes on this Redis instead of running them here'))
    .addOption(prefixOption())
    .addOption(backendOption())
    .action(async (spec: string, opts: { out?: string; redis?: string; prefix?: string; backend?: string }) => {
      const reporters = new Map<string, ConsoleReporter>();
      const outcome = await sweep({
        spec,
        ...(opts.out ? { out: opts.out } : {}),
        ...(opts.redis ? { queue: { redis: opts.redis, ...(opts.prefix ? { prefix: opts.prefix } : {}) } } : {}),
        ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
        log: (line) => process.stdout.write(`${line}\n`),
        onRunEvent: (run, event) => {
          let reporter = reporters.get(run.name);
          if (!reporter) reporters.set(run.name, (reporter = new ConsoleReporter()));
          reporter.handle(event);
        },
      });
      process.stdout.write(`${outcome.table}\nwrote ${outcome.out}/summary.html and summary.json\n`);
      setCode(outcome.results.some((r) => r.status === 'failed') ? 1 : 0);
    });
}
