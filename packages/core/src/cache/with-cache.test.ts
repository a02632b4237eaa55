import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CollectionInfo, MigrationReport, RepositoryBackend, TransactionScope } from '../backend/backend.js';
import type { Capabilities } from '../backend/capabilities.js';
import { AlreadyExistsError, ConflictError, ConnectionError, isBerthError, NotFoundError } from '../errors.js';
import type { SignalOptions } from '../operation/abort.js';
import { matchesFilter } from '../query/filter.js';
import type { Filter, Page, Query } from '../query/query.js';
import type { InsertOptions, Repository, WriteEntryOptions } from '../repository/repository.js';
import { RecordingLogger } from '../testing/recording-logger.js';
import type { AnyDocument, Document, DocumentValue, Entry, NewDocument } from '../values/document.js';
import { cloneValue } from '../values/values.js';
import type { Cache, CacheSetOptions, CacheStats } from './cache.js';
import { type CacheErrorContext, withCache } from './with-cache.js';

interface Item {
  readonly id: string;
  readonly n: number;
  readonly group?: string | undefined;
  readonly at?: Date | undefined;
}

class LogCache implements Cache {
  readonly entries = new Map<string, DocumentValue>();
  readonly log: string[] = [];
  readonly ttls: (number | undefined)[] = [];
  /** Makes the named operation throw. */
  failing = new Set<string>();
  /** Awaited inside `set` before storing (to let a write overtake it). */
  setGate: Promise<void> | undefined;

  private check(operation: string): void {
    if (this.failing.has(operation)) throw new Error(`${operation} failed`);
  }

  async get(key: string): Promise<DocumentValue | undefined> {
    this.log.push(`get ${key}`);
    this.check('get');
    const value = this.entries.get(key);
    return value === undefined ? undefined : cloneValue(value);
  }

  async set(key: string, value: DocumentValue, options?: CacheSetOptions): Promise<void> {
    this.log.push(`set ${key}`);
    this.check('set');
    this.ttls.push(options?.ttlMs);
    const copy = cloneValue(value);
    await this.setGate;
    this.entries.set(key, copy);
  }

  async delete(key: string): Promise<boolean> {
    this.log.push(`delete ${key}`);
    this.check('delete');
    return this.entries.delete(key);
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    this.log.push(`deleteByPrefix ${prefix}`);
    this.check('deleteByPrefix');
    let removed = 0;
    for (const key of [...this.entries.keys()]) {
      if (key.startsWith(prefix) && this.entries.delete(key)) removed++;
    }
    return removed;
  }

  async clear(): Promise<void> {
    this.entries.clear();
  }

  async stats(): Promise<CacheStats> {
    return { hits: 0, misses: 0, size: this.entries.size };
  }

  /** The calls since the last `take`. */
  take(): string[] {
    return this.log.splice(0);
  }
}

type Store = Map<string, Item>;

/** The read counter and failure switch an engine stand-in shares with the test. */
interface EngineControl {
  reads: number;
  /** Thrown by the next write after it has been applied (an answer lost on the way back). */
  failAfterWrite: Error | undefined;
}

function byId(a: Item, b: Item): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

class FakeRepository implements Repository<Item> {
  constructor(
    readonly name: string,
    private readonly store: Store,
    private readonly control: EngineControl,
  ) {}

  private async read<R>(compute: () => R): Promise<R> {
    this.control.reads++;
    return cloneValue(compute());
  }

  private async write<R>(apply: () => R): Promise<R> {
    await Promise.resolve();
    const result = apply();
    const failure = this.control.failAfterWrite;
    this.control.failAfterWrite = undefined;
    if (failure !== undefined) throw failure;
    return cloneValue(result);
  }

