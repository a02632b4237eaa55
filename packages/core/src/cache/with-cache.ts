import type {
  RepositoryBackend,
  TransactionalQueue,
  TransactionOptions,
  TransactionScope,
} from '../backend/backend.js';
import { isFunction, overriding } from '../backend/overriding.js';
import { AbortedError, type BerthErrorCode, isBerthError, ValidationError } from '../errors.js';
import { type SignalOptions, throwIfAborted } from '../operation/abort.js';
import { type BerthLogger, consoleLogger } from '../operation/logger.js';
import type { CountByGroup, Filter, Page, Query, QueryPlan } from '../query/query.js';
import type { ScalarPath } from '../query/typed-paths.js';
import type { Update } from '../query/update.js';
import type {
  Conditional,
  InsertOptions,
  IterateOptions,
  Repository,
  RepositoryOptions,
  UpdateOptions,
  WithEntry,
  WithoutEntry,
  WriteEntryOptions,
  WriteOptions,
} from '../repository/repository.js';
import type { Document, DocumentValue, Entry, NewDocument } from '../values/document.js';
import { checkId, cloneValue, isPlainObject } from '../values/values.js';
import type { Cache } from './cache.js';

/**
 * What `onCacheError` of {@link withCache} is told about a cache operation
 * that failed (the read or write itself then goes on without the cache).
 *
 * ### Examples
 * ```ts
 * import type { CacheErrorContext } from '@berth/core';
 *
 * function logCacheError(error: unknown, { operation, key, collection }: CacheErrorContext): void {
 *   console.warn(`cache ${operation} of ${key} (${collection}) failed`, error);
 * }
 * ```
 */
export interface CacheErrorContext {
  /** The cache operation that failed. */
  readonly operation: 'get' | 'set' | 'delete' | 'deleteByPrefix';
  /** The key (or, for `deleteByPrefix`, the prefix) it addressed. */
  readonly key: string;
  /** The collection the read or write was for. */
  readonly collection: string;
}

/**
 * Options of {@link withCache}.
 *
 * ### Examples
 * ```ts
 * import type { WithCacheOptions } from '@berth/core';
 *
 * const options: WithCacheOptions = {
 *   ttlMs: 5 * 60_000,
 *   prefix: 'shop:',
 *   queries: false,
 *   onCacheError: (error, context) => console.warn('cache', context.operation, context.key, error),
 * };
 * ```
 */
export interface WithCacheOptions {
  /** How long a cached read lives, in milliseconds (default 60 000). */
  readonly ttlMs?: number | undefined;
  /**
   * Prepended to every key (default `berth:`). Keys are
   * `<prefix><collection>:id:<id>` and `<prefix><collection>:q:<operation>:<query>`.
   */
  readonly prefix?: string | undefined;
  /**
   * Cache `find`, `findOne`, `findPage`, `count`, `countBy` and `exists`
   * results too (default `true`). When `false`, only `get` and `getMany` are
   * cached, and writes skip the `deleteByPrefix` of the collection's query
   * keys, which is the expensive part of invalidation on a remote cache.
   */
  readonly queries?: boolean | undefined;
  /**
   * Told about every cache operation that threw. The read or write goes on
   * without the cache, so a cache outage never fails an operation. Default:
   * the `logger`'s `error`.
   */
  readonly onCacheError?: ((error: unknown, context: CacheErrorContext) => void) | undefined;
  /** Where cache failures go when there is no `onCacheError` (default `console`). */
  readonly logger?: BerthLogger | undefined;
}

const DEFAULT_TTL_MS = 60_000;
const DEFAULT_PREFIX = 'berth:';

/**
 * Failures after which the engine surely wrote nothing. After any other
 * failure (a lost connection, a timeout) the write may have landed, so the
 * cache is invalidated as if it had.
 */
const NOTHING_WRITTEN: ReadonlySet<BerthErrorCode> = new Set<BerthErrorCode>([
  'VALIDATION',
  'ALREADY_EXISTS',
  'NOT_FOUND',
  'CONFLICT',
  'UNSUPPORTED',
  'TRANSACTION',
]);

function wroteNothing(error: unknown): boolean {
  return isBerthError(error) && NOTHING_WRITTEN.has(error.code);
}

