import {
  type Cache,
  type CacheSetOptions,
  type CacheStats,
  type Document,
  type DocumentValue,
  type Repository,
  type RepositoryBackend,
  type RepositoryOptions,
  type SignalOptions,
  type TransactionScope,
  ValidationError,
  type WithCacheOptions,
  withCache,
} from '@berth/core';
import { checkString, cloneValue, copyValue, stringifyDocument, throwIfAborted } from '@berth/core/adapter';
import type { CacheBounds, CreateCacheConfig, WrapBackendWithCache } from '../cache-harness.js';
import { override } from '../override.js';

/** One deliberate flaw of {@link ToyCache}; none makes it a correct cache. */
interface ToyFlaws {
  /** `ttlMs` is dropped: entries live until evicted. */
  readonly ignoresTtl?: boolean | undefined;
  /** What `deleteByPrefix` does instead of removing the prefixed keys. */
  readonly prefix?: 'deletes everything' | 'deletes nothing' | 'matches a glob' | undefined;
  /** Values are stored and returned as the caller's own objects. */
  readonly sharesReferences?: boolean | undefined;
  /** Values are stored unchecked. */
  readonly acceptsAnything?: boolean | undefined;
  readonly stats?: 'counts misses as hits' | 'counts expired entries' | 'clear keeps counters' | undefined;
  /** Which entry goes when a bound is passed (a correct cache evicts the least recently used). */
  readonly evicts?: 'most recently used' | 'oldest set' | undefined;
  /** Weighs strings in UTF-16 code units instead of UTF-8 bytes. */
  readonly weighsCodeUnits?: boolean | undefined;
}

interface ToyEntry {
  readonly value: DocumentValue;
  readonly weight: number;
  readonly expiresAt: number;
}

