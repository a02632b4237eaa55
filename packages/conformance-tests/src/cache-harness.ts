import { type Cache, type Capabilities, type RepositoryBackend, type WithCacheOptions, withCache } from '@berth/core';
import type {
  BaseContext,
  CleanupInfo,
  ConformanceCase,
  ConformanceGroup,
  ConformanceOptions,
  ConnectableBackend,
} from './harness.js';

/**
 * What a cache claims beyond the `Cache` port.
 *
 * ### Examples
 * ```ts
 * import { RedisCache } from '@berth/adapter-redis';
 * import { type CacheCapabilities, cacheConformance } from '@berth/conformance-tests';
 *
 * // Redis evicts by its own maxmemory policy: the cache does not claim LRU bounds.
 * const capabilities: CacheCapabilities = { lru: false };
 * cacheConformance({
 *   name: 'redis',
 *   createCache: ({ namespace }) => new RedisCache({ url: 'redis://127.0.0.1:6379', keyPrefix: namespace }),
 *   capabilities,
 * });
 * ```
 */
export interface CacheCapabilities {
  /**
   * The cache honours the `maxEntries` and `maxBytes` bounds `createCache`
   * receives, evicting the least recently used entry first (a process-local
   * cache such as `MemoryCache`). A cache whose eviction the server decides
   * (Redis `maxmemory`) claims `false`; the `cache-eviction` group is then
   * not registered.
   */
  readonly lru: boolean;
}

/**
 * Size bounds for caches that enforce their own (see {@link CacheCapabilities.lru}).
 *
 * ### Examples
 * ```ts
 * import { MemoryCache } from '@berth/adapter-memory';
 * import type { CacheBounds } from '@berth/conformance-tests';
 *
 * const createBoundedCache = ({ maxEntries, maxBytes }: CacheBounds) => new MemoryCache({ maxEntries, maxBytes });
 * ```
 */
export interface CacheBounds {
  readonly maxEntries?: number | undefined;
  /** UTF-8 bytes of the JSON text of keys and values (Dates as `{"$date": …}`). */
  readonly maxBytes?: number | undefined;
}

/**
 * What `createCache` receives.
 *
 * ### Examples
 * ```ts
 * import { MemoryCache } from '@berth/adapter-memory';
 * import type { CreateCacheConfig } from '@berth/conformance-tests';
 *
 * // A process-local cache needs no namespace: each call makes a new, empty cache.
 * function createCache({ maxEntries, maxBytes }: CreateCacheConfig): MemoryCache {
 *   return new MemoryCache({ maxEntries, maxBytes });
 * }
 * ```
 */
export interface CreateCacheConfig extends CacheBounds {
  /**
   * A name no other test uses. A cache on a shared server (Redis) uses it as
   * its key namespace, so each test starts empty with counters at zero.
   */
  readonly namespace: string;
}

/**
 * A read-through wrapper of a repository backend, as `withCache` is.
 *
 * ### Examples
 * ```ts
 * import { withCache } from '@berth/core';
 * import type { WrapBackendWithCache } from '@berth/conformance-tests';
 *
 * // A wrapper under test that adds a default TTL before handing over to withCache.
 * const withShortTtl: WrapBackendWithCache = (backend, cache, options) =>
 *   withCache(backend, cache, { ttlMs: 5_000, ...options });
 * ```
 */
export type WrapBackendWithCache = (
  backend: RepositoryBackend,
  cache: Cache,
  options: WithCacheOptions,
) => RepositoryBackend;

/**
 * The repository side of the `with-cache` group.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend, MemoryCache } from '@berth/adapter-memory';
 * import { type CacheRepositoryOptions, cacheConformance } from '@berth/conformance-tests';
 *
 * const repository: CacheRepositoryOptions = {
 *   createBackend: () => new MemoryBackend(),
 *   capabilities: new MemoryBackend().capabilities,
 * };
 * cacheConformance({ name: 'memory', createCache: () => new MemoryCache(), repository });
 * ```
 */
export interface CacheRepositoryOptions {
  /** A fresh repository backend (connected and closed by the harness). */
  readonly createBackend: () => RepositoryBackend | Promise<RepositoryBackend>;
  /** Its capabilities; transactional cases need `transactions` other than `none`. */
  readonly capabilities: Capabilities;
  /** The wrapper under test (default: `withCache` from `@berth/core`). */
  readonly withCache?: WrapBackendWithCache | undefined;
  /** Drops the collections a test created, before the backend is closed (see `ConformanceOptions.cleanup`). */
  readonly cleanup?: ((info: CleanupInfo<RepositoryBackend>) => Promise<void> | void) | undefined;
}