  /**
   * A write's result: the document, or an entry with `returnEntry`. Typed
   * `never` so one signature fits every overload of the port.
   */
  private written(options: InsertOptions | undefined, result: Promise<Item>): Promise<never> {
    const meta = { version: 1, createdAt: new Date(0), updatedAt: new Date(0) };
    return result.then((document) => (options?.returnEntry === true ? { document, meta } : document)) as Promise<never>;
  }

  private matches(where: Filter | undefined): Item[] {
    return [...this.store.values()].filter((item) => matchesFilter(item, where)).sort(byId);
  }

  get(id: string) {
    return this.read(() => this.store.get(id) ?? null);
  }
  getEntry(id: string) {
    const meta = { version: 1, createdAt: new Date(0), updatedAt: new Date(0) };
    return this.read(() => {
      const document = this.store.get(id);
      return document === undefined ? null : { document, meta };
    });
  }
  getMany(ids: readonly string[]) {
    return this.read(() => {
      if (ids.some((id) => id === '')) throw new Error('bad id');
      return ids.map((id) => this.store.get(id) ?? null);
    });
  }
  find(query?: Query) {
    return this.read(() => this.matches(query?.where));
  }
  findPage(query?: Query): Promise<Page<Item>> {
    return this.read(() => ({ items: this.matches(query?.where), nextCursor: null }));
  }
  findOne(query?: Query) {
    return this.read(() => this.matches(query?.where)[0] ?? null);
  }
  count(where?: Filter) {
    return this.read(() => this.matches(where).length);
  }
  countBy() {
    return this.read(() => []);
  }
  exists(where?: Filter) {
    return this.read(() => this.matches(where).length > 0);
  }
  async *iterate(query?: Query): AsyncIterableIterator<Item> {
    this.control.reads++;
    yield* this.matches(query?.where);
  }
  explain() {
    return this.read(() => ({ strategy: 'scan' as const, detail: 'fake' }));
  }
  private entries(items: Item[]): Entry<Item>[] {
    return items.map((document) => ({
      document,
      meta: { version: 1, createdAt: new Date(0), updatedAt: new Date(0) },
    }));
  }
  findEntries(query?: Query) {
    return this.read(() => this.entries(this.matches(query?.where)));
  }
  findEntriesPage(query?: Query): Promise<Page<Entry<Item>>> {
    return this.read(() => ({ items: this.entries(this.matches(query?.where)), nextCursor: null }));
  }
  async *iterateEntries(query?: Query): AsyncIterableIterator<Entry<Item>> {
    this.control.reads++;
    yield* this.entries(this.matches(query?.where));
  }
  insert(document: NewDocument<Item>, options?: InsertOptions) {
    return this.written(
      options,
      this.write(() => {
        const item = { ...document, id: document.id ?? `gen${this.store.size}` };
        if (this.store.has(item.id)) throw new AlreadyExistsError(`${item.id} exists`, 'id');
        this.store.set(item.id, item);
        return item;
      }),
    );
  }
  replace(document: Item, options?: WriteEntryOptions) {
    return this.written(
      options,
      this.write(() => {
        if (!this.store.has(document.id)) throw new NotFoundError(`${document.id} missing`);
        this.store.set(document.id, document);
        return document;
      }),
    );
  }
  upsert(document: Item, options?: WriteEntryOptions) {
    return this.written(
      options,
      this.write(() => {
        this.store.set(document.id, document);
        return document;
      }),
    );
  }
  update(id: string, patch: Partial<Item>, options?: WriteEntryOptions) {
    return this.written(
      options,
      this.write(() => {
        const item = this.store.get(id);
        if (item === undefined) throw new NotFoundError(`${id} missing`);
        const updated = { ...item, ...patch };
        this.store.set(id, updated);
        return updated;
      }),
    );
  }
  delete(id: string) {
    return this.write(() => this.store.delete(id));
  }
  insertMany(documents: readonly NewDocument<Item>[]) {
    return this.write(() =>
      documents.map((document, index) => {
        const item = { ...document, id: document.id ?? `many${this.store.size}_${index}` };
        this.store.set(item.id, item);
        return item;
      }),
    );
  }
  upsertMany(documents: readonly Item[]) {
    return this.write(() => {
      for (const document of documents) this.store.set(document.id, document);
      return [...documents];
    });
  }
  updateMany(where: Filter | undefined, patch: Partial<Item>) {
    return this.write(() => {
      const matched = this.matches(where);
      for (const item of matched) this.store.set(item.id, { ...item, ...patch });
      return matched.length;
    });
  }
  deleteMany(where: Filter | undefined) {
    return this.write(() => {
      const matched = this.matches(where);
      for (const item of matched) this.store.delete(item.id);
      return matched.length;
    });
  }
  importEntries(entries: readonly Entry<Item>[]) {
    return this.write(() => {
      for (const { document } of entries) this.store.set(document.id, document);
      return entries.length;
    });
  }
}