function globToRegExp(glob: string): RegExp {
  const source = [...glob]
    .map((character) => {
      if (character === '*') return '.*';
      if (character === '?') return '.';
      return character.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${source}`, 'u');
}

/**
 * A small Map-based cache written apart from `MemoryCache`, correct when
 * given no flaw (the self-test proves it), so that each broken cache differs
 * from a passing one by exactly the flaw it names.
 */
class ToyCache implements Cache {
  private readonly entries = new Map<string, ToyEntry>();
  private hits = 0;
  private misses = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(
    bounds: CacheBounds = {},
    private readonly flaws: ToyFlaws = {},
  ) {
    this.maxEntries = bounds.maxEntries ?? Number.POSITIVE_INFINITY;
    this.maxBytes = bounds.maxBytes ?? Number.POSITIVE_INFINITY;
  }

  async get(key: string, options?: SignalOptions): Promise<DocumentValue | undefined> {
    throwIfAborted(options?.signal);
    const entry = this.live(key);
    if (entry === undefined) {
      if (this.flaws.stats === 'counts misses as hits') this.hits++;
      else this.misses++;
      return undefined;
    }
    this.hits++;
    if (this.flaws.evicts !== 'oldest set') {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return this.flaws.sharesReferences ? entry.value : cloneValue(entry.value);
  }

  async set(key: string, value: DocumentValue, options?: CacheSetOptions): Promise<void> {
    throwIfAborted(options?.signal);
    checkString(key, 'key');
    const ttlMs = options?.ttlMs;
    if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0)) {
      throw new ValidationError(`ttlMs must be a positive number, got ${String(ttlMs)}`, 'ttlMs');
    }
    const checked = this.flaws.acceptsAnything ? value : copyValue(value, 'value');
    const stored = this.flaws.sharesReferences ? value : checked;
    const text = `${key}${this.flaws.acceptsAnything ? String(stored) : stringifyDocument(stored)}`;
    const weight = this.flaws.weighsCodeUnits ? text.length : new TextEncoder().encode(text).length;
    this.entries.delete(key);
    if (weight > this.maxBytes) return;
    const expiresAt = ttlMs === undefined || this.flaws.ignoresTtl ? Number.POSITIVE_INFINITY : Date.now() + ttlMs;
    this.evictFor(weight);
    this.entries.set(key, { value: stored, weight, expiresAt });
  }

  private evictFor(weight: number): void {
    const over = () => this.entries.size + 1 > this.maxEntries || this.weight() + weight > this.maxBytes;
    while (over()) {
      const keys = [...this.entries.keys()];
      const victim = this.flaws.evicts === 'most recently used' ? keys.at(-1) : keys[0];
      if (victim === undefined) return;
      this.entries.delete(victim);
    }
  }

  private weight(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.weight;
    return total;
  }

  async delete(key: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal);
    const held = this.live(key) !== undefined;
    this.entries.delete(key);
    return held;
  }

  async deleteByPrefix(prefix: string, options?: SignalOptions): Promise<number> {
    throwIfAborted(options?.signal);
    if (this.flaws.prefix === 'deletes nothing') return 0;
    const pattern = this.flaws.prefix === 'matches a glob' ? globToRegExp(prefix) : undefined;
    let removed = 0;
    for (const key of [...this.entries.keys()]) {
      const matches =
        this.flaws.prefix === 'deletes everything' || (pattern ? pattern.test(key) : key.startsWith(prefix));
      if (!matches) continue;
      if (this.live(key) !== undefined) removed++;
      this.entries.delete(key);
    }
    return removed;
  }

  async clear(options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal);
    this.entries.clear();
    if (this.flaws.stats === 'clear keeps counters') return;
    this.hits = 0;
    this.misses = 0;
  }

  async stats(options?: SignalOptions): Promise<CacheStats> {
    throwIfAborted(options?.signal);
    if (this.flaws.stats !== 'counts expired entries') {
      for (const key of [...this.entries.keys()]) this.live(key);
    }
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }

  private live(key: string): ToyEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.expiresAt > Date.now()) return entry;
    this.entries.delete(key);
    return undefined;
  }
}

const DEFAULT_PREFIX = 'berth:';

/** A repository whose writes delete the collection's keys at once, as a wrapper unaware of transactions would. */
function invalidatingAtOnce<T extends Document>(
  repository: Repository<T>,
  cache: Cache,
  prefix: string,
): Repository<T> {
  const writes = [
    'insert',
    'replace',
    'upsert',
    'update',
    'delete',
    'insertMany',
    'upsertMany',
    'updateMany',
    'deleteMany',
  ];
  const members: Record<string, unknown> = {};
  for (const write of writes) {
    const method = (repository as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[write];
    if (method === undefined) continue;
    members[write] = async (...args: unknown[]) => {
      const result = await method.apply(repository, args);
      await cache.deleteByPrefix(`${prefix}${repository.name}:`);
      return result;
    };
  }
  return override(repository, members);
}

function scopeWith(
  scope: TransactionScope,
  wrap: <T extends Document>(repository: Repository<T>) => Repository<T>,
): TransactionScope {
  return override(scope, {
    repository: <T extends Document>(name: string, options?: RepositoryOptions<T>) =>
      wrap(scope.repository<T>(name, options)),
  });
}

type TransactionWork<R> = (tx: TransactionScope) => Promise<R>;
type TransactionOptions = Parameters<RepositoryBackend['transaction']>[1];

/** Deliberately broken read-through wrappers, each built from `withCache` plus one mistake. */
const brokenWrappers: Record<string, WrapBackendWithCache> = {
  /** Drops the written ids' keys but never the query keys (nor, for bulk writes by filter, anything). */
  idKeysOnly: (backend, cache, options) =>
    withCache(backend, override(cache, { deleteByPrefix: async () => 0 }), options),

  /** Bulk writes go straight to the engine and invalidate nothing. */
  bulkWritesUninvalidated: (backend, cache, options) => {
    const cached = withCache(backend, cache, options);
    return override(cached, {
      repository: <T extends Document>(name: string, repositoryOptions?: RepositoryOptions<T>) => {
        const inner = backend.repository<T>(name, repositoryOptions);
        return override(cached.repository<T>(name, repositoryOptions), {
          insertMany: inner.insertMany.bind(inner),
          upsertMany: inner.upsertMany.bind(inner),
          updateMany: inner.updateMany.bind(inner),
          deleteMany: inner.deleteMany.bind(inner),
        });
      },
    });
  },

  /** Transactional writes invalidate as they happen, before commit, and not after. */
  invalidatesBeforeCommit: (backend, cache, options: WithCacheOptions) => {
    const cached = withCache(backend, cache, options);
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    return override(cached, {
      transaction: <R>(work: TransactionWork<R>, transactionOptions?: TransactionOptions) =>
        backend.transaction(
          (scope) => work(scopeWith(scope, (repository) => invalidatingAtOnce(repository, cache, prefix))),
          transactionOptions,
        ),
    });
  },

  /** Right on commit, but a rolled-back transaction drops the whole cache namespace too. */
  invalidatesOnRollback: (backend, cache, options: WithCacheOptions) => {
    const cached = withCache(backend, cache, options);
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    return override(cached, {
      transaction: async <R>(work: TransactionWork<R>, transactionOptions?: TransactionOptions) => {
        try {
          return await cached.transaction(work, transactionOptions);
        } catch (error) {
          await cache.deleteByPrefix(prefix);
          throw error;
        }
      },
    });
  },

  /** Transactions' repositories are cached like plain ones: reads cached, writes invalidating at once. */
  cachesTransactionReads: (backend, cache, options: WithCacheOptions) => {
    const cached = withCache(backend, cache, options);
    return override(cached, {
      transaction: <R>(work: TransactionWork<R>, transactionOptions?: TransactionOptions) =>
        backend.transaction(
          (scope) => work(scopeWith(scope, (repository) => withCache(repository, cache, options))),
          transactionOptions,
        ),
    });
  },

  /** Each `repository()` call gets a wrapper of its own, so a write through one does not stop another's racing read. */
  guardPerRepository: (backend, cache, options) => {
    const cached = withCache(backend, cache, options);
    return override(cached, {
      repository: <T extends Document>(name: string, repositoryOptions?: RepositoryOptions<T>) =>
        withCache(backend.repository<T>(name, repositoryOptions), cache, options),
    });
  },
};

/** A cache, or a wrapper around a correct one, that a named group must reject. */
export interface BrokenCache {
  readonly name: string;
  readonly group: string;
  readonly createCache: (config: CreateCacheConfig) => Cache;
  /** The read-through wrapper under test (default: core's `withCache`). */
  readonly withCache?: WrapBackendWithCache | undefined;
}

const toy =
  (flaws: ToyFlaws) =>
  (config: CreateCacheConfig): Cache =>
    new ToyCache(config, flaws);

/** The toy cache without flaws: the self-test checks it passes every group. */
export const correctToyCache: (config: CreateCacheConfig) => Cache = toy({});

/**
 * Deliberately broken caches and read-through wrappers, each with the group
 * that must reject it. A suite that lets one of them pass has lost its teeth.
 */
export const brokenCaches: readonly BrokenCache[] = [
  { name: 'ignores ttlMs', group: 'cache-ttl', createCache: toy({ ignoresTtl: true }) },
  {
    name: 'deletes every key on deleteByPrefix',
    group: 'cache-prefix',
    createCache: toy({ prefix: 'deletes everything' }),
  },
  { name: 'deletes nothing on deleteByPrefix', group: 'cache-prefix', createCache: toy({ prefix: 'deletes nothing' }) },
  {
    name: 'reads the prefix as a glob pattern (Redis SCAN MATCH unescaped)',
    group: 'cache-prefix',
    createCache: toy({ prefix: 'matches a glob' }),
  },
  { name: 'counts misses as hits', group: 'cache-stats', createCache: toy({ stats: 'counts misses as hits' }) },
  {
    name: 'counts expired entries in size',
    group: 'cache-stats',
    createCache: toy({ stats: 'counts expired entries' }),
  },
  { name: 'keeps its counters on clear', group: 'cache-stats', createCache: toy({ stats: 'clear keeps counters' }) },
  { name: 'returns shared references', group: 'cache-basics', createCache: toy({ sharesReferences: true }) },
  { name: 'stores values unchecked', group: 'cache-basics', createCache: toy({ acceptsAnything: true }) },
  {
    name: 'evicts the most recently used entry',
    group: 'cache-eviction',
    createCache: toy({ evicts: 'most recently used' }),
  },
  { name: 'evicts in insertion order (FIFO)', group: 'cache-eviction', createCache: toy({ evicts: 'oldest set' }) },
  {
    name: 'weighs UTF-16 code units, not UTF-8 bytes',
    group: 'cache-eviction',
    createCache: toy({ weighsCodeUnits: true }),
  },
  {
    name: 'withCache invalidates only the id keys, never the query keys',
    group: 'with-cache',
    createCache: correctToyCache,
    withCache: brokenWrappers.idKeysOnly,
  },
  {
    name: 'withCache lets bulk writes bypass invalidation',
    group: 'with-cache',
    createCache: correctToyCache,
    withCache: brokenWrappers.bulkWritesUninvalidated,
  },
  {
    name: 'withCache invalidates transactional writes before commit',
    group: 'with-cache',
    createCache: correctToyCache,
    withCache: brokenWrappers.invalidatesBeforeCommit,
  },
  {
    name: 'withCache invalidates on rollback',
    group: 'with-cache',
    createCache: correctToyCache,
    withCache: brokenWrappers.invalidatesOnRollback,
  },
  {
    name: 'withCache caches reads inside transactions',
    group: 'with-cache',
    createCache: correctToyCache,
    withCache: brokenWrappers.cachesTransactionReads,
  },
  {
    name: 'withCache guards against racing reads per repository object only',
    group: 'with-cache',
    createCache: correctToyCache,
    withCache: brokenWrappers.guardPerRepository,
  },
];
