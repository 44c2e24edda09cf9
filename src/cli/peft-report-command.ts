/** `samflow peft-report`: what a PEFT method trains on a SAM architecture, without loading weights. */
import type { Command } from 'commander';
import { ADAPTER_METHODS, parseAdapterConfig } from '../nodes/adapters/config.ts';
import { formatReport, parameterReport } from '../nodes/adapters/report.ts';
import { samConfigFromArg } from '../nodes/sam/config.ts';

export function registerPeftReport(program: Command): void {
  program
    .command('peft-report')
    .description('print the trainable-parameter report of a PEFT method on a SAM architecture (no weights needed)')
    .requiredOption('--arch <preset|arch.json>', 'vit_b, vit_l, vit_h, or a JSON config')
    .requiredOption('--method <method>', ADAPTER_METHODS.join(', '))
    .option('--rank <r>', 'LoRA / Conv-LoRA rank or adapter bottleneck', (v) => Number(v))
    .option('--experts <n>', 'Conv-LoRA experts', (v) => Number(v))
    .option('--scale-factor <n>', 'SAM-Adapter: the prompt generator is encoder_embed_dim / n wide', (v) => Number(v))
    .option('--tasks <n>', 'TA-LoRA: number of tasks T', (v) => Number(v))
    .option('--tucker-ranks <r1,r2,r3>', 'TA-LoRA: Tucker ranks of the core (default 32,32,4)', (v) => v.split(',').map(Number))
    .option('--no-train-decoder', 'keep the mask decoder frozen')
    .option(
      '--mask-tokens <n>',
      "mask tokens the decoder runs and trains, the checkpoint's first (default 1: Conv-LoRA's binary decoder, token 0 and hypernetwork MLP 0; num_multimask_outputs + 1 = SAM's whole decoder)",
      (v) => Number(v),
    )
    .option('--json', 'print the report as JSON')
    .action((opts: { arch: string; method: string; rank?: number; experts?: number; scaleFactor?: number; tasks?: number; tuckerRanks?: number[]; trainDecoder: boolean; maskTokens?: number; json?: boolean }) => {
      const adapter = parseAdapterConfig(
        {
          method: opts.method,
          trainDecoder: opts.trainDecoder,
          ...(opts.rank !== undefined ? { rank: opts.rank } : {}),
          ...(opts.experts !== undefined ? { experts: opts.experts } : {}),
          ...(opts.scaleFactor !== undefined ? { scaleFactor: opts.scaleFactor } : {}),
          ...(opts.maskTokens !== undefined ? { maskTokens: opts.maskTokens } : {}),
          ...(opts.tasks !== undefined ? { tasks: opts.tasks } : {}),
          ...(opts.tuckerRanks !== undefined ? { tuckerRanks: opts.tuckerRanks } : {}),
        },
        'peft-report',
      );
      const report = parameterReport(samConfigFromArg(opts.arch), adapter);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    });
}
