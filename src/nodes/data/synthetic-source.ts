/**
 * The split/epoch schedule the synthetic data sets share (the same as synthetic-shapes): each
 * epoch yields 'train' in a fresh seeded order, then 'val' in a fixed order; sample i of a split
 * is always made from the same seed, and train and val never share one.
 */
import { z } from 'zod';
import type { Emission } from '../../graph/node.ts';
import { mixSeed, mulberry32, permutation } from '../random.ts';
import { epochSchedule } from './dataset-source.ts';
import { DomainParams } from './synthetic-domain.ts';

export const SyntheticSetParams = z.object({
  size: z.number().int().min(8).max(2048).default(64).describe('image side in pixels'),
  train: z.number().int().min(1).default(96).describe('training images per epoch'),
  val: z.number().int().min(0).default(32).describe('validation images (evaluated after each epoch)'),
  epochs: z.number().int().min(1).default(3).describe('passes over the training images'),
  valEvery: z.number().int().min(1).default(1).describe('validate every N epochs (and always after the last)'),
  seed: z.number().int().default(0).describe('added to the node seed; change it for another data set'),
  domain: DomainParams,
});
export type SyntheticSetParams = z.output<typeof SyntheticSetParams>;

const SPLIT_ID = { train: 1, val: 2 } as const;

/** Items per run, for progress: every epoch's train images, and val where it is read. */
export function syntheticTotal(p: SyntheticSetParams): number {
  return epochSchedule(p.epochs, p.valEvery).reduce((sum, withVal) => sum + p.train + (withVal ? p.val : 0), 0);
}

/** The set's items; the first `skip` (a resumed run's done part) are left out without being made. */
export function* syntheticItems<V>(p: SyntheticSetParams, nodeSeed: number, make: (sampleSeed: number) => V, skip = 0): Generator<Emission<V>> {
  const seed = mixSeed(nodeSeed, p.seed);
  let position = 0;
  for (const [epoch, withVal] of epochSchedule(p.epochs, p.valEvery).entries()) {
    const order = permutation(p.train, mulberry32(mixSeed(seed, epoch)));
    for (const [i, index] of order.entries()) {
      if (position++ < skip) continue;
      yield { values: make(mixSeed(seed, SPLIT_ID.train, index)), meta: { split: 'train', epoch, groupEnd: i === p.train - 1 } };
    }
    if (!withVal) continue;
    for (let index = 0; index < p.val; index++) {
      if (position++ < skip) continue;
      yield { values: make(mixSeed(seed, SPLIT_ID.val, index)), meta: { split: 'val', epoch, groupEnd: index === p.val - 1 } };
    }
  }
}