/**
 * How a cache conformance run gets caches.
 *
 * ### Examples
 * ```ts
 * import { MemoryCache } from '@berth/adapter-memory';
 * import type { CacheConformanceOptions } from '@berth/conformance-tests';
 *
 * const options: CacheConformanceOptions = {
 *   name: 'memory',
 *   createCache: ({ maxEntries, maxBytes }) => new MemoryCache({ maxEntries, maxBytes }),
 *   capabilities: { lru: true },
 * };
 * ```
 */
export interface CacheConformanceOptions {
  /** Shown in test names. */
  readonly name?: string | undefined;
  /**
   * Creates a fresh, empty cache with its counters at zero, called once or
   * more per test; each is closed after the test. It must not expire what a
   * test sets without a TTL within a few seconds (no short default TTL).
   */
  readonly createCache: (config: CreateCacheConfig) => Cache | Promise<Cache>;
  /** Default `{ lru: false }`. */
  readonly capabilities?: CacheCapabilities | undefined;
  /** Registers the `with-cache` group: `withCache` over this backend and the cache. */
  readonly repository?: CacheRepositoryOptions | undefined;
  /** Per-test timeout in milliseconds (default 20 000). */
  readonly timeoutMs?: number | undefined;
}

/**
 * What the harness opens and closes around each cache test: the caches it
 * created and, for the `with-cache` group, a repository backend.
 *
 * ### Examples
 * ```ts
 * import { type CacheConformanceContext, defineCacheGroupWith } from '@berth/conformance-tests';
 *
 * // A case that also needs the fixture's repository backend.
 * async function hasBackend({ backend }: CacheConformanceContext): Promise<void> {
 *   if (backend.repositoryBackend === undefined) throw new Error('run it with the repository option');
 * }
 * export const myGroup = defineCacheGroupWith('my-cache-backend', [{ name: 'has a backend', run: hasBackend }], (c) => c);
 * ```
 */
export interface CacheFixture extends ConnectableBackend {
  readonly cacheCapabilities: CacheCapabilities;
  /** The test's main cache (created by `connect`). */
  readonly cache: Cache;
  /** The repository backend (created by `connect`), when the run has one. */
  readonly repositoryBackend: RepositoryBackend | undefined;
  readonly wrapBackend: WrapBackendWithCache;
  /** Another fresh cache for this test, closed with it. */
  createCache(bounds?: CacheBounds): Promise<Cache>;
}

/**
 * What each cache case receives.
 *
 * ### Examples
 * ```ts
 * import { type CacheConformanceContext, defineCacheGroup } from '@berth/conformance-tests';
 *
 * async function keepsUnicodeKeys({ cache }: CacheConformanceContext): Promise<void> {
 *   await cache.set('café ☕', 1);
 *   if ((await cache.get('café ☕')) !== 1) throw new Error('key lost');
 * }
 * export const myCacheGroup = defineCacheGroup('my-cache', [{ name: 'keeps unicode keys', run: keepsUnicodeKeys }]);
 * ```
 */
export interface CacheConformanceContext extends BaseContext<CacheFixture> {
  /** A fresh, empty cache of this test's own. */
  readonly cache: Cache;
  readonly cacheCapabilities: CacheCapabilities;
  /** Another fresh cache, with bounds (the eviction cases). */
  createCache(bounds?: CacheBounds): Promise<Cache>;
}

const NO_REPOSITORY: Capabilities = {
  repository: { transactions: 'none', uniqueIndexes: false, durable: false },
  queue: { level: 'none', transactionalEnqueue: false, durable: false, notifications: false },
};

let namespaceCounter = 0;

function uniqueNamespace(): string {
  namespaceCounter += 1;
  const random = Math.random().toString(36).slice(2, 8);
  return `berth_test_${Date.now().toString(36)}_${random}_${namespaceCounter}:`;
}

class HarnessCacheFixture implements CacheFixture {
  readonly cacheCapabilities: CacheCapabilities;
  readonly wrapBackend: WrapBackendWithCache;
  private readonly caches: Cache[] = [];
  private mainCache: Cache | undefined;
  private backend: RepositoryBackend | undefined;

  constructor(private readonly options: CacheConformanceOptions) {
    this.cacheCapabilities = options.capabilities ?? { lru: false };
    this.wrapBackend = options.repository?.withCache ?? withCache;
  }