const CAPABILITIES: Capabilities = {
  repository: { transactions: 'multi-collection', uniqueIndexes: false, durable: false },
  queue: { level: 'none', transactionalEnqueue: false, durable: false, notifications: false },
};

/** A backend of fake repositories; a transaction works on a copy and swaps it in on commit. */
class FakeBackend implements RepositoryBackend {
  readonly kind = 'fake';
  readonly capabilities: Capabilities = CAPABILITIES;
  readonly control: EngineControl = { reads: 0, failAfterWrite: undefined };
  /** Thrown by the next commit (after applying it when `applied`). */
  failCommit: { readonly error: Error; readonly applied: boolean } | undefined;
  private readonly stores = new Map<string, Store>();
  private compactions = 0;
  flushes = 0;

  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  async health() {
    return { ok: true, latencyMs: 0 };
  }
  async [Symbol.asyncDispose](): Promise<void> {}

  async flush(_options?: SignalOptions): Promise<void> {
    this.flushes++;
  }

  async collections(): Promise<CollectionInfo[]> {
    return [...this.stores.keys()].sort().map((name) => ({ name, indexes: [], approximateBytes: undefined }));
  }

  async migrate(): Promise<MigrationReport> {
    return { applied: [] };
  }

  /** Not part of the port: the wrapper must hand it through with `this` intact. */
  async compact(): Promise<number> {
    this.compactions++;
    return this.compactions;
  }

  store(name: string): Store {
    let store = this.stores.get(name);
    if (store === undefined) {
      store = new Map();
      this.stores.set(name, store);
    }
    return store;
  }

  repository<T extends Document = AnyDocument>(name: string): Repository<T> {
    return new FakeRepository(name, this.store(name), this.control) as unknown as Repository<T>;
  }

  async transaction<R>(work: (tx: TransactionScope) => Promise<R>): Promise<R> {
    const copies = new Map<string, Store>();
    const scope: TransactionScope = {
      repository: <T>(name: string) => {
        let copy = copies.get(name);
        if (copy === undefined) {
          copy = new Map(this.store(name));
          copies.set(name, copy);
        }
        return new FakeRepository(name, copy, this.control) as unknown as Repository<T & Item>;
      },
      queue: () => {
        throw new Error('no queues');
      },
    } as unknown as TransactionScope;
    const result = await work(scope);
    const failure = this.failCommit;
    this.failCommit = undefined;
    if (failure !== undefined && !failure.applied) throw failure.error;
    for (const [name, copy] of copies) {
      const store = this.store(name);
      store.clear();
      for (const [id, item] of copy) store.set(id, item);
    }
    if (failure !== undefined) throw failure.error;
    return result;
  }
}

const SEED: readonly Item[] = [
  { id: 'a', n: 1, group: 'x', at: new Date(1_000) },
  { id: 'b', n: 2, group: 'x', at: new Date(2_000) },
  { id: 'c', n: 3, group: 'y', at: new Date(3_000) },
];