/** The keys one write makes stale: the ids it touched, or the whole collection. */
interface Invalidation {
  readonly collection: string;
  readonly ids: readonly string[];
  /** Ids unknown (`updateMany`, `deleteMany`): drop every key of the collection. */
  readonly everything: boolean;
}

type Sink = (invalidation: Invalidation) => Promise<void>;

function isValidId(id: unknown): id is string {
  try {
    checkId(id);
    return true;
  } catch {
    return false;
  }
}

function logCacheError(logger: BerthLogger): (error: unknown, context: CacheErrorContext) => void {
  return (error, context) =>
    logger.error(
      `berth withCache: cache ${context.operation} of "${context.key}" failed; the ${context.collection} operation went on without the cache`,
      { error, ...context },
    );
}

/**
 * A stable text form of a query, or `undefined` when the query holds values
 * that no valid query holds (then the engine sees it uncached and rejects it).
 * Object keys are sorted and `undefined` properties dropped, as the engine
 * ignores them. Strings are JSON-quoted and Dates written as `D<ms>`, which no
 * other value produces, so two queries share a key only when they are equal.
 */
function canonicalQuery(value: unknown, seen: Set<object> = new Set()): string | undefined {
  switch (typeof value) {
    case 'undefined':
      return 'u';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : undefined;
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (value instanceof Date) {
        const time = value.getTime();
        return Number.isNaN(time) ? undefined : `D${time}`;
      }
      if (seen.has(value)) return undefined;
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          const parts: string[] = [];
          for (let index = 0; index < value.length; index++) {
            const part = canonicalQuery(value[index], seen);
            if (part === undefined) return undefined;
            parts.push(part);
          }
          return `[${parts.join(',')}]`;
        }
        if (!isPlainObject(value) || Object.getOwnPropertySymbols(value).length > 0) return undefined;
        const parts: string[] = [];
        for (const key of Object.keys(value).sort()) {
          if (value[key] === undefined) continue;
          const part = canonicalQuery(value[key], seen);
          if (part === undefined) return undefined;
          parts.push(`${JSON.stringify(key)}:${part}`);
        }
        return `{${parts.join(',')}}`;
      } finally {
        seen.delete(value);
      }
    }
    default:
      return undefined;
  }
}

/** State shared by everything one `withCache` call hands out. */
class CacheState {
  readonly ttlMs: number;
  readonly prefix: string;
  readonly queries: boolean;
  private readonly onCacheError: (error: unknown, context: CacheErrorContext) => void;
  /**
   * Bumped by every write, per collection. A read stores what it read only if
   * the number did not move meanwhile: otherwise a write may have landed (and
   * invalidated) between the engine read and the cache set, and storing would
   * bring back the value the write replaced.
   */
  private readonly generations = new Map<string, number>();

