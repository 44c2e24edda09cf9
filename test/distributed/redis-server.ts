/**
 * A real redis-server for the distributed tests: Debian's binary on a free loopback port, with
 * a temporary folder and no persistence, stopped after the tests. Where redis-server is absent
 * the tests are skipped with a message saying so, except in CI (.ci/run sets SAMFLOW_CI_REDIS=1
 * after installing it), where its absence is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, it } from 'vitest';

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
const required = process.env.SAMFLOW_CI_REDIS === '1';

/** `describe` when redis-server is installed; otherwise a skipped suite (or, in CI, a failing test) that says why. */
export function describeWithRedis(name: string, body: () => void): void {
  if (hasRedisServer) {
    describe(name, body);
    return;
  }
  if (required) {
    describe(name, () => {
      it('needs redis-server (SAMFLOW_CI_REDIS=1)', () => {
        throw new Error('redis-server is not on PATH, but SAMFLOW_CI_REDIS=1 says .ci/run installed it (apt-get install redis-server)');
      });
    });
    return;
  }
  describe.skip(`${name} (skipped: redis-server is not installed; apt-get install redis-server to run these)`, body);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'samflow-redis-'));
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      break;
    } catch (error) {
      client.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 10 s: ${String(error)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    port,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