function setUp(options: Parameters<typeof withCache>[2] = {}) {
  const backend = new FakeBackend();
  for (const item of SEED) backend.store('items').set(item.id, item);
  const cache = new LogCache();
  const cached = withCache(backend, cache, { onCacheError: () => {}, ...options });
  const items = cached.repository<Item>('items');
  return { backend, cache, cached, items, control: backend.control };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('withCache reads', () => {
  it('reads through: the first get reads the engine and stores, the next is served by the cache', async () => {
    const { cache, items, control } = setUp();
    expect(await items.get('a')).toStrictEqual(SEED[0]);
    expect(cache.take()).toStrictEqual(['get berth:items:id:a', 'set berth:items:id:a']);
    expect(cache.ttls).toStrictEqual([60_000]);
    expect(await items.get('a')).toStrictEqual(SEED[0]);
    expect(cache.take()).toStrictEqual(['get berth:items:id:a']);
    expect(control.reads).toBe(1);
  });

  it('caches a missing document as missing', async () => {
    const { items, control } = setUp();
    expect(await items.get('zz')).toBeNull();
    expect(await items.get('zz')).toBeNull();
    expect(control.reads).toBe(1);
    await items.insert({ id: 'zz', n: 9 });
    expect(await items.get('zz')).toStrictEqual({ id: 'zz', n: 9 });
  });

  it('serves getMany per id and hands out distinct copies for repeated ids', async () => {
    const { cache, items, control } = setUp();
    await items.get('a');
    cache.take();
    const many = await items.getMany(['a', 'b', 'a', 'zz']);
    expect(many).toStrictEqual([SEED[0], SEED[1], SEED[0], null]);
    expect(many[0]).not.toBe(many[2]);
    expect(control.reads).toBe(2);
    expect(cache.take().filter((call) => call.startsWith('set'))).toStrictEqual([
      'set berth:items:id:b',
      'set berth:items:id:zz',
    ]);
    expect(await items.getMany(['b', 'zz'])).toStrictEqual([SEED[1], null]);
    expect(control.reads).toBe(2);
  });

  it('sends an invalid id to the engine, uncached', async () => {
    const { cache, items } = setUp();
    await expect(items.getMany(['a', ''])).rejects.toThrow('bad id');
    expect(cache.take()).toStrictEqual([]);
  });

  it('keys queries canonically: key order and undefined properties do not matter, types do', async () => {
    const { cache, items, control } = setUp();
    await items.find({ where: { group: 'x', n: { $gte: 1 } }, orderBy: 'id' });
    await items.find({ orderBy: 'id', where: { n: { $gte: 1 }, group: 'x', at: undefined } });
    expect(control.reads).toBe(1);
    const at = new Date(1_500);
    expect(await items.find({ where: { at: { $lt: at } } })).toStrictEqual([SEED[0]]);
    // @ts-expect-error the typed API refuses a string for a Date field; a query sent anyway is keyed apart
    expect(await items.find({ where: { at: { $lt: at.toISOString() } } })).toStrictEqual([]);
    expect(await items.count({ n: 1 })).toBe(1);
    // @ts-expect-error the typed API refuses a string for a number field; a query sent anyway is keyed apart
    expect(await items.count({ n: '1' })).toBe(0);
    expect(control.reads).toBe(5);
    const keys = cache.take().filter((call) => call.startsWith('set'));
    expect(keys[0]).toBe('set berth:items:q:find:{"orderBy":"id","where":{"group":"x","n":{"$gte":1}}}');
    expect(keys[1]).toBe('set berth:items:q:find:{"where":{"at":{"$lt":D1500}}}');
  });

  it('sends a query it cannot key (values outside the document model) to the engine uncached', async () => {
    const { cache, items, control } = setUp();
    const odd = { where: { n: { $eq: 1n as unknown as number } } };
    // The engine rejects it; what matters is that the cache was never asked.
    await items.find(odd).catch(() => undefined);
    await items.find(odd).catch(() => undefined);
    expect(control.reads).toBe(2);
    expect(cache.take()).toStrictEqual([]);
  });

  it('caches every query read: find, findPage, findOne, count, countBy, exists', async () => {
    const { items, control } = setUp();
    for (let pass = 0; pass < 2; pass++) {
      await items.find();
      await items.findPage({ limit: 5 });
      await items.findOne({ where: { group: 'y' } });
      await items.count();
      await items.countBy('group');
      await items.exists({ n: 3 });
    }
    expect(control.reads).toBe(6);
  });

  it('with queries: false caches only gets, and writes skip the query prefix', async () => {
    const { cache, items, control } = setUp({ queries: false });
    await items.find();
    await items.find();
    await items.get('a');
    await items.get('a');
    expect(control.reads).toBe(3);
    cache.take();
    await items.update('a', { n: 5 });
    expect(cache.take()).toStrictEqual(['delete berth:items:id:a']);
  });

  it('entries (findEntries, findEntriesPage, iterateEntries) always read the engine: metadata is never stale', async () => {
    const { items, control, cache } = setUp();
    await items.findEntries();
    await items.findEntries();
    await items.findEntriesPage({ limit: 1 });
    for await (const _ of items.iterateEntries()) break;
    expect(control.reads).toBe(4);
    expect(cache.take()).toStrictEqual([]);
  });

  it('invalidates the id of an insert that returns its entry', async () => {
    const { cache, items } = setUp();
    const entry = await items.insert({ n: 7 }, { returnEntry: true });
    expect(entry.document.id).toBe('gen3');
    expect(cache.take()).toStrictEqual(['delete berth:items:id:gen3', 'deleteByPrefix berth:items:q:']);
  });

  it('getEntry, iterate and explain always read the engine', async () => {
    const { items, control } = setUp();
    await items.getEntry('a');
    await items.getEntry('a');
    for await (const _ of items.iterate()) break;
    await items.explain();
    expect(control.reads).toBe(4);
  });

  it('honours prefix and ttlMs', async () => {
    const { cache, items } = setUp({ prefix: 'app:', ttlMs: 5 });
    await items.get('a');
    expect(cache.take()).toStrictEqual(['get app:items:id:a', 'set app:items:id:a']);
    expect(cache.ttls).toStrictEqual([5]);
  });

  it('rejects a ttlMs that is not a positive number', () => {
    for (const ttlMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => withCache(new FakeBackend(), new LogCache(), { ttlMs })).toThrow(/ttlMs/);
    }
  });

  it('rejects an aborted call even when the cache holds the answer', async () => {
    const { items } = setUp();
    await items.get('a');
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    const error = await items.get('a', { signal: controller.signal }).catch((caught: unknown) => caught);
    expect(isBerthError(error, 'ABORTED')).toBe(true);
  });
});

