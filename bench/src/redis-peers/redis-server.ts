/**
 * The Redis server the benchmarks run on, and the key prefixes they write
 * under: each run works under fresh prefixes of its own and deletes their
 * keys after (SCAN + UNLINK), so the shared server is never flushed.
 */
import { Redis } from 'ioredis';

/** `BERTH_REDIS_URL`, or the local server the tests use. */
export function redisUrl(): string {
  return process.env.BERTH_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/**
 * A prefix the benchmarks made: letters, digits, `_` and `:` only, so it
 * holds none of the characters SCAN's MATCH treats specially (`* ? [ ] \`)
 * and `<prefix>*` matches exactly its keys.
 */
const PREFIX = /^bench:[a-z0-9_]{1,60}:$/;

export function checkedPrefix(prefix: string): string {
  if (!PREFIX.test(prefix)) throw new Error(`not a benchmark key prefix: ${JSON.stringify(prefix)}`);
  return prefix;
}

/** Keys asked of each SCAN step (a hint to the server, not a bound). */
const SCAN_COUNT = 1_000;

/** Every key matching `pattern`, by SCAN (never KEYS on the shared server). */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/** Deletes every key under `prefix`, a SCAN batch at a time (never KEYS, never FLUSHDB); returns how many. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  const pattern = `${checkedPrefix(prefix)}*`;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** What the server reports of durability and eviction, for the report. */
async function describeRedis(redis: Redis): Promise<string> {
  const setting = async (name: string): Promise<string> => {
    const reply = (await redis.config('GET', name)) as string[];
    return reply[1] ?? 'unknown';
  };
  const info = await redis.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const save = await setting('save');
  return (
    `Redis ${version}; appendonly=${await setting('appendonly')}, appendfsync=${await setting('appendfsync')}, ` +
    `save=${save === '' ? '""' : save}, maxmemory-policy=${await setting('maxmemory-policy')}`
  );
}

/** `describeRedis` on a connection of its own, closed after: for a peer that holds no plain client. */
export async function describeRedisAt(url: string = redisUrl()): Promise<string> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await probe.connect();
    return await describeRedis(probe);
  } finally {
    probe.disconnect();
  }
}

/** Fresh key prefixes on one server, all deleted by `dropAll()`. */
export class BenchPrefixes {
  private readonly made: string[] = [];
  private readonly tag = `${process.pid}_${Date.now().toString(36)}`;
  /** The client's last connection error: `connect()` itself only says the connection closed. */
  private lastError: Error | undefined;
  readonly redis: Redis;

  constructor(readonly url: string = redisUrl()) {
    // One try and no offline queue: an unreachable server fails `reachable()` at once.
    this.redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    this.redis.on('error', (error: Error) => {
      this.lastError = error;
    });
  }

  /** Connects and checks the server answers; the error says how to start it. */
  async reachable(): Promise<void> {
    try {
      await this.redis.connect();
      await this.redis.ping();
    } catch (error) {
      this.redis.disconnect();
      throw new Error(
        `Redis does not answer at ${this.url} (${(this.lastError ?? (error as Error)).message}): start it ` +
          '(`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`, or ' +
          '`apt-get install -y redis-server`) or set BERTH_REDIS_URL',
        { cause: error },
      );
    }
  }

  /** A new prefix, `bench:<label>_<run tag>_<n>:`; nothing is written under it yet. */
  next(label: string): string {
    const short = label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .slice(0, 16);
    const prefix = checkedPrefix(`bench:${short}_${this.tag}_${this.made.length}:`);
    this.made.push(prefix);
    return prefix;
  }

  drop(prefix: string): Promise<number> {
    return deletePrefix(this.redis, prefix);
  }

  /** Deletes the keys of every prefix this object named, and closes its connection. */
  async dropAll(): Promise<void> {
    try {
      for (const prefix of this.made.splice(0)) await this.drop(prefix);
    } finally {
      await this.redis.quit().catch(() => this.redis.disconnect());
    }
  }

  describe(): Promise<string> {
    return describeRedis(this.redis);
  }
}
