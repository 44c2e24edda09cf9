/** The `samflow` command line. */
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { lastValueFrom, tap } from 'rxjs';
import { compile } from '../graph/compile.ts';
import { exportGraph, type ExportFormat } from '../graph/export/index.ts';
import type { RunEvent } from '../graph/events.ts';
import { run } from '../graph/run.ts';
import { runReport } from '../nodes/report/html-report.ts';
import { TensorWorker } from '../../workers/host.ts';
import { BACKEND_ORDER } from '../../workers/backend.ts';
import { DEFAULT_PIPELINE, listPipelines } from '../../pipelines/index.ts';
import { ConsoleReporter } from './console-reporter.ts';
import { loadPipeline, parseSettings } from './load-pipeline.ts';
import { registerSamForward } from './sam-forward-command.ts';
import { registerPeftReport } from './peft-report-command.ts';
import { addMetricsCommand } from './metrics-command.ts';
import { dataCommand } from './data-command.ts';

const collect = (value: string, previous: string[]) => [...previous, value];
const backendOption = () =>
  new Option('--backend <name>', `tensor backend: auto or one of ${BACKEND_ORDER.join(', ')} (default: $SAMFLOW_BACKEND, else auto)`);

export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = new Command('samflow')
    .description('dataflow graphs for parameter-efficient fine-tuning of Segment Anything')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('run a pipeline: a built-in name or a graph JSON file')
    .argument('[pipeline]', `pipeline name (${listPipelines().map((p) => p.name).join(', ')}) or graph .json`, DEFAULT_PIPELINE)
    .addOption(backendOption())
    .option('--set <key=value>', 'pipeline option (repeatable), e.g. --set epochs=2', collect, [])
    .option('--epochs <n>', 'shorthand for --set epochs=N')
    .option('--out <dir>', 'folder for events.jsonl, graph.json and graph.html (default runs/<pipeline>-<time>)')
    .option('--json', 'print events as JSON lines instead of text')
    .action(async (spec: string, opts: { backend?: string; set: string[]; epochs?: string; out?: string; json?: boolean }) => {
      const settings = parseSettings(opts.epochs !== undefined ? [...opts.set, `epochs=${opts.epochs}`] : opts.set);
      const graph = await loadPipeline(spec, settings);
      const out = opts.out ?? join('runs', `${graph.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      mkdirSync(out, { recursive: true });
      const compiled = compile(graph);
      writeFileSync(join(out, 'graph.json'), `${JSON.stringify(graph.toJson(), null, 2)}\n`);
      writeFileSync(join(out, 'graph.html'), await exportGraph(compiled, 'html'));
      const log = createWriteStream(join(out, 'events.jsonl'));
      const reporter = new ConsoleReporter();
      const events: RunEvent[] = [];
      const executor = () => TensorWorker.start(opts.backend !== undefined ? { backend: opts.backend } : {});
      await lastValueFrom(
        run(compiled, { executor }).pipe(
          tap((event) => {
            log.write(`${JSON.stringify(event)}\n`);
            events.push(event);
            if (opts.json) process.stdout.write(`${JSON.stringify(event)}\n`);
            else reporter.handle(event);
            if (event.type === 'failed') code = 1;
          }),
        ),
        { defaultValue: undefined },
      );
      await new Promise((resolve) => log.end(resolve));
      writeFileSync(join(out, 'report.html'), await runReport(compiled, events));
      if (!opts.json) {
        process.stdout.write(`wrote ${out}/: report.html (loss curves, metrics, graph), events.jsonl (every event), graph.json (rerun with: samflow run ${join(out, 'graph.json')}), graph.html\n`);
      }
    });

  program
    .command('graph')
    .description('export a pipeline as a picture or as data')
    .argument('<pipeline>', 'pipeline name or graph .json')
    .addOption(new Option('--format <format>', 'output format').choices(['mermaid', 'dot', 'html', 'json']).makeOptionMandatory())
    .option('--set <key=value>', 'pipeline option (repeatable)', collect, [])
    .option('--out <file>', 'write here instead of standard output')
    .action(async (spec: string, opts: { format: ExportFormat; set: string[]; out?: string }) => {
      const graph = await loadPipeline(spec, parseSettings(opts.set));
      const text = await exportGraph(compile(graph), opts.format);
      if (opts.out) {
        writeFileSync(opts.out, text);
        process.stdout.write(`wrote ${opts.out} (${opts.format}, ${graph.nodes.length} nodes)\n`);
      } else {
        process.stdout.write(text);
      }
    });

  program
    .command('backends')
    .description('say which TensorFlow.js backends load here, which one runs, and why the others do not')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await TensorWorker.probe();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      for (const attempt of report.attempts) {
        process.stdout.write(`${attempt.ok ? 'loaded  ' : 'missing '} ${attempt.name.padEnd(14)} ${attempt.detail}\n`);
      }
      process.stdout.write(`selected: ${report.selected} (tfjs backend '${report.active}'); override with --backend or SAMFLOW_BACKEND\n`);
    });

  addMetricsCommand(program);

  registerSamForward(program);
  registerPeftReport(program);

  program.addCommand(dataCommand());

  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    const commanderCode = (error as { code?: string }).code;
    if (commanderCode === 'commander.helpDisplayed' || commanderCode === 'commander.version') return 0;
    if (commanderCode?.startsWith('commander.')) return 2;
    process.stderr.write(`samflow: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  return code;
}
