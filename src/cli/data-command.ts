/** `samflow data inspect DIR`: what a data set folder holds, and what is wrong with it. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { LAYOUTS } from '../nodes/data/detect-layout.ts';
import { formatReport, inspectDataset, type InspectOptions } from '../nodes/data/inspect.ts';
import type { LayoutName } from '../nodes/data/listing.ts';
import { setAsideLines } from '../nodes/data/set-aside.ts';

interface InspectFlags {
  layout?: LayoutName;
  images?: string;
  masks?: string;
  classes?: boolean;
  ignoreLabel?: number;
  maskThreshold?: number;
  limit?: number;
  skipUnpaired?: boolean;
  skipCorrupt?: boolean;
  resizeMasks?: boolean;
  json?: boolean;
}

const integer = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
  return n;
};

export function dataCommand(): Command {
  const data = new Command('data').description('inspect data set folders');
  data
    .command('inspect')
    .description('detect the layout of a data set folder and report counts, sizes, mask values, classes and problems')
    .argument('<dir>', 'the data set folder')
    .addOption(new Option('--layout <name>', 'use this layout instead of detecting it').choices([...LAYOUTS]))
    .option('--images <folder>', 'image folder name of a paired-folders data set (with --masks)')
    .option('--masks <folder>', 'mask folder name of a paired-folders data set (with --images)')
    .option('--classes', 'AutoGluon CSVs: read the label files as class ids, not binary masks')
    .option('--ignore-label <n>', "class-index masks: the data set's ignore value (default 255)", integer(0, 65535))
    .option('--mask-threshold <n>', 'binary masks: foreground is a grey value above this (default 127)', integer(0, 254))
    .option('--limit <n>', 'inspect at most this many samples per split', integer(1, Number.MAX_SAFE_INTEGER))
    .option('--skip-unpaired', 'do not fail on files without a partner (they are still listed)')
    .option('--skip-corrupt', 'do not fail on files that cannot be decoded (they are still listed)')
    .option('--resize-masks', 'do not fail on masks whose size differs from their image (they are still listed)')
    .option('--json', 'print the report as JSON')
    .action(async (dir: string, flags: InspectFlags) => {
      if ((flags.images === undefined) !== (flags.masks === undefined)) throw new Error('give both --images and --masks, or neither');
      const options: InspectOptions = {
        ...(flags.layout ? { layout: flags.layout } : {}),
        ...(flags.images && flags.masks ? { pair: [flags.images, flags.masks] as const } : {}),
        ...(flags.classes ? { classes: true } : {}),
        ...(flags.ignoreLabel !== undefined ? { ignoreLabel: flags.ignoreLabel } : {}),
        ...(flags.maskThreshold !== undefined ? { maskThreshold: flags.maskThreshold } : {}),
        ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      };
      const report = await inspectDataset(dir, options);
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      const total = report.splits.reduce((n, s) => n + s.samples, 0);
      // Nothing a reader could train on is an error, saying what the folder held instead.
      if (total === 0) {
        const aside = setAsideLines(report);
        const found = report.splits.map((s) => `0 in split '${s.name}' (${s.where})`).join(', ');
        throw new Error(`${dir}: no usable samples: ${found}; ${aside.length ? `set aside: ${aside.join('; ')}` : 'nothing was set aside: the folders hold no files'}`);
      }
      const problems = [
        ...report.splits.filter((s) => s.samples === 0).map((s) => `split '${s.name}' has no samples (${s.where})`),
        !flags.skipUnpaired && report.unpaired.length ? `${report.unpaired.length} file(s) without a partner (--skip-unpaired to go on)` : '',
        !flags.skipCorrupt && report.corrupt.length ? `${report.corrupt.length} file(s) that cannot be decoded (--skip-corrupt to go on)` : '',
        !flags.resizeMasks && report.sizeMismatches.length ? `${report.sizeMismatches.length} mask(s) whose size differs from their image (--resize-masks to go on)` : '',
      ].filter(Boolean);
      if (problems.length) throw new Error(`${dir}: ${problems.join('; ')}; the files are listed above`);
    });
  return data;
}
