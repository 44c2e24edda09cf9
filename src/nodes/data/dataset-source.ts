/**
 * The source behaviour every dataset reader shares: list once (directory entries only), then
 * per epoch yield each chosen split in turn, 'train' reshuffled by seed every epoch and the
 * other splits in file order. A sample is decoded inside `next()`, i.e. only when the runner
 * pulls it: nothing is read ahead and nothing is kept.
 *
 * With `skipCorrupt`, a file that cannot be decoded is left out with a warning event. If it was
 * the last of its group, the item before it does not carry `groupEnd`; consumers then close the
 * group on the next group's first item (Batch and the metric nodes do).
 */
import { z } from 'zod';
import type { Emission, SourceBehaviour, SourceContext } from '../../graph/node.ts';
import { mixSeed, mulberry32, permutation } from '../random.ts';
import { DecodeError } from './decode.ts';
import { LayoutError, requirePaired, type Entry, type Listing } from './listing.ts';
import { emptySplitMessage } from './set-aside.ts';

export const ReaderParams = z.object({
  root: z.string().min(1).describe('the data set folder'),
  splits: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe("splits to read each epoch, in this order (default: 'train' then 'val', those the data set has; else all)"),
  epochs: z.number().int().min(1).default(1).describe('passes over the chosen splits'),
  valEvery: z.number().int().min(1).default(1).describe("read the splits other than 'train' every N epochs (and always in the last)"),
  seed: z.number().int().default(0).describe('added to the node seed; the train order of each epoch derives from it'),
  shuffle: z.boolean().default(true).describe("reshuffle 'train' every epoch (other splits keep file order)"),
  limit: z.number().int().min(1).optional().describe('read at most this many samples of each split (the first in file order)'),
  holdout: z.number().min(0).max(0.9).default(0).describe("fraction of 'train' held out as 'val' (seeded), for data sets without a val split"),
  skipUnpaired: z.boolean().default(false).describe('leave out files without a partner instead of failing'),
  skipCorrupt: z.boolean().default(false).describe('leave out files that cannot be decoded, with a warning, instead of failing'),
});
export type ReaderParams = z.output<typeof ReaderParams>;

export interface PlannedSplit {
  readonly name: string;
  readonly entries: readonly Entry[];
}

/** Chooses and orders the splits to read, applies limit and holdout; errors name what exists. */
export function planSplits(listing: Listing, params: ReaderParams): PlannedSplit[] {
  requirePaired(listing, params.skipUnpaired);
  let splits: PlannedSplit[] = listing.splits.map((s) => ({ name: s.name, entries: params.limit ? s.entries.slice(0, params.limit) : s.entries }));
  const available = () => splits.map((s) => `'${s.name}' (${s.entries.length})`).join(', ');
  if (params.holdout > 0) {
    const train = splits.find((s) => s.name === 'train');
    if (!train) throw new LayoutError(`${listing.root}: holdout needs a 'train' split; found ${available()}`);
    if (splits.some((s) => s.name === 'val')) throw new LayoutError(`${listing.root}: holdout would make a 'val' split, but the data set has one already`);
    const count = Math.round(train.entries.length * params.holdout);
    const held = new Set(permutation(train.entries.length, mulberry32(mixSeed(params.seed, 0x401d))).slice(0, count));
    splits = [
      ...splits.filter((s) => s !== train),
      { name: 'train', entries: train.entries.filter((_, i) => !held.has(i)) },
      { name: 'val', entries: train.entries.filter((_, i) => held.has(i)) },
    ];
  }
  let chosen: PlannedSplit[];
  if (params.splits) {
    chosen = params.splits.map((name) => {
      const split = splits.find((s) => s.name === name);
      if (!split) throw new LayoutError(`${listing.root}: no split '${name}'; the data set has ${available()}`);
      return split;
    });
  } else {
    const usual = ['train', 'val'].map((name) => splits.find((s) => s.name === name)).filter((s): s is PlannedSplit => s !== undefined);
    chosen = usual.length ? usual : splits;
  }
  const empty = chosen.find((s) => s.entries.length === 0);
  if (empty) throw new LayoutError(emptySplitMessage(listing, empty.name, params));
  return chosen;
}

export interface ReaderSpec<P, V> {
  /** Lists the data set (synchronously: directory entries and CSVs only). */
  list(params: P): Listing;
  /** Decodes one sample; throw DecodeError for a file that cannot be read. */
  decode(entry: Entry, params: P): Promise<V>;
}

