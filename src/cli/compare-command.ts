/**
 * `samflow compare` (what `npm start` runs): PEFT methods fine-tuned from one base at the same
 * budget, the base itself without fine-tuning beside them, scored on a held-out split, one table
 * and one report (pipelines/peft-comparison.ts).
 */
import { Option, type Command } from 'commander';
import { compareMethods, DEFAULT_METHODS } from '../../pipelines/peft-comparison.ts';
import type { AdapterMethodName } from '../nodes/adapters/config.ts';
import { ConsoleReporter } from './console-reporter.ts';
import { collect, parseSettings } from './settings.ts';
import { backendOption, numberArg } from './train-commands.ts';

interface CompareFlags {
  out?: string;
  data?: string;
  checkpoint?: string;
  arch?: string;
  methods?: string;
  epochs?: number;
  lr?: number;
  batch?: number;
  seed?: number;
  set: string[];
  cache?: string;
  backend?: string;
  quiet?: boolean;
}

export function registerCompareCommand(program: Command, setCode: (code: number) => void): void {
  program
    .command('compare')
    .description('the main job: Conv-LoRA, LoRA and decoder-only fine-tuned from one pretrained base at the same budget, and the base without fine-tuning, scored on a held-out split: one table, one report')
    .option('--out <dir>', 'the comparison folder to create (default runs/compare-<time>): one run folder per method, report.html, comparison.json')
    .option('--data <dir>', 'a binary data set folder (default: a domain-shifted synthetic set written to <out>/data)')
    .option('--checkpoint <file>', "base SAM weights, .pth or .safetensors (default: the project's pretrained small SAM, built on first use and cached)")
    .option('--arch <name|file>', 'the checkpoint’s architecture: vit_b, vit_l, vit_h or an arch .json (default: arch.json beside the checkpoint)')
    .option('--methods <list>', `PEFT methods to compare, comma-separated (default ${DEFAULT_METHODS.join(',')})`)
    .addOption(new Option('--epochs <n>', 'passes over the training split, for every method').argParser(numberArg('--epochs', true)))
    .addOption(new Option('--lr <x>', 'peak learning rate, for every method').argParser(numberArg('--lr')))
    .addOption(new Option('--batch <n>', 'images per step, for every method').argParser(numberArg('--batch', true)))
    .addOption(new Option('--seed <n>', 'seed of every run (data order, augmentation, initialisation)').argParser(numberArg('--seed', true)))
    .option('--set <key=value>', 'any other conv-lora-binary option, for every run (repeatable)', collect, [])
    .option('--cache <dir>', "the pretrained base's cache root instead of $XDG_CACHE_HOME/samflow")
    .option('--quiet', 'print only what starts and ends, not each run’s progress')
    .addOption(backendOption())
    .action(async (flags: CompareFlags) => {
      const options: Record<string, unknown> = parseSettings(flags.set);
      for (const [flag, key] of [['epochs', 'epochs'], ['lr', 'lr'], ['batch', 'batchSize'], ['seed', 'seed']] as const) {
        if (flags[flag] !== undefined) options[key] = flags[flag];
      }
      for (const key of ['data', 'checkpoint', 'arch', 'method']) {
        if (key in options) throw new Error(`--set ${key}: the comparison sets it${key === 'method' ? ' for each run (use --methods)' : ` (use --${key})`}`);
      }
      const reporters = new Map<string, ConsoleReporter>();
      const outcome = await compareMethods({
        ...(flags.out ? { out: flags.out } : {}),
        ...(flags.data ? { data: flags.data } : {}),
        ...(flags.checkpoint ? { checkpoint: flags.checkpoint } : {}),
        ...(flags.arch ? { arch: flags.arch } : {}),
        ...(flags.methods ? { methods: flags.methods.split(',').map((m) => m.trim()).filter(Boolean) as AdapterMethodName[] } : {}),
        options,
        ...(flags.cache ? { cacheDir: flags.cache } : {}),
        ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
        log: (line) => process.stdout.write(`${line}\n`),
        onEvent: (phase, event) => {
          // Training progress (pre-training and each method); evaluations print only their end.
          if (flags.quiet || phase.startsWith('eval') || phase.startsWith('base ')) return;
          let reporter = reporters.get(phase);
          if (!reporter) reporters.set(phase, (reporter = new ConsoleReporter()));
          reporter.handle(event);
        },
      });
      process.stdout.write(`\n${outcome.table}\n\nreport: ${outcome.report}\n(one run folder per method in ${outcome.out}; each has its own report.html)\n`);
      setCode(outcome.rows.some((r) => r.error) ? 1 : 0);
    });
}
