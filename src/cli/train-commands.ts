/**
 * `samflow train`, `run` and `resume`: start a run into a new run folder, or continue one.
 * `train` takes the common options as flags (mapped onto the pipeline's options, so a flag the
 * pipeline has no option for is an error naming both); `run` takes `--set key=value` only.
 */
import { Option, type Command } from 'commander';
import { resume, train, type TrainRequest } from '../api/training.ts';
import { resolvePipeline } from '../api/pipeline.ts';
import { BACKEND_ORDER } from '../../workers/backend.ts';
import { DEFAULT_PIPELINE, listPipelines } from '../../pipelines/index.ts';
import { followRun, withInterrupt } from './follow-run.ts';
import { collect, parseSettings } from './settings.ts';


export const backendOption = () =>
  new Option('--backend <name>', `tensor backend: auto or one of ${BACKEND_ORDER.join(', ')} (default: $SAMFLOW_BACKEND, else auto)`);

function watchdogOption(): Option {
  return new Option('--watchdog <seconds>', 'end the run with an error when a step makes no progress this long (default: $SAMFLOW_WATCHDOG_S, else 600; 0: off)').argParser(numberArg('--watchdog'));
}

export function numberArg(flag: string, integer = false) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      throw new Error(`${flag}: expected ${integer ? 'an integer' : 'a number'}, got '${value}'`);
    }
    return n;
  };
}

/** train's flags and the pipeline option each sets. */
const PIPELINE_FLAGS = [
  ['data', 'data', '<dir>', 'a data set folder (its layout picks the reader)'],
  ['arch', 'arch', '<name|file>', 'vit_b, vit_l, vit_h or an arch .json (default: the pipeline’s)'],
  ['checkpoint', 'checkpoint', '<file>', 'base SAM weights (.pth or .safetensors)'],
  ['method', 'method', '<name>', 'PEFT method (conv-lora, lora, adapter, ssf, vpt, bitfit, decoder-only, full)'],
  ['epochs', 'epochs', '<n>', 'passes over the training split'],
  ['lr', 'lr', '<x>', 'peak learning rate'],
  ['batch', 'batchSize', '<n>', 'images per step'],
  ['accum', 'accumulate', '<n>', 'steps whose gradients make one update'],
  ['image-size', 'imageSize', '<px>', "the model's square input size"],
  ['seed', 'seed', '<n>', 'seed of the data order, augmentation and initialisation'],
] as const;
const NUMERIC = new Set(['epochs', 'lr', 'batch', 'accum', 'image-size', 'seed']);
const INTEGER = new Set(['epochs', 'batch', 'accum', 'image-size', 'seed']);

const CONTROL_FLAGS = [
  ['monitor', 'monitor', '<metric>', 'metric that picks the best checkpoint and stops early (e.g. sm, iou, loss)'],
  ['mode', 'mode', '<min|max>', 'whether lower or higher is better for --monitor'],
  ['patience', 'patience', '<n>', 'validated epochs without improvement before stopping (0: never)'],
  ['min-delta', 'minDelta', '<x>', 'an improvement must exceed this'],
  ['keep', 'keep', '<k>', 'best checkpoints to keep'],
  ['checkpoint-every', 'checkpointEvery', '<items>', 'also checkpoint every N items inside an epoch'],
] as const;

type Flags = Record<string, string | number | boolean | string[] | undefined>;

const camel = (flag: string) => flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

async function startAndFollow(request: TrainRequest, json: boolean | undefined): Promise<number> {
  return withInterrupt(async (signal) => {
    const started = await train({ ...request, signal });
    const { code } = await followRun(started.events, { json });
    if (!json) process.stdout.write(`run folder ${started.dir}: report.html, events.jsonl, graph.json, checkpoints/ (continue with: samflow resume ${started.dir})\n`);
    return code;
  });
}

