/**
 * `samflow eval RUN --data DIR` and `samflow predict RUN --images DIR --out DIR`: a trained
 * run's checkpoint on other data, from the run folder alone.
 */
import type { Command } from 'commander';
import { evaluate, evaluationSplits, predict } from '../api/inference.ts';
import { BINARY_METRICS } from '../nodes/metrics/binary-metrics.ts';
import { followRun } from './follow-run.ts';
import { collect, parseSettings } from './settings.ts';
import { backendOption } from './train-commands.ts';
import { evaluateDistributed, predictDistributed } from '../distributed/distributed-inference.ts';
import { distributionOf, prefixOption, redisOption, shardSizeOption, type DistributionFlags } from './queue-options.ts';

const checkpointHelp = "which checkpoint: best (default; last if the run has no best), last, or a name under checkpoints/";
const baseHelp = 'where the base SAM weights are now, if they moved (checked against the base the adapter was trained on)';
const setHelp = 'a pipeline option to change for this run only, e.g. --set skipUnpaired=true (repeatable)';

export function registerInferenceCommands(program: Command, setCode: (code: number) => void): void {
  program
    .command('eval')
    .description('score a trained run on a data set folder at each ground truth’s own resolution: RUN/eval/<name>/metrics.json + per-image.csv')
    .argument('<run-dir>', 'a run folder written by samflow train')
    .requiredOption('--data <dir>', 'a data set folder in any layout the readers know (or just images/ + masks/)')
    .option('--split <names>', "which split, several comma-separated, or 'tests' for every test split (PraNet's test/Kvasir, test/CVC-ClinicDB, ...) (default: the folder's only split, or its only test split)")
    .option('--metrics <list>', `comma-separated, of ${BINARY_METRICS.join(', ')} (default: all)`)
    .option('--name <name>', 'the folder name under RUN/eval (default: the data folder’s name and split)')
    .option('--baseline <run-dir>', 'a baseline run (e.g. LoRA-STL) already evaluated on the same data and split: also report delta_m, Δm (%) against it')
    .option('--checkpoint <which>', checkpointHelp)
    .option('--base-checkpoint <file>', baseHelp)
    .option('--set <key=value>', setHelp, collect, [])
    .addOption(backendOption())
    .option('--json', 'print events as JSON lines')
    .addOption(redisOption('spread the eval over samflow worker processes through the BullMQ queues on this Redis'))
    .addOption(shardSizeOption())
    .addOption(prefixOption())
    .action(async (dir: string, { redis, shardSize, prefix, ...opts }: DistributionFlags & { data: string; split?: string; metrics?: string; name?: string; baseline?: string; checkpoint?: string; baseCheckpoint?: string; set: string[]; backend?: string; json?: boolean }) => {
      const metrics = opts.metrics?.split(',').map((m) => m.trim()).filter(Boolean);
      const unknown = metrics?.filter((m) => !(BINARY_METRICS as readonly string[]).includes(m)) ?? [];
      if (unknown.length) throw new Error(`--metrics: unknown ${unknown.join(', ')} (expected some of ${BINARY_METRICS.join(', ')})`);
      const { metrics: _list, json: _json, set, split: _split, ...rest } = opts;
      const splits = evaluationSplits(opts.data, opts.split);
      if (opts.name && splits.length > 1) throw new Error(`--name names one evaluation, but --split gives ${splits.length}; leave --name out (each is named after the data folder and its split)`);
      let code = 0;
      const results: string[] = [];
      for (const split of splits) {
        const request = { run: dir, ...rest, ...(split ? { split } : {}), set: parseSettings(set), ...(metrics ? { metrics } : {}) };
        const distribution = distributionOf({ redis, shardSize, prefix });
        const started = distribution ? await evaluateDistributed(request, distribution) : await evaluate(request);
        if (!opts.json) process.stdout.write(`evaluating ${started.checkpoint} on ${opts.data}${split ? ` (${split})` : ''}\n`);
        const followed = await followRun(started.events, { json: opts.json });
        code ||= followed.code;
        const written = followed.events.find((e) => e.type === 'log' && e.message.startsWith('wrote '));
        if (written?.type === 'log') {
          const result = written.data as { metrics: Record<string, number>; images: number; split?: string };
          results.push(`${result.images} images${result.split ? ` (${result.split})` : ''}: ${formatMetrics(result.metrics)}\n${written.message}`);
        }
      }
      if (!opts.json) for (const line of results) process.stdout.write(`${line}\n`);
      setCode(code);
    });

  program
    .command('predict')
    .description('write a trained run’s predicted mask for every image of a folder: one PNG per image at its own size, names kept')
    .argument('<run-dir>', 'a run folder written by samflow train')
    .requiredOption('--images <dir>', 'a folder of images (jpg, png, tif, bmp)')
    .requiredOption('--out <dir>', 'where to write <name>.png; an existing mask there is never overwritten')
    .option('--probs', 'binary masks: write probabilities as 0..255 grey instead of 0/255 masks')
    .option('--palette', 'class masks: also write colour/<name>.png, one colour per class')
    .option('--checkpoint <which>', checkpointHelp)
    .option('--base-checkpoint <file>', baseHelp)
    .option('--set <key=value>', setHelp, collect, [])
    .addOption(backendOption())
    .option('--json', 'print events as JSON lines')
    .addOption(redisOption('spread the predict over samflow worker processes through the BullMQ queues on this Redis'))
    .addOption(shardSizeOption())
    .addOption(prefixOption())
    .action(async (dir: string, { redis, shardSize, prefix, ...opts }: DistributionFlags & { images: string; out: string; probs?: boolean; palette?: boolean; checkpoint?: string; baseCheckpoint?: string; set: string[]; backend?: string; json?: boolean }) => {
      const { set, ...rest } = opts;
      const request = { run: dir, ...rest, set: parseSettings(set) };
      const distribution = distributionOf({ redis, shardSize, prefix });
      const started = distribution ? await predictDistributed(request, distribution) : await predict(request);
      if (!opts.json) process.stdout.write(`predicting with ${started.checkpoint} on ${opts.images}\n`);
      const { code } = await followRun(started.events, { json: opts.json });
      setCode(code);
    });
}

/** Metric means on one line; per-class IoU (iou/<k>) as a table below it. */
export function formatMetrics(metrics: Record<string, number>): string {
  const perClass = Object.entries(metrics).filter(([k]) => /^iou\/\d+$/.test(k));
  const line = Object.entries(metrics)
    .filter(([k]) => !/^iou\/\d+$/.test(k))
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join(', ');
  if (!perClass.length) return line;
  const rows = perClass.sort(([a], [b]) => Number(a.slice(4)) - Number(b.slice(4))).map(([k, v]) => `  class ${k.slice(4).padStart(3)}  ${v.toFixed(4)}`);
  return [line, '  per-class IoU:', ...rows].join('\n');
}