/** The `main` behaviour of a dataset reader node whose params schema is `schema` (it types `spec`). */
export function readerSource<S extends z.ZodType<ReaderParams, any>, V>(
  _schema: S,
  spec: ReaderSpec<z.output<S> & ReaderParams, V>,
): SourceBehaviour<z.output<S> & ReaderParams, V> {
  type P = z.output<S> & ReaderParams;
  const planned = new WeakMap<object, { splits: PlannedSplit[]; unpaired: Listing['unpaired'] }>();
  const plan = (params: P) => {
    let made = planned.get(params);
    if (!made) {
      const listing = spec.list(params);
      made = { splits: planSplits(listing, params), unpaired: listing.unpaired };
      planned.set(params, made);
    }
    return made;
  };
  return {
    type: 'source',
    resumable: true,
    total(params) {
      try {
        const { splits } = plan(params);
        return epochSchedule(params.epochs, params.valEvery).reduce(
          (sum, withOthers) => sum + splits.reduce((n, s) => n + (s.name === 'train' || withOthers ? s.entries.length : 0), 0),
          0,
        );
      } catch {
        return undefined; // create() reports the problem with its full message
      }
    },
    create(params, ctx) {
      const { splits, unpaired } = plan(params);
      if (unpaired.length) {
        const names = unpaired.slice(0, 5).map((u) => u.file).join(', ');
        ctx.emit({ type: 'warning', message: `left out ${unpaired.length} file(s) without a partner (skipUnpaired): ${names}${unpaired.length > 5 ? ', ...' : ''}` });
      }
      return readSplits(splits, params, ctx, (entry) => spec.decode(entry, params));
    },
  };
}

/** Per epoch, whether the splits other than 'train' are read: every `valEvery` epochs and in the last. */
export function epochSchedule(epochs: number, valEvery: number): boolean[] {
  return Array.from({ length: epochs }, (_, epoch) => (epoch + 1) % valEvery === 0 || epoch === epochs - 1);
}

async function* readSplits<V>(
  splits: readonly PlannedSplit[],
  params: ReaderParams,
  ctx: SourceContext,
  decode: (entry: Entry) => Promise<V>,
): AsyncGenerator<Emission<V>> {
  const seed = mixSeed(ctx.seed, params.seed);
  let skip = ctx.skip;
  for (const [epoch, withOthers] of epochSchedule(params.epochs, params.valEvery).entries()) {
    for (const split of splits) {
      if (split.name !== 'train' && !withOthers) continue;
      const n = split.entries.length;
      // A resumed run leaves out what it did before, without decoding it.
      if (skip >= n) {
        skip -= n;
        continue;
      }
      const order = split.name === 'train' && params.shuffle ? permutation(n, mulberry32(mixSeed(seed, epoch))) : [...Array(n).keys()];
      for (const [i, index] of order.entries()) {
        if (skip > 0) {
          skip--;
          continue;
        }
        const entry = split.entries[index]!;
        let values: V;
        try {
          values = await decode(entry);
        } catch (error) {
          if (params.skipCorrupt && error instanceof DecodeError) {
            ctx.emit({ type: 'warning', message: `skipped sample '${entry.id}' of split '${split.name}': ${error.message}` });
            continue;
          }
          throw error;
        }
        yield { values, meta: { split: split.name, epoch, groupEnd: i === n - 1 } };
      }
    }
  }
}

/** Readers of binary masks add these. */
export const BinaryReaderParams = ReaderParams.extend({
  maskThreshold: z.number().int().min(0).max(254).default(127).describe('a mask pixel is foreground when its grey value is above this'),
  resizeMasks: z.boolean().default(false).describe('resize a mask whose size differs from its image (nearest) instead of failing'),
});
export type BinaryReaderParams = z.output<typeof BinaryReaderParams>;

/** Readers of class-index masks add these. */
export const LabelReaderParams = ReaderParams.extend({
  ignoreLabel: z.number().int().min(0).max(65535).default(255).describe("the data set's ignore value (it becomes 255 in LabelMap)"),
  classes: z.number().int().min(1).max(255).optional().describe('number of classes: any other value at or above it is an error'),
  resizeMasks: z.boolean().default(false).describe('resize a mask whose size differs from its image (nearest) instead of failing'),
});
export type LabelReaderParams = z.output<typeof LabelReaderParams>;