describe('withCache writes', () => {
  it('drops the id key and the query prefix after a single write', async () => {
    const { cache, items } = setUp();
    await items.update('a', { n: 5 });
    expect(cache.take()).toStrictEqual(['delete berth:items:id:a', 'deleteByPrefix berth:items:q:']);
    await items.insert({ n: 7 });
    expect(cache.take()).toStrictEqual(['delete berth:items:id:gen3', 'deleteByPrefix berth:items:q:']);
  });

  it('drops every written id after a bulk write, and the whole collection after one by filter', async () => {
    const { cache, items } = setUp();
    await items.upsertMany([
      { id: 'a', n: 1 },
      { id: 'd', n: 4 },
    ]);
    expect(cache.take().sort()).toStrictEqual([
      'delete berth:items:id:a',
      'delete berth:items:id:d',
      'deleteByPrefix berth:items:q:',
    ]);
    await items.updateMany({ group: 'x' }, { n: 0 });
    expect(cache.take()).toStrictEqual(['deleteByPrefix berth:items:']);
    await items.deleteMany({ n: 0 });
    expect(cache.take()).toStrictEqual(['deleteByPrefix berth:items:']);
  });

  it('drops the imported ids after importEntries, and serves the imported documents', async () => {
    const { cache, items } = setUp();
    await items.get('a');
    const meta = { version: 9, createdAt: new Date(0), updatedAt: new Date(1) };
    const imported = [
      { document: { id: 'a', n: 90, group: 'q', at: new Date(9) }, meta },
      { document: { id: 'e', n: 5, group: 'q', at: new Date(5) }, meta },
    ];
    cache.take();
    expect(await items.importEntries(imported)).toBe(2);
    expect(cache.take().sort()).toStrictEqual([
      'delete berth:items:id:a',
      'delete berth:items:id:e',
      'deleteByPrefix berth:items:q:',
    ]);
    expect(await items.get('a')).toStrictEqual(imported[0]?.document);
  });

  it('serves fresh reads after a write', async () => {
    const { items } = setUp();
    await items.get('a');
    await items.find({ where: { group: 'x' } });
    await items.update('a', { group: 'z' });
    expect(await items.get('a')).toStrictEqual({ ...SEED[0], group: 'z' });
    expect(await items.find({ where: { group: 'x' } })).toStrictEqual([SEED[1]]);
  });

  it('invalidates nothing after a write that surely wrote nothing', async () => {
    const { cache, items } = setUp();
    await expect(items.insert({ id: 'a', n: 0 })).rejects.toThrow(AlreadyExistsError);
    await expect(items.update('zz', { n: 0 })).rejects.toThrow(NotFoundError);
    expect(cache.take()).toStrictEqual([]);
  });

  it('invalidates after a write whose outcome is unknown, and passes its error on', async () => {
    const { cache, items, control } = setUp();
    await items.get('a');
    const lost = new ConnectionError('connection reset');
    control.failAfterWrite = lost;
    await expect(items.update('a', { n: 50 })).rejects.toBe(lost);
    expect(cache.take()).toContain('delete berth:items:id:a');
    expect(await items.get('a')).toStrictEqual({ ...SEED[0], n: 50 });
  });

  it('does not store a read whose cache set was overtaken by a write', async () => {
    const { cache, cached, items } = setUp();
    let openGate: () => void = () => {};
    cache.setGate = new Promise((resolve) => {
      openGate = resolve;
    });
    const read = items.get('a');
    await vi.waitFor(() => expect(cache.log).toContain('set berth:items:id:a'));
    cache.setGate = undefined;
    await cached.repository<Item>('items').update('a', { n: 2 });
    openGate();
    expect(await read).toStrictEqual(SEED[0]);
    expect(cache.entries.has('berth:items:id:a')).toBe(false);
    expect(await items.get('a')).toStrictEqual({ ...SEED[0], n: 2 });
  });
});