  get cache(): Cache {
    if (this.mainCache === undefined) throw new Error('the cache fixture is not connected');
    return this.mainCache;
  }

  get repositoryBackend(): RepositoryBackend | undefined {
    return this.backend;
  }

  async connect(): Promise<void> {
    this.mainCache = await this.createCache();
    const repository = this.options.repository;
    if (repository !== undefined) {
      this.backend = await repository.createBackend();
      await this.backend.connect();
    }
  }

  async createCache(bounds: CacheBounds = {}): Promise<Cache> {
    const cache = await this.options.createCache({ ...bounds, namespace: uniqueNamespace() });
    this.caches.push(cache);
    return cache;
  }

  async close(): Promise<void> {
    const closing = this.caches.splice(0).map((cache) => cache.close?.());
    if (this.backend !== undefined) closing.push(this.backend.close());
    await Promise.all(closing);
  }
}

/**
 * Turns cache options into the harness's options, for `registerGroup` and
 * `runGroup` with a single cache group.
 *
 * ### Examples
 * ```ts
 * import { MemoryCache } from '@berth/adapter-memory';
 * import { cacheRunOptions, cacheTtlGroup, registerGroup } from '@berth/conformance-tests';
 *
 * registerGroup(cacheTtlGroup, cacheRunOptions({ name: 'memory', createCache: () => new MemoryCache() }));
 * ```
 */
export function cacheRunOptions(options: CacheConformanceOptions): ConformanceOptions<CacheFixture> {
  const cleanup = options.repository?.cleanup;
  return {
    name: options.name,
    createBackend: () => new HarnessCacheFixture(options),
    capabilities: options.repository?.capabilities ?? NO_REPOSITORY,
    timeoutMs: options.timeoutMs,
    cleanup:
      cleanup === undefined
        ? undefined
        : async ({ backend, ...names }) => {
            const repositoryBackend = backend.repositoryBackend;
            if (repositoryBackend !== undefined) await cleanup({ backend: repositoryBackend, ...names });
          },
  };
}

function cacheContext(base: BaseContext<CacheFixture>): CacheConformanceContext {
  return {
    ...base,
    cache: base.backend.cache,
    cacheCapabilities: base.backend.cacheCapabilities,
    createCache: (bounds) => base.backend.createCache(bounds),
  };
}

/**
 * Declares a group of cache cases.
 *
 * ### Examples
 * ```ts
 * import { MemoryCache } from '@berth/adapter-memory';
 * import { cacheRunOptions, defineCacheGroup, registerGroup } from '@berth/conformance-tests';
 *
 * const myCacheGroup = defineCacheGroup('my-cache', [
 *   {
 *     name: 'keeps what was set',
 *     async run({ cache }) {
 *       await cache.set('k', 1);
 *       if ((await cache.get('k')) !== 1) throw new Error('lost');
 *     },
 *   },
 * ]);
 * registerGroup(myCacheGroup, cacheRunOptions({ name: 'memory', createCache: () => new MemoryCache() }));
 * ```
 */
export function defineCacheGroup(
  name: string,
  cases: readonly ConformanceCase<CacheConformanceContext>[],
): ConformanceGroup<CacheFixture, CacheConformanceContext> {
  return { name, cases, createContext: cacheContext };
}

/**
 * Declares a group whose cases build their context from the cache one
 * (`with-cache` adds the engine and the wrapper under test).
 *
 * ### Examples
 * ```ts
 * import { MemoryCache } from '@berth/adapter-memory';
 * import { cacheRunOptions, defineCacheGroupWith, registerGroup } from '@berth/conformance-tests';
 *
 * const myGroup = defineCacheGroupWith(
 *   'my-cache-keys',
 *   [
 *     {
 *       name: 'a namespaced key round-trips',
 *       async run({ cache, key }) {
 *         await cache.set(key('a'), 1);
 *         if ((await cache.get(key('a'))) !== 1) throw new Error('lost');
 *       },
 *     },
 *   ],
 *   (context) => ({ ...context, key: (name: string) => `my-app:${name}` }),
 * );
 * registerGroup(myGroup, cacheRunOptions({ name: 'memory', createCache: () => new MemoryCache() }));
 * ```
 */
export function defineCacheGroupWith<C>(
  name: string,
  cases: readonly ConformanceCase<C>[],
  extend: (context: CacheConformanceContext) => C,
): ConformanceGroup<CacheFixture, C> {
  return { name, cases, createContext: (base) => extend(cacheContext(base)) };
}
