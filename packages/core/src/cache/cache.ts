import type { SignalOptions } from '../operation/abort.js';
import type { DocumentValue } from '../values/document.js';

/**
 * Options of `cache.set`.
 *
 * ### Examples
 * ```ts
 * import type { Cache } from '@berth/core';
 *
 * async function remember(cache: Cache, sessionId: string, userId: string): Promise<void> {
 *   await cache.set(`session:${sessionId}`, userId, { ttlMs: 30 * 60_000 });
 * }
 * ```
 */
export interface CacheSetOptions extends SignalOptions {
  /** Time to live in milliseconds (default: the cache's default, or forever). */
  readonly ttlMs?: number | undefined;
}

/**
 * Counters of a cache since it was created (or since `clear`).
 *
 * ### Examples
 * ```ts
 * import type { Cache } from '@berth/core';
 *
 * async function hitRate(cache: Cache): Promise<number> {
 *   const { hits, misses } = await cache.stats();
 *   return hits + misses === 0 ? 0 : hits / (hits + misses);
 * }
 * ```
 */
export interface CacheStats {
  /** Reads that found a live value. */
  readonly hits: number;
  /** Reads that found nothing, or an expired value. */
  readonly misses: number;
  /** Entries held now. */
  readonly size: number;
}

/**
 * A key-value cache of document values with TTLs. What `get` returns is a
 * fresh copy; a missing or expired key gives `undefined`.
 *
 * ### Examples
 * ```ts
 * import type { Cache } from '@berth/core';
 *
 * async function cachedTotal(cache: Cache, compute: () => Promise<number>): Promise<number> {
 *   const hit = await cache.get('report:total');
 *   if (typeof hit === 'number') return hit;
 *   const total = await compute();
 *   await cache.set('report:total', total, { ttlMs: 60_000 });
 *   return total;
 * }
 * ```
 */
export interface Cache {
  /** A fresh copy of the value under `key`, or `undefined` when it is missing or expired. */
  get(key: string, options?: SignalOptions): Promise<DocumentValue | undefined>;
  /** Stores a copy of `value` under `key`, replacing what was there, for `ttlMs` when given. */
  set(key: string, value: DocumentValue, options?: CacheSetOptions): Promise<void>;
  /** Removes a key; `true` when it was there. */
  delete(key: string, options?: SignalOptions): Promise<boolean>;
  /** Removes every key starting with `prefix`; returns how many. */
  deleteByPrefix(prefix: string, options?: SignalOptions): Promise<number>;
  /** Removes everything and resets the counters. */
  clear(options?: SignalOptions): Promise<void>;
  /** Hits, misses and size since the cache was created or cleared. */
  stats(options?: SignalOptions): Promise<CacheStats>;
  /** Releases connections. Idempotent. */
  close?(): Promise<void>;
}
