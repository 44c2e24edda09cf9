/**
 * The split/epoch schedule the synthetic data sets share (the same as synthetic-shapes): each
 * epoch yields 'train' in a fresh seeded order, then 'val' in a fixed order; sample i of a split
 * is always made from the same seed, and train and val never share one.
 */
import { z } from 'zod';
import type { Emission } from '../../graph/node.ts';
import { mixSeed, mulberry32, permutation } from '../random.ts';
import { DomainParams } from './synthetic-domain.ts';

export const SyntheticSetParams = z.object({
  size: z.number().int().min(8).max(2048).default(64).describe('image side in pixels'),
  train: z.number().int().min(1).default(96).describe('training images per epoch'),
  val: z.number().int().min(0).default(32).describe('validation images (evaluated after each epoch)'),
  epochs: z.number().int().min(1).default(3).describe('passes over the training images'),
  seed: z.number().int().default(0).describe('added to the node seed; change it for another data set'),
  domain: DomainParams,
});
export type SyntheticSetParams = z.output<typeof SyntheticSetParams>;

const SPLIT_ID = { train: 1, val: 2 } as const;

export function* syntheticItems<V>(p: SyntheticSetParams, nodeSeed: number, make: (sampleSeed: number) => V): Generator<Emission<V>> {
  const seed = mixSeed(nodeSeed, p.seed);
  for (let epoch = 0; epoch < p.epochs; epoch++) {
    const order = permutation(p.train, mulberry32(mixSeed(seed, epoch)));
    for (const [i, index] of order.entries()) {
      yield { values: make(mixSeed(seed, SPLIT_ID.train, index)), meta: { split: 'train', epoch, groupEnd: i === p.train - 1 } };
    }
    for (let index = 0; index < p.val; index++) {
      yield { values: make(mixSeed(seed, SPLIT_ID.val, index)), meta: { split: 'val', epoch, groupEnd: index === p.val - 1 } };
    }
  }
}