describe('withCache and a failing cache', () => {
  it('serves reads and writes from the engine and reports each failure', async () => {
    const reports: CacheErrorContext[] = [];
    const { cache, items } = setUp({ onCacheError: (_error, context) => reports.push(context) });
    cache.failing = new Set(['get', 'set', 'delete', 'deleteByPrefix']);
    expect(await items.get('a')).toStrictEqual(SEED[0]);
    expect(await items.find()).toStrictEqual(SEED);
    expect(await items.update('a', { n: 5 })).toStrictEqual({ ...SEED[0], n: 5 });
    expect(reports.map((report) => report.operation)).toStrictEqual([
      'get',
      'set',
      'get',
      'set',
      'delete',
      'deleteByPrefix',
    ]);
    expect(reports[0]).toStrictEqual({ operation: 'get', key: 'berth:items:id:a', collection: 'items' });
  });

  it('survives a reporter that throws, and reports to console.error by default', async () => {
    const throwing = setUp({
      onCacheError: () => {
        throw new Error('reporter down');
      },
    });
    throwing.cache.failing = new Set(['get']);
    expect(await throwing.items.get('a')).toStrictEqual(SEED[0]);

    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    const backend = new FakeBackend();
    backend.store('items').set('a', SEED[0] as Item);
    const cache = new LogCache();
    cache.failing = new Set(['get']);
    expect(await withCache(backend, cache).repository<Item>('items').get('a')).toStrictEqual(SEED[0]);
    expect(consoleError).toHaveBeenCalledTimes(1);
    expect(String(consoleError.mock.calls[0]?.[0])).toContain('berth:items:id:a');

    consoleError.mockClear();
    const logger = new RecordingLogger();
    expect(await withCache(backend, cache, { logger }).repository<Item>('items').get('a')).toStrictEqual(SEED[0]);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]?.message).toContain('berth:items:id:a');
    expect(logger.lines[0]?.details).toMatchObject({ operation: 'get', key: 'berth:items:id:a', collection: 'items' });
    expect(consoleError).not.toHaveBeenCalled();
  });
});

