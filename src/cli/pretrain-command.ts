/**
 * `samflow pretrain`: the project's own pretrained small SAM (pipelines/sam-pretrain-base.ts),
 * taken from the cache or built into it, with its zero-shot quality printed. `--out FILE` also
 * copies the checkpoint somewhere of the user's choosing; every pipeline takes it with
 * `--checkpoint`.
 */
import { copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { pretrainedBase, type BaseQuality } from '../../pipelines/sam-pretrain-base.ts';
import { ConsoleReporter } from './console-reporter.ts';
import { collect, parseSettings } from './settings.ts';
import { backendOption, numberArg } from './train-commands.ts';

export function formatQuality(q: BaseQuality): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  return [
    `zero-shot, one centre point per object, ${q.testScenes} held-out scenes:`,
    `  point IoU ${pct(q.pretrained.pointIou)} (untrained ${pct(q.untrained.pointIou)}), Dice ${pct(q.pretrained.pointDice)} (untrained ${pct(q.untrained.pointDice)})`,
    `  pre-trained in ${q.trainSeconds.toFixed(0)} s${q.backend ? ` on ${q.backend}` : ''}`,
  ].join('\n');
}

export function registerPretrainCommand(program: Command, setCode: (code: number) => void): void {
  program
    .command('pretrain')
    .description('the pretrained small SAM-architecture base: promptable pre-training on generic synthetic scenes, cached ($XDG_CACHE_HOME/samflow or ~/.cache/samflow) by options, seed and code')
    .option('--set <key=value>', "option of the sam-pretrain pipeline (repeatable): epochs, train, val, batchSize, lr, arch, seed, ...", collect, [])
    .option('--seed <n>', 'seed of the data, prompts and initialisation', numberArg('--seed', true))
    .option('--test <n>', 'held-out scenes for the zero-shot figures (default 64)', numberArg('--test', true))
    .option('--cache <dir>', "the cache's root instead of $XDG_CACHE_HOME/samflow")
    .option('--force', 'build again even when the cache has it')
    .option('--out <file>', 'also copy the checkpoint here (.safetensors)')
    .addOption(backendOption())
    .action(async (opts: { set: string[]; seed?: number; test?: number; cache?: string; force?: boolean; out?: string; backend?: string }) => {
      if (opts.out && !opts.out.endsWith('.safetensors')) throw new Error(`--out ${opts.out}: the checkpoint is a .safetensors file; name it so`);
      const options = { ...parseSettings(opts.set), ...(opts.seed !== undefined ? { seed: opts.seed } : {}) };
      const reporter = new ConsoleReporter();
      const base = await pretrainedBase({
        options,
        ...(opts.test !== undefined ? { test: opts.test } : {}),
        ...(opts.cache ? { cacheDir: opts.cache } : {}),
        ...(opts.force ? { force: true } : {}),
        ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
        log: (line) => process.stdout.write(`${line}\n`),
        onEvent: (phase, event) => {
          if (phase === 'pretrain') reporter.handle(event);
        },
      });
      process.stdout.write(`${base.cached ? 'cached' : 'built'}: ${base.path}\n${formatQuality(base.quality)}\n(also in ${base.dir}/quality.json)\n`);
      process.stdout.write(`fine-tune it with: samflow train conv-lora-binary --arch ${base.arch} --checkpoint ${base.path}\n`);
      if (opts.out) {
        mkdirSync(dirname(opts.out), { recursive: true });
        copyFileSync(base.path, `${opts.out}.tmp`);
        renameSync(`${opts.out}.tmp`, opts.out);
        process.stdout.write(`copied to ${opts.out}\n`);
      }
      setCode(0);
    });
}