  constructor(
    readonly cache: Cache,
    options: WithCacheOptions,
  ) {
    const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new ValidationError(`withCache ttlMs must be a positive number of milliseconds, got ${ttlMs}`, 'ttlMs');
    }
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    if (typeof prefix !== 'string') throw new ValidationError('withCache prefix must be a string', 'prefix');
    this.ttlMs = ttlMs;
    this.prefix = prefix;
    this.queries = options.queries ?? true;
    this.onCacheError = options.onCacheError ?? logCacheError(options.logger ?? consoleLogger);
  }

  idKey(collection: string, id: string): string {
    return `${this.prefix}${collection}:id:${id}`;
  }

  queryKey(collection: string, operation: string, input: unknown): string | undefined {
    if (!this.queries) return undefined;
    const canonical = canonicalQuery(input);
    return canonical === undefined ? undefined : `${this.prefix}${collection}:q:${operation}:${canonical}`;
  }

  generation(collection: string): number {
    return this.generations.get(collection) ?? 0;
  }

  /** Read-through: the cached value, or `load()`'s result, stored unless a write raced it. */
  async read<V>(
    collection: string,
    key: string,
    operation: string,
    signal: AbortSignal | undefined,
    load: () => Promise<V>,
  ): Promise<V> {
    // A hit must not answer a call that was aborted before it started.
    throwIfAborted(signal, `${collection}.${operation}`);
    const hit = await this.get(collection, key, signal);
    if (hit !== undefined) return hit as V;
    const generation = this.generation(collection);
    const value = await load();
    await this.store(collection, key, value, generation);
    return value;
  }

  /** A cache get that never throws (except when the caller aborted). */
  async get(collection: string, key: string, signal: AbortSignal | undefined): Promise<DocumentValue | undefined> {
    try {
      return await this.cache.get(key, { signal });
    } catch (error) {
      if (signal?.aborted) throw new AbortedError(`${collection} read was aborted`, { cause: signal.reason });
      this.report(error, { operation: 'get', key, collection });
      return undefined;
    }
  }

  async store(collection: string, key: string, value: unknown, generation: number): Promise<void> {
    if (this.generation(collection) !== generation) return;
    try {
      await this.cache.set(key, value as DocumentValue, { ttlMs: this.ttlMs });
    } catch (error) {
      this.report(error, { operation: 'set', key, collection });
      return;
    }
    // A write finished while the set was on its way; on a remote cache its
    // delete may have arrived first, so take back what was just stored.
    if (this.generation(collection) !== generation) await this.delete(collection, key);
  }

  /** Drops the keys the writes made stale. Bumps generations first, so reads in flight do not store. */
  async invalidate(invalidations: readonly Invalidation[]): Promise<void> {
    const byCollection = new Map<string, { ids: Set<string>; everything: boolean }>();
    for (const { collection, ids, everything } of invalidations) {
      let merged = byCollection.get(collection);
      if (merged === undefined) {
        merged = { ids: new Set(), everything: false };
        byCollection.set(collection, merged);
      }
      for (const id of ids) merged.ids.add(id);
      merged.everything ||= everything;
    }
    for (const collection of byCollection.keys()) {
      this.generations.set(collection, this.generation(collection) + 1);
    }
    const deletions: Promise<void>[] = [];
    for (const [collection, { ids, everything }] of byCollection) {
      if (everything) {
        deletions.push(this.deleteByPrefix(collection, `${this.prefix}${collection}:`));
        continue;
      }
      for (const id of ids) deletions.push(this.delete(collection, this.idKey(collection, id)));
      if (this.queries) deletions.push(this.deleteByPrefix(collection, `${this.prefix}${collection}:q:`));
    }
    await Promise.all(deletions);
  }

  private async delete(collection: string, key: string): Promise<void> {
    try {
      await this.cache.delete(key);
    } catch (error) {
      this.report(error, { operation: 'delete', key, collection });
    }
  }

  private async deleteByPrefix(collection: string, prefix: string): Promise<void> {
    try {
      await this.cache.deleteByPrefix(prefix);
    } catch (error) {
      this.report(error, { operation: 'deleteByPrefix', key: prefix, collection });
    }
  }

  private report(error: unknown, context: CacheErrorContext): void {
    try {
      this.onCacheError(error, context);
    } catch {
      // The reporter is told about the cache; if it fails too, the read or
      // write it came from must still succeed.
    }
  }

  /** Runs a transaction whose writes invalidate once it has committed. */
  async transaction<R>(
    backend: RepositoryBackend,
    work: (tx: TransactionScope) => Promise<R>,
    options?: TransactionOptions,
  ): Promise<R> {
    const pending: Invalidation[] = [];
    const collect: Sink = async (invalidation) => {
      pending.push(invalidation);
    };
    let workFailed = false;
    let result: R;
    try {
      result = await backend.transaction(async (scope) => {
        workFailed = false;
        try {
          return await work(transactionScope(scope, this, collect));
        } catch (error) {
          workFailed = true;
          throw error;
        }
      }, options);
    } catch (error) {
      // `work` threw: the engine rolled back and every cached value is still
      // right. The commit failed after `work` resolved: unless the engine
      // says it wrote nothing, the commit may have landed.
      if (!workFailed && !wroteNothing(error)) await this.invalidate(pending);
      throw error;
    }
    await this.invalidate(pending);
    return result;
  }
}

/**
 * A repository whose reads go through the cache (or, inside a transaction,
 * straight to the engine) and whose writes hand their stale keys to a sink.
 */
class CachedRepository<T extends Document> implements Repository<T> {
  readonly name: string;

  constructor(
    private readonly inner: Repository<T>,
    private readonly state: CacheState,
    /** `false` inside a transaction: its reads must see its own uncommitted writes, and must not be cached. */
    private readonly cacheReads: boolean,
    private readonly sink: Sink,
  ) {
    this.name = inner.name;
  }

