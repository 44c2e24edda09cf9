/** The options every command that talks to the job queues takes: where Redis is, and which set of queues. */
import { InvalidArgumentError, Option } from 'commander';

export const redisOption = (what: string) => new Option('--redis <url>', `${what} (redis://host:port; every machine must see the run, data and output folders at the same paths)`);
export const prefixOption = () => new Option('--prefix <name>', 'key prefix of the queues in Redis: separate sets of queues on one server (default: samflow)');

/** A whole number at least `min`, named in the error. */
export const wholeNumber = (option: string, min = 1) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${option} expects a whole number of at least ${min}, got '${value}'`);
  return n;
};

export const shardSizeOption = () =>
  new Option('--shard-size <n>', 'with --redis: images per job (rounded up to whole batches; default 64)').argParser(wholeNumber('--shard-size'));

export interface DistributionFlags {
  readonly redis?: string;
  readonly shardSize?: number;
  readonly prefix?: string;
}

/** The distribution a command's flags ask for: none without --redis (and then --shard-size has nothing to size). */
export function distributionOf(flags: DistributionFlags): { redis: string; shardSize?: number; prefix?: string } | undefined {
  if (!flags.redis) {
    if (flags.shardSize !== undefined) throw new Error('--shard-size sizes the jobs of a distributed run; give --redis URL too');
    return undefined;
  }
  return { redis: flags.redis, ...(flags.shardSize !== undefined ? { shardSize: flags.shardSize } : {}), ...(flags.prefix ? { prefix: flags.prefix } : {}) };
}
