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
    .option('--no-train-decoder', 'keep the mask decoder frozen')
    .option('--json', 'print the report as JSON')
    .action((opts: { arch: string; method: string; rank?: number; experts?: number; trainDecoder: boolean; json?: boolean }) => {
      const adapter = parseAdapterConfig(
        {
          method: opts.method,
          trainDecoder: opts.trainDecoder,
          ...(opts.rank !== undefined ? { rank: opts.rank } : {}),
          ...(opts.experts !== undefined ? { experts: opts.experts } : {}),
        },
        'peft-report',
      );
      const report = parameterReport(samConfigFromArg(opts.arch), adapter);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    });
}