  get(id: string, options?: SignalOptions): Promise<T | null> {
    const load = () => this.inner.get(id, options);
    // An invalid id goes to the engine, which rejects it with its own error.
    if (!this.cacheReads || !isValidId(id)) return load();
    return this.state.read(this.name, this.state.idKey(this.name, id), 'get', options?.signal, load);
  }

  getEntry(id: string, options?: SignalOptions): Promise<Entry<T> | null> {
    // Metadata (the version) feeds optimistic concurrency; it is never served stale.
    return this.inner.getEntry(id, options);
  }

  async getMany(ids: readonly string[], options?: SignalOptions): Promise<(T | null)[]> {
    if (!this.cacheReads || !ids.every(isValidId)) return this.inner.getMany(ids, options);
    throwIfAborted(options?.signal, `${this.name}.getMany`);
    const unique = [...new Set(ids)];
    const found = new Map<string, T | null>();
    const hits = await Promise.all(
      unique.map((id) => this.state.get(this.name, this.state.idKey(this.name, id), options?.signal)),
    );
    const missing: string[] = [];
    unique.forEach((id, index) => {
      const hit = hits[index];
      if (hit === undefined) missing.push(id);
      else found.set(id, hit as unknown as T | null);
    });
    if (missing.length > 0) {
      const generation = this.state.generation(this.name);
      const loaded = await this.inner.getMany(missing, options);
      await Promise.all(
        missing.map((id, index) => {
          const document = loaded[index] ?? null;
          found.set(id, document);
          return this.state.store(this.name, this.state.idKey(this.name, id), document, generation);
        }),
      );
    }
    // An id asked twice gets two copies, as from the engine.
    const handedOut = new Set<string>();
    return ids.map((id) => {
      const document = found.get(id) ?? null;
      if (!handedOut.has(id)) {
        handedOut.add(id);
        return document;
      }
      return cloneValue(document);
    });
  }

  private query<V>(operation: string, input: unknown, options: SignalOptions | undefined, load: () => Promise<V>) {
    const key = this.cacheReads ? this.state.queryKey(this.name, operation, input) : undefined;
    if (key === undefined) return load();
    return this.state.read(this.name, key, operation, options?.signal, load);
  }

  find(query?: Query<T>, options?: SignalOptions): Promise<T[]> {
    return this.query('find', query, options, () => this.inner.find(query, options));
  }

  findPage(query?: Query<T>, options?: SignalOptions): Promise<Page<T>> {
    return this.query('findPage', query, options, () => this.inner.findPage(query, options));
  }

  findOne(query?: Query<T>, options?: SignalOptions): Promise<T | null> {
    return this.query('findOne', query, options, () => this.inner.findOne(query, options));
  }

  count(where?: Filter<T>, options?: SignalOptions): Promise<number> {
    return this.query('count', where, options, () => this.inner.count(where, options));
  }

  countBy(field: ScalarPath<T>, where?: Filter<T>, options?: SignalOptions): Promise<CountByGroup[]> {
    return this.query('countBy', [field, where], options, () => this.inner.countBy(field, where, options));
  }

  exists(where?: Filter<T>, options?: SignalOptions): Promise<boolean> {
    return this.query('exists', where, options, () => this.inner.exists(where, options));
  }

  iterate(query?: Query<T>, options?: IterateOptions): AsyncIterableIterator<T> {
    // Streams are for results too big to hold, so too big to cache.
    return this.inner.iterate(query, options);
  }

  explain(query?: Query<T>, options?: SignalOptions): Promise<QueryPlan> {
    return this.inner.explain(query, options);
  }

  // Entries carry metadata (the version feeds optimistic concurrency): like getEntry, never served stale.
  findEntries(query?: Query<T>, options?: SignalOptions): Promise<Entry<T>[]> {
    return this.inner.findEntries(query, options);
  }

  findEntriesPage(query?: Query<T>, options?: SignalOptions): Promise<Page<Entry<T>>> {
    return this.inner.findEntriesPage(query, options);
  }

  iterateEntries(query?: Query<T>, options?: IterateOptions): AsyncIterableIterator<Entry<T>> {
    return this.inner.iterateEntries(query, options);
  }

