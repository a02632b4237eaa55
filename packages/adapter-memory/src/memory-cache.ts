import {
  type Cache,
  type CacheSetOptions,
  type CacheStats,
  type DocumentValue,
  type SignalOptions,
  ValidationError,
} from '@berth/core';
import {
  checkCacheKey,
  checkCacheTtl,
  cloneValue,
  copyValue,
  jsonByteLength,
  throwIfAborted,
} from '@berth/core/adapter';

/**
 * Configuration of {@link MemoryCache}.
 *
 * ### Examples
 * ```ts
 * import { MemoryCache, type MemoryCacheConfig } from '@berth/adapter-memory';
 *
 * const config: MemoryCacheConfig = { maxEntries: 1_000, maxBytes: 8 * 1024 * 1024, defaultTtlMs: 60_000 };
 * const cache = new MemoryCache(config);
 * ```
 */
export interface MemoryCacheConfig {
  /** Most entries held; past it the least recently used go first (default 10 000). */
  readonly maxEntries?: number | undefined;
  /**
   * Most bytes held (default 64 MiB). An entry weighs the UTF-8 length of its
   * key plus that of its value's JSON text (Dates as `{"$date": …}`), counted
   * from the value without encoding it. A value heavier than the whole bound
   * is not kept.
   */
  readonly maxBytes?: number | undefined;
  /** TTL of a `set` that gives none, in milliseconds (default: entries live until evicted). */
  readonly defaultTtlMs?: number | undefined;
  /** Monotonic clock in milliseconds (default `performance.now`); tests pass their own. */
  readonly now?: (() => number) | undefined;
}

/**
 * One entry, and its place in the recency list. Mutable so that a `set`
 * reuses the entry it replaces or evicts, and a hit only relinks it: a new
 * object per `set` would be one more object for the garbage collector to
 * promote and collect, which costs more than the rest of the `set`.
 */
interface MemoryCacheEntry {
  key: string;
  value: DocumentValue;
  bytes: number;
  /** On the cache's clock; `Infinity` for no TTL. */
  expiresAt: number;
  /** Neighbours in recency order (`older` is toward the least recently used). */
  older: MemoryCacheEntry | undefined;
  newer: MemoryCacheEntry | undefined;
}

const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** UTF-8 length of a well-formed string, without allocating its bytes. */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      index++;
    } else bytes += 3;
  }
  return bytes;
}

function checkBound(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ValidationError(`${path} must be a positive integer, got ${String(value)}`, path);
  }
  return value;
}

/**
 * A {@link Cache} in process memory, bounded by entries and by bytes, least
 * recently used evicted first. Values are validated and copied on the way in
 * and copied on the way out, so a caller never shares state with the cache.
 * Expired entries are dropped when touched, and all at once by `stats()`, so
 * `stats().size` counts live entries only.
 *
 * The LRU is a `Map` from keys to entries linked in recency order: a hit
 * moves its entry to the newest end, eviction takes the oldest. The
 * `lru-cache` package (Node 20 compatible) was weighed and left out: the
 * bounds, TTLs and counters it would run are the few lines here, while what
 * this class must own anyway (validation, copies, exact hit and miss counts,
 * byte weights including keys, prefix deletes, live-only sizes) is outside
 * that package, and `@berth/adapter-memory` keeps `@berth/core` as its only
 * runtime dependency.
 *
 * ### Examples
 * ```ts
 * import { MemoryCache } from '@berth/adapter-memory';
 *
 * const cache = new MemoryCache({ maxEntries: 1_000, maxBytes: 8 * 1024 * 1024, defaultTtlMs: 60_000 });
 * await cache.set('session:42', { user: 'ada', since: new Date() }, { ttlMs: 15 * 60_000 });
 * console.log(await cache.get('session:42'));
 * await cache.deleteByPrefix('session:');
 * console.log(await cache.stats()); // { hits: 1, misses: 0, size: 0 }
 * ```
 */
export class MemoryCache implements Cache {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly defaultTtlMs: number | undefined;
  private readonly now: () => number;
  private readonly entries = new Map<string, MemoryCacheEntry>();
  /** Ends of the recency list. */
  private oldest: MemoryCacheEntry | undefined;
  private newest: MemoryCacheEntry | undefined;
  private bytes = 0;
  private hits = 0;
  private misses = 0;

