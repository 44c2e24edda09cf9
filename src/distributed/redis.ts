/**
 * Redis for the job queues: the URL checked before anything is queued, a probe that fails in
 * seconds with the URL in the message (ioredis alone would retry for ever, so a wrong URL or a
 * stopped server looked like a hang), and the long-lived connections BullMQ needs, closed together.
 */
import { Redis } from 'ioredis';

export class RedisUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUnavailable';
  }
}

const EXPECTED = 'expected redis://[user:password@]host[:port][/db] (rediss:// for TLS)';

/** The URL as given, checked for its form; the error names the option and what was expected. */
export function checkRedisUrl(url: string, option = '--redis'): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RedisUnavailable(`${option} '${url}': not a URL; ${EXPECTED}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new RedisUnavailable(`${option} '${url}': the scheme is '${parsed.protocol.replace(/:$/, '')}'; ${EXPECTED}`);
  if (!parsed.hostname) throw new RedisUnavailable(`${option} '${url}': no host; ${EXPECTED}`);
  const db = parsed.pathname.replace(/^\//, '');
  if (db && !/^\d+$/.test(db)) throw new RedisUnavailable(`${option} '${url}': the database '${db}' is not a number; ${EXPECTED}`);
  return parsed;
}

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error)) || 'no answer';

/** Connects once, without retrying, and checks the server answers and is new enough for BullMQ (Redis 5+). */
export async function probeRedis(url: string, timeoutMs = 3000): Promise<void> {
  checkRedisUrl(url);
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  // ioredis says why in an 'error' event; the rejected connect only says the connection closed.
  let cause: unknown;
  client.on('error', (error: unknown) => (cause ??= error));
  const fail = (why: string) => new RedisUnavailable(`cannot reach Redis at ${url}: ${why}; start a server there (redis-server --port ${new URL(url).port || 6379}) or pass the right --redis URL`);
  try {
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref());
    await Promise.race([client.connect().then(() => client.ping()), timer]);
  } catch (error) {
    throw fail(reason(cause ?? error));
  } finally {
    client.disconnect();
  }
}

/**
 * The connections a queue, its events and workers hold (BullMQ wants one per blocking client,
 * with unlimited retries per command so a short outage does not fail jobs). `lost` reports
 * a connection that stays down longer than `lostAfterMs`, so a submitter can stop waiting.
 */
export class RedisConnections {
  private readonly clients: Redis[] = [];
  private downSince: number | undefined;
  private lastError = '';
  private watch: NodeJS.Timeout | undefined;

  constructor(readonly url: string) {}

  open(): Redis {
    const client = new Redis(this.url, { maxRetriesPerRequest: null, enableReadyCheck: true });
    client.on('error', (error: unknown) => (this.lastError = reason(error)));
    client.on('close', () => (this.downSince ??= Date.now()));
    client.on('ready', () => {
      if (this.clients.every((c) => c.status === 'ready')) this.downSince = undefined;
    });
    this.clients.push(client);
    return client;
  }

  /** Calls `onLost` once when any connection has been down for `lostAfterMs`. */
  watchLoss(lostAfterMs: number, onLost: (error: RedisUnavailable) => void): void {
    this.watch = setInterval(() => {
      if (this.downSince === undefined || Date.now() - this.downSince < lostAfterMs) return;
      clearInterval(this.watch);
      onLost(new RedisUnavailable(`lost the connection to Redis at ${this.url} for ${Math.round((Date.now() - this.downSince) / 1000)} s (${this.lastError || 'closed'})`));
    }, Math.min(1000, lostAfterMs));
    this.watch.unref();
  }

  close(): void {
    clearInterval(this.watch);
    for (const client of this.clients) client.disconnect();
    this.clients.length = 0;
  }
}