describe('withCache transactions', () => {
  it('bypasses the cache inside and invalidates what was written once committed', async () => {
    const { cache, cached, items, control } = setUp();
    await items.get('a');
    cache.take();
    await cached.transaction(async (tx) => {
      const inside = tx.repository<Item>('items');
      await inside.update('a', { n: 10 });
      expect(await inside.get('a')).toStrictEqual({ ...SEED[0], n: 10 });
      expect(cache.take()).toStrictEqual([]);
    });
    expect(cache.take().sort()).toStrictEqual(['delete berth:items:id:a', 'deleteByPrefix berth:items:q:']);
    expect(control.reads).toBe(2);
    expect(await items.get('a')).toStrictEqual({ ...SEED[0], n: 10 });
  });

  it('invalidates nothing on rollback', async () => {
    const { cache, cached, items } = setUp();
    await items.get('a');
    cache.take();
    const failure = new Error('undo');
    await expect(
      cached.transaction(async (tx) => {
        await tx.repository<Item>('items').update('a', { n: 10 });
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(cache.take()).toStrictEqual([]);
    expect(await items.get('a')).toStrictEqual(SEED[0]);
  });

  it('invalidates when the commit fails with an unknown outcome, not after a conflict', async () => {
    const { backend, cache, cached, items } = setUp();
    await items.get('a');
    cache.take();
    backend.failCommit = { error: new ConflictError('lost the race'), applied: false };
    await expect(cached.transaction((tx) => tx.repository<Item>('items').update('a', { n: 10 }))).rejects.toThrow(
      ConflictError,
    );
    expect(cache.take()).toStrictEqual([]);

    backend.failCommit = { error: new ConnectionError('reset during COMMIT'), applied: true };
    await expect(cached.transaction((tx) => tx.repository<Item>('items').update('a', { n: 11 }))).rejects.toThrow(
      ConnectionError,
    );
    expect(cache.take()).toContain('delete berth:items:id:a');
    expect(await items.get('a')).toStrictEqual({ ...SEED[0], n: 11 });
  });
});

describe('withCache wrapping', () => {
  it('keeps every other member of the backend, bound to it', async () => {
    const { cached } = setUp();
    expect(cached.kind).toBe('fake');
    expect(await cached.compact()).toBe(1);
    const { compact } = cached;
    expect(await compact()).toBe(2);
  });

  it('passes flush() through to the backend', async () => {
    const { backend, cached } = setUp();
    await cached.flush();
    await cached.flush({});
    expect(backend.flushes).toBe(2);
  });

  it('wraps a single repository', async () => {
    const backend = new FakeBackend();
    backend.store('items').set('a', SEED[0] as Item);
    const cache = new LogCache();
    const items = withCache(backend.repository<Item>('items'), cache);
    expect(items.name).toBe('items');
    await items.get('a');
    await items.get('a');
    expect(backend.control.reads).toBe(1);
    await items.delete('a');
    expect(await items.get('a')).toBeNull();
  });
});