  /**
   * Runs a write, then invalidates what it touched. When it fails in a way
   * that may still have written, what it may have touched is invalidated.
   */
  private async write<R>(run: () => Promise<R>, touched: (result: R) => Invalidation, mayHaveTouched: Invalidation) {
    let result: R;
    try {
      result = await run();
    } catch (error) {
      if (!wroteNothing(error)) await this.sink(mayHaveTouched);
      throw error;
    }
    await this.sink(touched(result));
    return result;
  }

  private ids(ids: readonly unknown[]): Invalidation {
    return { collection: this.name, ids: ids.filter(isValidId), everything: false };
  }

  private everything(): Invalidation {
    return { collection: this.name, ids: [], everything: true };
  }

  insert(document: NewDocument<T>, options: WithEntry<InsertOptions>): Promise<Entry<T>>;
  insert(document: NewDocument<T>, options?: WithoutEntry<InsertOptions>): Promise<T>;
  insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>>;
  insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>> {
    return this.write(
      () => this.inner.insert(document, options),
      // With `returnEntry` the result is an entry: the id is its document's.
      (inserted) => this.ids([options?.returnEntry === true ? (inserted as Entry<T>).document.id : (inserted as T).id]),
      this.ids([document.id]),
    );
  }

  replace(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  replace(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    const touched = this.ids([document.id]);
    return this.write(
      () => this.inner.replace(document, options),
      () => touched,
      touched,
    );
  }

  upsert(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  upsert(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    const touched = this.ids([document.id]);
    return this.write(
      () => this.inner.upsert(document, options),
      () => touched,
      touched,
    );
  }

  update(id: string, update: Update<T>, options: WithEntry<UpdateOptions<T>> & Conditional): Promise<Entry<T> | null>;
  update(id: string, update: Update<T>, options: WithEntry<UpdateOptions<T>>): Promise<Entry<T>>;
  update(id: string, update: Update<T>, options: WithoutEntry<UpdateOptions<T>> & Conditional): Promise<T | null>;
  update(id: string, update: Update<T>, options?: WithoutEntry<UpdateOptions<T>>): Promise<T>;
  update(
    id: string,
    update: Update<T>,
    options?: UpdateOptions<T> & { readonly where?: undefined },
  ): Promise<T | Entry<T>>;
  update(id: string, update: Update<T>, options?: UpdateOptions<T>): Promise<T | Entry<T> | null>;
  update(id: string, update: Update<T>, options?: UpdateOptions<T>): Promise<T | Entry<T> | null> {
    const touched = this.ids([id]);
    return this.write(
      () => this.inner.update(id, update, options),
      () => touched,
      touched,
    );
  }

  delete(id: string, options?: WriteOptions): Promise<boolean> {
    const touched = this.ids([id]);
    return this.write(
      () => this.inner.delete(id, options),
      () => touched,
      touched,
    );
  }

  insertMany(documents: readonly NewDocument<T>[], options?: SignalOptions): Promise<T[]> {
    return this.write(
      () => this.inner.insertMany(documents, options),
      (inserted) => this.ids(inserted.map((document) => document.id)),
      this.ids(documents.map((document) => document.id)),
    );
  }

  upsertMany(documents: readonly T[], options?: SignalOptions): Promise<T[]> {
    const touched = this.ids(documents.map((document) => document.id));
    return this.write(
      () => this.inner.upsertMany(documents, options),
      () => touched,
      touched,
    );
  }

  updateMany(where: Filter<T> | undefined, update: Update<T>, options?: SignalOptions): Promise<number> {
    // Which ids matched is known only to the engine; asking it first would race.
    const touched = this.everything();
    return this.write(
      () => this.inner.updateMany(where, update, options),
      () => touched,
      touched,
    );
  }

  deleteMany(where: Filter<T> | undefined, options?: SignalOptions): Promise<number> {
    const touched = this.everything();
    return this.write(
      () => this.inner.deleteMany(where, options),
      () => touched,
      touched,
    );
  }

  /** Invalidates the imported ids: an import replaces whatever they held, metadata included. */
  importEntries(entries: readonly Entry<T>[], options?: SignalOptions): Promise<number> {
    // Read defensively: the adapter refuses a malformed batch, and the ids it names are all that can have changed.
    const ids = Array.isArray(entries)
      ? entries.map((entry: unknown) => (entry as { document?: { id?: unknown } } | null)?.document?.id)
      : [];
    const touched = this.ids(ids);
    return this.write(
      () => this.inner.importEntries(entries, options),
      () => touched,
      touched,
    );
  }
}

function transactionScope(scope: TransactionScope, state: CacheState, collect: Sink): TransactionScope {
  return overriding(
    scope,
    new Map<PropertyKey, unknown>([
      [
        'repository',
        <T extends Document>(name: string, options?: RepositoryOptions<T>): Repository<T> =>
          new CachedRepository(scope.repository<T>(name, options), state, false, collect),
      ],
      ['queue', <Q>(name: string): TransactionalQueue<Q> => scope.queue<Q>(name)],
    ]),
  );
}

function isRepositoryBackend(value: Repository<Document> | RepositoryBackend): value is RepositoryBackend {
  return (
    isFunction((value as Partial<RepositoryBackend>).repository) &&
    isFunction((value as Partial<RepositoryBackend>).transaction)
  );
}

/**
 * Read-through caching for a repository, or for every repository of a backend.
 *
 * Reads (`get`, `getMany` per id, and `find`, `findOne`, `findPage`,
 * `count`, `countBy`, `exists` keyed by a canonical form of the query, Dates
 * included) are answered from `cache` when it holds them, and stored there
 * for `ttlMs` when it does not. Every write through the wrapper, bulk writes
 * included, then deletes the keys of the ids it touched and every query key
 * of its collection (`updateMany` and `deleteMany` drop the whole
 * collection's keys), after the engine has acknowledged it and before the
 * write resolves, so the writer reads its own write.
 *
 * Wrapping a backend also covers transactions: repositories of
 * `transaction()` read the engine (they must see their own writes, which
 * must not reach the cache before commit) and collect what their writes make
 * stale; the collected keys are invalidated once the transaction has
 * committed, and not at all when it rolls back.
 *
 * A read that raced a write never stores what it read: each wrapper counts
 * writes per collection and a read stores only if no write finished while it
 * ran. The count lives in the wrapper, so share one wrapped backend across
 * the application. Writes that bypass the wrapper (another process, another
 * wrapper, the raw backend) are not seen: `ttlMs` bounds how stale a read
 * can then be.
 *
 * A failing cache never fails an operation: the read goes to the engine, the
 * write succeeds, and `onCacheError` is told. `getEntry` (metadata feeds
 * optimistic concurrency), `iterate` and `explain` always go to the engine.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend, MemoryCache } from '@berth/adapter-memory';
 * import { withCache } from '@berth/core';
 *
 * interface Player { id: string; name: string; level: number }
 *
 * const backend = withCache(new MemoryBackend(), new MemoryCache({ maxEntries: 1_000 }), { ttlMs: 30_000 });
 * const players = backend.repository<Player>('players');
 * await players.insert({ id: 'ada', name: 'Ada', level: 1 });
 * await players.get('ada'); // read from the engine, then cached
 * await players.get('ada'); // served by the cache
 * await players.update('ada', { $inc: { level: 1 } }); // drops 'ada' and every cached players query
 * await backend.transaction(async (tx) => {
 *   await tx.repository<Player>('players').update('ada', { name: 'Ada L.' });
 * }); // invalidated once committed
 * console.log(await players.get('ada'));
 * ```
 */
export function withCache<T extends Document>(
  repository: Repository<T>,
  cache: Cache,
  options?: WithCacheOptions,
): Repository<T>;
export function withCache<B extends RepositoryBackend>(backend: B, cache: Cache, options?: WithCacheOptions): B;
export function withCache(
  target: Repository<Document> | RepositoryBackend,
  cache: Cache,
  options: WithCacheOptions = {},
): Repository<Document> | RepositoryBackend {
  const state = new CacheState(cache, options);
  const invalidateNow: Sink = (invalidation) => state.invalidate([invalidation]);
  if (!isRepositoryBackend(target)) return new CachedRepository(target, state, true, invalidateNow);
  const backend = target;
  return overriding(
    backend,
    new Map<PropertyKey, unknown>([
      [
        'repository',
        <T extends Document>(name: string, repositoryOptions?: RepositoryOptions<T>): Repository<T> =>
          new CachedRepository(backend.repository<T>(name, repositoryOptions), state, true, invalidateNow),
      ],
      [
        'transaction',
        <R>(work: (tx: TransactionScope) => Promise<R>, transactionOptions?: TransactionOptions): Promise<R> =>
          state.transaction(backend, work, transactionOptions),
      ],
    ]),
  );
}