export function registerTrainCommands(program: Command, setCode: (code: number) => void): void {
  const trainCommand = program
    .command('train')
    .description('train a pipeline into a new run folder: checkpoints (best-k by a metric + last), early stopping, report')
    .argument('[pipeline]', `a built-in pipeline (${listPipelines().map((p) => p.name).join(', ')}) or a pipeline module (.ts)`, DEFAULT_PIPELINE)
    .option('--out <dir>', 'the run folder to create (default runs/<pipeline>-<time>); never an existing one')
    .option('--set <key=value>', 'any other pipeline option (repeatable)', collect, [])
    .addOption(backendOption())
    .addOption(watchdogOption())
    .option('--json', 'print events as JSON lines');
  const addFlag = (flag: string, arg: string, help: string, parse?: (value: string) => number) =>
    trainCommand.addOption(parse ? new Option(`--${flag} ${arg}`, help).argParser(parse) : new Option(`--${flag} ${arg}`, help));
  for (const [flag, , arg, help] of PIPELINE_FLAGS) addFlag(flag, arg, help, NUMERIC.has(flag) ? numberArg(`--${flag}`, INTEGER.has(flag)) : undefined);
  for (const [flag, , arg, help] of CONTROL_FLAGS) {
    addFlag(flag, arg, help, flag === 'monitor' || flag === 'mode' ? undefined : numberArg(`--${flag}`, flag !== 'min-delta'));
  }
  trainCommand.action(async (spec: string, flags: Flags) => {
    const entry = await resolvePipeline(spec);
    const options: Record<string, unknown> = parseSettings((flags.set as string[]) ?? []);
    for (const [flag, key] of PIPELINE_FLAGS) {
      const value = flags[camel(flag)];
      if (value === undefined) continue;
      if (!(key in entry.options.shape)) {
        throw new Error(`--${flag}: pipeline '${entry.name}' has no option '${key}' (its options: ${Object.keys(entry.options.shape).join(', ')})`);
      }
      options[key] = value;
    }
    const control = Object.fromEntries(CONTROL_FLAGS.map(([flag, key]) => [key, flags[camel(flag)]]).filter(([, v]) => v !== undefined));
    setCode(
      await startAndFollow(
        {
          pipeline: spec,
          options,
          control,
          ...(flags.out ? { out: String(flags.out) } : {}),
          ...(flags.backend ? { backend: String(flags.backend) } : {}),
          ...(flags.watchdog !== undefined ? { watchdogSeconds: Number(flags.watchdog) } : {}),
        },
        flags.json as boolean | undefined,
      ),
    );
  });

  program
    .command('run')
    .description('run a pipeline (a built-in name, a pipeline module or a graph .json) into a new run folder')
    .argument('[pipeline]', `pipeline name (${listPipelines().map((p) => p.name).join(', ')}), module (.ts) or graph .json`, DEFAULT_PIPELINE)
    .addOption(backendOption())
    .addOption(watchdogOption())
    .option('--set <key=value>', 'pipeline option (repeatable), e.g. --set epochs=2', collect, [])
    .option('--epochs <n>', 'shorthand for --set epochs=N', numberArg('--epochs', true))
    .option('--out <dir>', 'the run folder to create (default runs/<pipeline>-<time>); never an existing one')
    .option('--json', 'print events as JSON lines instead of text')
    .action(async (spec: string, opts: { backend?: string; watchdog?: number; set: string[]; epochs?: number; out?: string; json?: boolean }) => {
      const options = parseSettings(opts.set);
      if (opts.epochs !== undefined) options.epochs = opts.epochs;
      const request = { pipeline: spec, options, ...(opts.out ? { out: opts.out } : {}), ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.watchdog !== undefined ? { watchdogSeconds: opts.watchdog } : {}) };
      setCode(await startAndFollow(request, opts.json));
    });

  program
    .command('resume')
    .description('continue a run from its latest checkpoint (after a kill, a crash or Ctrl-C): same graph, same control, same result')
    .argument('<run-dir>', 'a run folder written by samflow train')
    .addOption(backendOption())
    .addOption(watchdogOption())
    .option('--json', 'print events as JSON lines')
    .action(async (dir: string, opts: { backend?: string; watchdog?: number; json?: boolean }) => {
      setCode(
        await withInterrupt(async (signal) => {
          const resumed = await resume(dir, { signal, ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.watchdog !== undefined ? { watchdogSeconds: opts.watchdog } : {}) });
          const { code } = await followRun(resumed.events, { json: opts.json });
          if (!opts.json) process.stdout.write(`run folder ${resumed.dir}: report.html, events.jsonl, checkpoints/\n`);
          return code;
        }),
      );
    });
}
