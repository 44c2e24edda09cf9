/** Redis problems end a command quickly with a message naming the URL, instead of hanging. */
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { predictDistributed } from '../../src/distributed/distributed-inference.ts';
import { checkRedisUrl, probeRedis } from '../../src/distributed/redis.ts';
import { submitShards } from '../../src/distributed/submit-shards.ts';
import { captureCli, samflow } from '../cli/capture.ts';
import { describeWithRedis, freePort, startRedis } from './redis-server.ts';

it('checks the form of a Redis URL and names the option', () => {
  expect(() => checkRedisUrl('localhost:6379')).toThrow("--redis 'localhost:6379': the scheme is 'localhost'; expected redis://[user:password@]host[:port][/db] (rediss:// for TLS)");
  expect(() => checkRedisUrl('not a url')).toThrow("--redis 'not a url': not a URL");
  expect(() => checkRedisUrl('redis://host/abc')).toThrow("the database 'abc' is not a number");
  expect(checkRedisUrl('redis://127.0.0.1:6380/2').port).toBe('6380');
});

it('fails fast when nothing listens at the URL', async () => {
  const url = `redis://127.0.0.1:${await freePort()}`;
  const started = Date.now();
  await expect(predictDistributed({ run: 'no-such-run', images: 'x', out: 'y' }, { redis: url })).rejects.toThrow(
    new RegExp(`^cannot reach Redis at ${url}: .*ECONNREFUSED.*; start a server there`),
  );
  expect(Date.now() - started).toBeLessThan(5000);
  await expect(probeRedis('redis://10.255.255.1:6379', 500)).rejects.toThrow(/cannot reach Redis at redis:\/\/10.255.255.1:6379: /);
});

describe('the command line', () => {
  const output = captureCli();
  it('says so for samflow worker and sweep', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    expect(await samflow('worker', '--redis', url)).toBe(1);
    expect(output.err).toMatch(new RegExp(`^samflow: cannot reach Redis at ${url}`));
    expect(await samflow('worker', '--redis', 'http://x')).toBe(1);
    expect(output.err).toContain("--redis 'http://x': the scheme is 'http'");
    expect(await samflow('worker', '--redis', 'redis://x', '--queues', 'shards,jobs')).toBe(1);
    expect(output.err).toContain('--queues shards,jobs: expected some of shards, runs');
  });
});

describeWithRedis('Redis going away', () => {
  it('ends a waiting submission with an error once Redis has been down for lostAfterMs', async () => {
    const redis = await startRedis();
    const events = submitShards({
      settings: { redis: redis.url, prefix: 'gone' },
      shards: [{ id: 'predict-gone-0', job: { kind: 'predict', request: { run: '/r', images: '/i', out: '/o' }, range: { start: 0, end: 1 } } }],
      split: 'predict',
      lostAfterMs: 1000,
      finish: async () => [],
    });
    const all = lastValueFrom(events.pipe(toArray()));
    await new Promise((r) => setTimeout(r, 500)); // queued, no worker to take it
    await redis.stop();
    const started = Date.now();
    const received = await all;
    expect(received.at(-1)).toMatchObject({ type: 'failed', error: expect.stringMatching(new RegExp(`^lost the connection to Redis at ${redis.url} for \\d+ s .*run the same command again once it is back`)) });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
