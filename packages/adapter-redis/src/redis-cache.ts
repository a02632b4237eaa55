import {
  type Cache,
  type CacheSetOptions,
  type CacheStats,
  ConnectionError,
  type DocumentValue,
  type SignalOptions,
  ValidationError,
} from '@berth/core';
import {
  checkCacheKey,
  checkCacheTtl,
  copyValue,
  parseDocument,
  startOperation,
  stringifyDocument,
} from '@berth/core/adapter';
import type { Cluster, Redis } from 'ioredis';
import { checkConnectionConfig, RedisConnection, type RedisConnectionConfig } from './redis-connection.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from './redis-scan.js';

/**
 * Configuration of {@link RedisCache}: a URL, or a client of your own.
 *
 * ### Examples
 * ```ts
 * import { RedisCache, type RedisCacheConfig } from '@berth/adapter-redis';
 *
 * const config: RedisCacheConfig = { url: 'redis://127.0.0.1:6379', keyPrefix: 'app:cache:', defaultTtlMs: 5 * 60_000 };
 * const cache = new RedisCache(config);
 * ```
 */
export interface RedisCacheConfig extends RedisConnectionConfig {
  /**
   * Prepended to every key this cache stores (default `berth:cache:`); it is
   * the cache's namespace: `clear`, `deleteByPrefix` and `stats().size` see
   * only keys under it. Not empty.
   */
  readonly keyPrefix?: string | undefined;
  /** TTL of a `set` that gives none, in milliseconds (default: entries live until deleted or evicted). */
  readonly defaultTtlMs?: number | undefined;
}

const DEFAULT_KEY_PREFIX = 'berth:cache:';

function checkKeyPrefix(keyPrefix: unknown): string {
  if (keyPrefix === undefined) return DEFAULT_KEY_PREFIX;
  checkCacheKey(keyPrefix, 'keyPrefix');
  // An empty prefix would make `clear` delete every key of the database.
  if (keyPrefix === '') throw new ValidationError('keyPrefix must not be empty', 'keyPrefix');
  return keyPrefix;
}

/**
 * A {@link Cache} on Redis through ioredis, shared by every process using the
 * same server and key prefix. Values are stored as JSON text in Berth's
 * encoding (Dates as `{"$date": …}`) under `keyPrefix + key`; TTLs are
 * Redis's own (`PX`), so Redis expires entries, and its `maxmemory-policy`
 * decides evictions. Prefix deletes and `stats().size` walk the prefix with
 * SCAN; keys are never listed with KEYS.
 *
 * Hits and misses are counted by this instance, not in Redis: a `get` stays
 * one GET, and a cluster spreads the keys instead of funnelling every read
 * through one counter key. `size` is what Redis holds under the prefix, for
 * every process.
 *
 * ### Examples
 * ```ts
 * import { RedisCache } from '@berth/adapter-redis';
 *
 * const cache = new RedisCache({ url: 'redis://127.0.0.1:6379', keyPrefix: 'app:cache:', defaultTtlMs: 60_000 });
 * await cache.set('session:42', { user: 'ada', since: new Date() }, { ttlMs: 15 * 60_000 });
 * console.log(await cache.get('session:42'));
 * await cache.deleteByPrefix('session:');
 * await cache.close();
 * ```
 */
export class RedisCache implements Cache {
  readonly keyPrefix: string;
  readonly defaultTtlMs: number | undefined;
  private readonly connection: RedisConnection;
  private readonly client: Redis | Cluster;
  private closed = false;
  private hits = 0;
  private misses = 0;

  constructor(config: RedisCacheConfig = {}) {
    checkConnectionConfig(config, 'RedisCache');
    this.keyPrefix = checkKeyPrefix(config.keyPrefix);
    this.defaultTtlMs = checkCacheTtl(config.defaultTtlMs, 'defaultTtlMs');
    this.connection = new RedisConnection(config);
    this.client = this.connection.client;
  }

  async get(key: string, options?: SignalOptions): Promise<DocumentValue | undefined> {
    this.start(options, 'cache.get');
    checkCacheKey(key, 'key');
    const text = await this.run(() => this.client.get(this.keyPrefix + key));
    if (text === null) {
      this.misses++;
      return undefined;
    }
    const value = this.decode(text, key);
    this.hits++;
    return value;
  }

  async set(key: string, value: DocumentValue, options?: CacheSetOptions): Promise<void> {
    this.start(options, 'cache.set');
    checkCacheKey(key, 'key');
    const ttlMs = checkCacheTtl(options?.ttlMs, 'ttlMs') ?? this.defaultTtlMs;
    const text = stringifyDocument(copyValue(value, 'value'));
    const redisKey = this.keyPrefix + key;
    // PX takes whole milliseconds: a fraction rounds up, so an entry never lives shorter than asked.
    await this.run(() =>
      ttlMs === undefined ? this.client.set(redisKey, text) : this.client.set(redisKey, text, 'PX', Math.ceil(ttlMs)),
    );
  }

  async delete(key: string, options?: SignalOptions): Promise<boolean> {
    this.start(options, 'cache.delete');
    checkCacheKey(key, 'key');
    return (await this.run(() => this.client.unlink(this.keyPrefix + key))) === 1;
  }

  async deleteByPrefix(prefix: string, options?: SignalOptions): Promise<number> {
    this.start(options, 'cache.deleteByPrefix');
    checkCacheKey(prefix, 'prefix');
    return this.unlinkUnder(this.keyPrefix + prefix, options?.signal, 'cache.deleteByPrefix');
  }

  /** Removes every key under `keyPrefix` (nothing else on the server) and resets this instance's counters. */
  async clear(options?: SignalOptions): Promise<void> {
    this.start(options, 'cache.clear');
    await this.unlinkUnder(this.keyPrefix, options?.signal, 'cache.clear');
    this.hits = 0;
    this.misses = 0;
  }

  /**
   * This instance's hits and misses, and the live keys under `keyPrefix`
   * (counted with SCAN, which skips expired keys: one pass over the
   * database's keys, so not for a hot path on a large database).
   */
  async stats(options?: SignalOptions): Promise<CacheStats> {
    this.start(options, 'cache.stats');
    const size = await this.run(() =>
      forEachKeyBatch(
        this.client,
        prefixPattern(this.keyPrefix),
        (_, keys) => keys.length,
        options?.signal,
        'cache.stats',
      ),
    );
    return { hits: this.hits, misses: this.misses, size };
  }

  /** Disconnects the client the cache created from `url`; a client you passed stays open. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.close();
  }

  private start(options: SignalOptions | undefined, what: string): void {
    startOperation(options, what);
    if (this.closed) throw new ConnectionError(`${what}: this Redis cache is closed`, { retryable: false });
  }

  private unlinkUnder(prefix: string, signal: AbortSignal | undefined, what: string): Promise<number> {
    return this.run(() => forEachKeyBatch(this.client, prefixPattern(prefix), unlinkKeys, signal, what));
  }

  /** Runs commands, turning ioredis errors into Berth errors. */
  private run<T>(commands: () => Promise<T>): Promise<T> {
    return this.connection.run(commands);
  }

  /** Parses a stored value; text this cache did not write is a VALIDATION error, not a crash. */
  private decode(text: string, key: string): DocumentValue {
    try {
      return parseDocument<DocumentValue>(text);
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw new ValidationError(`the value stored at "${this.keyPrefix + key}" is not JSON written by Berth`, 'key', {
          cause: error,
        });
      }
      throw error;
    }
  }
}
