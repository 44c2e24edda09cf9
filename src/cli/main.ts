/** The `samflow` command line. */
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { compile } from '../graph/compile.ts';
import { exportGraph, type ExportFormat } from '../graph/export/index.ts';
import { TensorWorker } from '../../workers/host.ts';
import { loadPipeline } from '../api/pipeline.ts';
import { collect, parseSettings } from './settings.ts';
import { registerInferenceCommands } from './inference-commands.ts';
import { registerTrainCommands } from './train-commands.ts';
import { registerSamForward } from './sam-forward-command.ts';
import { registerPeftReport } from './peft-report-command.ts';
import { addMetricsCommand } from './metrics-command.ts';
import { dataCommand } from './data-command.ts';
import { registerWorkerCommand } from './worker-command.ts';
import { registerSweepCommand } from './sweep-command.ts';
import { registerPretrainCommand } from './pretrain-command.ts';
import { registerCompareCommand } from './compare-command.ts';


export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = new Command('samflow')
    .description('dataflow graphs for parameter-efficient fine-tuning of Segment Anything')
    .showHelpAfterError()
    .exitOverride();

  registerTrainCommands(program, (c) => (code = c));
  registerInferenceCommands(program, (c) => (code = c));
  registerSweepCommand(program, (c) => (code = c));
  registerPretrainCommand(program, (c) => (code = c));
  registerCompareCommand(program, (c) => (code = c));
  registerWorkerCommand(program);

  program
    .command('graph')
    .description('export a pipeline as a picture or as data')
    .argument('<pipeline>', 'pipeline name, pipeline module (.ts) or graph .json')
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