  constructor(config: MemoryCacheConfig = {}) {
    this.maxEntries = checkBound(config.maxEntries, 'maxEntries', DEFAULT_MAX_ENTRIES);
    this.maxBytes = checkBound(config.maxBytes, 'maxBytes', DEFAULT_MAX_BYTES);
    this.defaultTtlMs = checkCacheTtl(config.defaultTtlMs, 'defaultTtlMs');
    this.now = config.now ?? (() => performance.now());
  }

  /** Bytes held now (the weight `maxBytes` bounds). */
  get byteSize(): number {
    return this.bytes;
  }

  async get(key: string, options?: SignalOptions): Promise<DocumentValue | undefined> {
    throwIfAborted(options?.signal, 'cache.get');
    checkCacheKey(key, 'key');
    const entry = this.live(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.unlink(entry);
    this.link(entry);
    return cloneValue(entry.value);
  }

  async set(key: string, value: DocumentValue, options?: CacheSetOptions): Promise<void> {
    throwIfAborted(options?.signal, 'cache.set');
    checkCacheKey(key, 'key');
    const ttlMs = checkCacheTtl(options?.ttlMs, 'ttlMs') ?? this.defaultTtlMs;
    const copy = copyValue(value, 'value');
    // The length of the JSON text `stringifyDocument` would write, counted
    // from the copy without writing it: the text was only ever weighed.
    const bytes = utf8Length(key) + jsonByteLength(copy);
    const previous = this.remove(key);
    // Too heavy to keep: the previous value is gone all the same, so no later
    // get returns what this set replaced.
    if (bytes > this.maxBytes) return;
    const expiresAt = ttlMs === undefined ? Infinity : this.now() + ttlMs;
    this.bytes += bytes;
    // The newcomer is not held yet, so it cannot be the one evicted.
    let spare = previous;
    while (this.oldest !== undefined && (this.entries.size >= this.maxEntries || this.bytes > this.maxBytes)) {
      spare = this.remove(this.oldest.key);
    }
    let entry = spare;
    if (entry === undefined) entry = { key, value: copy, bytes, expiresAt, older: undefined, newer: undefined };
    else {
      entry.key = key;
      entry.value = copy;
      entry.bytes = bytes;
      entry.expiresAt = expiresAt;
    }
    this.entries.set(key, entry);
    this.link(entry);
  }

  async delete(key: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, 'cache.delete');
    checkCacheKey(key, 'key');
    const held = this.live(key) !== undefined;
    this.remove(key);
    return held;
  }

  async deleteByPrefix(prefix: string, options?: SignalOptions): Promise<number> {
    throwIfAborted(options?.signal, 'cache.deleteByPrefix');
    checkCacheKey(prefix, 'prefix');
    const now = this.now();
    let removed = 0;
    for (const [key, entry] of this.entries) {
      if (!key.startsWith(prefix)) continue;
      if (entry.expiresAt > now) removed++;
      this.remove(key);
    }
    return removed;
  }

  async clear(options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, 'cache.clear');
    this.entries.clear();
    this.oldest = undefined;
    this.newest = undefined;
    this.bytes = 0;
    this.hits = 0;
    this.misses = 0;
  }

  async stats(options?: SignalOptions): Promise<CacheStats> {
    throwIfAborted(options?.signal, 'cache.stats');
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) this.remove(key);
    }
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }

  /** Nothing to release; there for the `Cache` contract. */
  async close(): Promise<void> {}

  /** The entry if it has not expired; an expired one is dropped on the way. */
  private live(key: string): MemoryCacheEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.now()) return entry;
    this.remove(key);
    return undefined;
  }

  /** Drops the entry of `key`, returning it for reuse. */
  private remove(key: string): MemoryCacheEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.unlink(entry);
    this.bytes -= entry.bytes;
    return entry;
  }

  /** Makes `entry` the most recently used. */
  private link(entry: MemoryCacheEntry): void {
    entry.older = this.newest;
    entry.newer = undefined;
    if (this.newest === undefined) this.oldest = entry;
    else this.newest.newer = entry;
    this.newest = entry;
  }

  private unlink(entry: MemoryCacheEntry): void {
    if (entry.older === undefined) this.oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.newest = entry.older;
    else entry.newer.older = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
  }
}
