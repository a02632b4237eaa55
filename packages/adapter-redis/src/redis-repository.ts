import {
  AlreadyExistsError,
  type Conditional,
  type CountByGroup,
  type Document,
  type DocumentScalar,
  type Entry,
  generateId,
  type InsertOptions,
  type IterateOptions,
  type NewDocument,
  NotFoundError,
  type Page,
  type Query,
  type QueryPlan,
  type Repository,
  type RepositoryOptions,
  type SignalOptions,
  type StandardSchemaV1,
  type Update,
  type UpdateOptions,
  type WithEntry,
  type WithoutEntry,
  type WriteEntryOptions,
  type WriteOptions,
} from '@berth/core';
import {
  applyUpdate,
  checkArrayArgument,
  checkExpectedVersion,
  checkIdArgument,
  checkIdsArgument,
  checkQueryArgument,
  cloneValue,
  compareValues,
  copyDocument,
  evaluateEntries,
  type FilterNode,
  findOneQuery,
  getPathValue,
  type IndexSpec,
  isPlainObject,
  isScalar,
  iterateByPages,
  matchesNode,
  normalizeIndexes,
  type PreparedQuery,
  parseFieldPath,
  parseFilter,
  parseUpdate,
  planUpdate,
  prepareQuery,
  prepareUpdate,
  startOperation,
  validateDocument,
  validateDocuments,
  wantsEntry,
} from '@berth/core/adapter';
import type { RedisContext } from './redis-context.js';
import { importedRecords } from './redis-entries.js';
import type { RedisIndexRegistry } from './redis-index-registry.js';
import { valueKey } from './redis-indexes.js';
import type { RedisCollectionKeys } from './redis-keys.js';
import { chooseCandidates, describeCandidates } from './redis-query-planner.js';
import { RedisRecord } from './redis-record.js';
import { isCommitConflict, RedisSession, readCommitted } from './redis-session.js';

/** How often a single operation runs again when its commit found a concurrent write (a hot counter). */
const AUTO_COMMIT_ATTEMPTS = 200;

/** Where a repository's operations run: each in a session of its own, or in a transaction's. */
export type RedisScope =
  | { readonly kind: 'auto'; readonly context: RedisContext; readonly registry: RedisIndexRegistry }
  | {
      readonly kind: 'transaction';
      readonly session: RedisSession;
      /** Runs the transaction's operations one at a time, in the order they came. */
      readonly exclusive: <R>(work: () => Promise<R>) => Promise<R>;
    };

function isMatchAll(filter: FilterNode): boolean {
  return filter.kind === 'and' && filter.nodes.length === 0;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A repository on Redis. Every read and write runs in a {@link RedisSession}:
 * a single operation in one of its own, committed (one script call) at its
 * end and run again when a concurrent write changed what it read; inside a
 * transaction in the transaction's. Queries load their candidates (all
 * documents, or those an index names) and evaluate them with core's
 * reference evaluator, so results are the reference's, order included.
 */
export class RedisRepository<T extends Document> implements Repository<T> {
  private readonly indexes: IndexSpec[];
  private readonly schema: StandardSchemaV1<unknown, T> | undefined;
  private collectionKeys: RedisCollectionKeys | undefined;

  constructor(
    readonly name: string,
    options: RepositoryOptions<T> | undefined,
    private readonly scope: RedisScope,
    private readonly maxDocumentBytes: number,
  ) {
    this.indexes = normalizeIndexes(name, options as RepositoryOptions<never> | undefined, true);
    this.schema = options?.schema;
  }

  private async run<R>(
    options: SignalOptions | undefined,
    operation: string,
    work: (session: RedisSession) => Promise<R>,
  ): Promise<R> {
    startOperation(options, `${this.name}.${operation}`);
    const scope = this.scope;
    if (scope.kind === 'transaction') {
      scope.session.assertOpen();
      return scope.exclusive(async () => {
        scope.session.assertOpen();
        await scope.session.open(this.name, this.indexes);
        return work(scope.session);
      });
    }
    for (let attempt = 1; ; attempt++) {
      const session = new RedisSession(scope.context, scope.registry, false);
      try {
        await session.open(this.name, this.indexes);
        const result = await work(session);
        await session.commit();
        return result;
      } catch (error) {
        if (!isCommitConflict(error) || attempt >= AUTO_COMMIT_ATTEMPTS) throw error;
      }
      // Contended writers spread out, so each round lets one of them through.
      if (attempt > 2) await pause(Math.random() * Math.min(50, 2 ** attempt));
    }
  }

  private async read(session: RedisSession, id: string): Promise<RedisRecord | undefined> {
    return typeof id === 'string' ? session.get(this.name, id) : undefined;
  }

  private validated(document: unknown): Promise<T> {
    return validateDocument(document, this.name, this.schema, this.maxDocumentBytes);
  }

  private async validatedNow(document: unknown): Promise<T> {
    return this.schema === undefined
      ? copyDocument<T>(document, this.name, this.maxDocumentBytes)
      : this.validated(document);
  }

  private async write(session: RedisSession, document: T, previous: RedisRecord | undefined): Promise<RedisRecord> {
    const now = Date.now();
    const record = new RedisRecord(
      document as RedisRecord['document'],
      (previous?.version ?? 0) + 1,
      previous?.createdAtMs ?? now,
      now,
    );
    await session.put(this.name, document.id, record);
    return record;
  }

  private async insertInto(session: RedisSession, document: T): Promise<RedisRecord> {
    if ((await this.read(session, document.id)) !== undefined) {
      throw new AlreadyExistsError(`${this.name} already has a document ${JSON.stringify(document.id)}`, 'id', {
        collection: this.name,
        id: document.id,
      });
    }
    return this.write(session, document, undefined);
  }

  private withId(document: NewDocument<T>): unknown {
    if (!isPlainObject(document)) return document;
    return document.id === undefined ? { ...document, id: generateId() } : document;
  }

  private async findRecords(session: RedisSession, prepared: PreparedQuery): Promise<Page<RedisRecord>> {
    const walked =
      (await session.idOrderedPage(this.name, prepared)) ?? (await session.indexOrderedPage(this.name, prepared));
    if (walked !== undefined) return walked;
    return evaluateEntries(await session.records(this.name, prepared.filter), prepared);
  }

  private entryOf(record: RedisRecord): Entry<T> {
    return { document: cloneValue(record.document) as T, meta: record.entryMeta() };
  }

  /**
   * The document of a record for the caller. A single operation's session
   * is dropped when it returns, and its records were parsed from the
   * server's reply or copied by validation for this call alone, so the
   * caller may have the object itself: no one else holds it. A transaction
   * keeps its records for its later reads and its commit, so it hands out
   * copies.
   */
  private owned(record: RedisRecord): T {
    return this.scope.kind === 'auto' ? (record.document as T) : (cloneValue(record.document) as T);
  }

  private written(record: RedisRecord, entry: boolean): T | Entry<T> {
    return entry ? this.entryOf(record) : (cloneValue(record.document) as T);
  }

  async get(id: string, options?: SignalOptions): Promise<T | null> {
    checkIdArgument(id, this.name);
    const scope = this.scope;
    if (scope.kind === 'auto') {
      // What a session would do for a get alone, without building one: its
      // read is one HMGET (one state) and it has nothing to commit.
      startOperation(options, `${this.name}.get`);
      await scope.registry.indexes(this.name, this.indexes);
      this.collectionKeys ??= scope.registry.keys(this.name);
      const record = await readCommitted(scope.context, this.collectionKeys, id);
      return record === undefined ? null : this.owned(record);
    }
    return this.run(options, 'get', async (session) => {
      const record = await this.read(session, id);
      return record === undefined ? null : this.owned(record);
    });
  }

  async getEntry(id: string, options?: SignalOptions): Promise<Entry<T> | null> {
    checkIdArgument(id, this.name);
    return this.run(options, 'getEntry', async (session) => {
      const record = await this.read(session, id);
      return record === undefined ? null : this.entryOf(record);
    });
  }

  async getMany(ids: readonly string[], options?: SignalOptions): Promise<(T | null)[]> {
    checkIdsArgument(ids, this.name);
    return this.run(options, 'getMany', async (session) =>
      // Copies: one id asked twice is one record, and the caller gets two documents.
      (await session.getMany(this.name, ids)).map((record) =>
        record === undefined ? null : (cloneValue(record.document) as T),
      ),
    );
  }

  async find(query?: Query, options?: SignalOptions): Promise<T[]> {
    return (await this.findPage(query, options)).items;
  }

  async findPage(query?: Query, options?: SignalOptions): Promise<Page<T>> {
    const prepared = prepareQuery(query);
    return this.run(options, 'find', async (session) => {
      const page = await this.findRecords(session, prepared);
      return { items: page.items.map((record) => this.owned(record)), nextCursor: page.nextCursor };
    });
  }

  async findEntries(query?: Query, options?: SignalOptions): Promise<Entry<T>[]> {
    return (await this.findEntriesPage(query, options)).items;
  }

  async findEntriesPage(query?: Query, options?: SignalOptions): Promise<Page<Entry<T>>> {
    const prepared = prepareQuery(query);
    return this.run(options, 'findEntries', async (session) => {
      const page = await this.findRecords(session, prepared);
      return { items: page.items.map((record) => this.entryOf(record)), nextCursor: page.nextCursor };
    });
  }

  iterateEntries(query?: Query, options?: IterateOptions): AsyncIterableIterator<Entry<T>> {
    return iterateByPages((page) => this.findEntriesPage(page, options), query, options);
  }

  async findOne(query?: Query, options?: SignalOptions): Promise<T | null> {
    checkQueryArgument(query, 'findOne');
    const [first] = await this.find(findOneQuery(query), options);
    return first ?? null;
  }

  async count(where?: Query['where'], options?: SignalOptions): Promise<number> {
    const filter = parseFilter(where);
    return this.run(options, 'count', async (session) => {
      // Outside a transaction, the ids set answers a count of everything in one command.
      if (isMatchAll(filter) && this.scope.kind === 'auto') {
        const keys = session.keys(this.name);
        return this.scope.context.run((client) => client.zcard(keys.ids));
      }
      let count = 0;
      for (const record of await session.records(this.name, filter)) {
        if (matchesNode(record.document, filter, record.meta)) count++;
      }
      return count;
    });
  }

  async countBy(field: string, where?: Query['where'], options?: SignalOptions): Promise<CountByGroup[]> {
    const path = parseFieldPath(field);
    const filter = parseFilter(where);
    return this.run(options, 'countBy', async (session) => {
      const groups = new Map<string, { value: DocumentScalar; count: number }>();
      for (const record of await session.records(this.name, filter)) {
        if (!matchesNode(record.document, filter, record.meta)) continue;
        const value = getPathValue(record.document, path) ?? null;
        if (!isScalar(value)) continue;
        const key = valueKey(value) ?? 'null';
        const group = groups.get(key);
        if (group === undefined) groups.set(key, { value: cloneValue(value), count: 1 });
        else group.count++;
      }
      return [...groups.values()].sort((a, b) => compareValues(a.value, b.value));
    });
  }

  async exists(where?: Query['where'], options?: SignalOptions): Promise<boolean> {
    const filter = parseFilter(where);
    if (isMatchAll(filter) && this.scope.kind === 'auto') return (await this.count(where, options)) > 0;
    return (await this.findOne({ where }, options)) !== null;
  }

  iterate(query?: Query, options?: IterateOptions): AsyncIterableIterator<T> {
    return iterateByPages((page) => this.findPage(page, options), query, options);
  }

  async explain(query?: Query, options?: SignalOptions): Promise<QueryPlan> {
    const prepared = prepareQuery(query);
    return this.run(options, 'explain', async (session) => {
      const specs = session.specs(this.name);
      const candidates = chooseCandidates(session.keys(this.name), specs, prepared.filter);
      const [key, ...more] = prepared.sort;
      const sortedBy =
        key === undefined || more.length > 0
          ? undefined
          : specs.find((spec) => !spec.compound && spec.field === key.field);
      if (
        candidates.kind === 'all' &&
        sortedBy !== undefined &&
        prepared.limit !== undefined &&
        this.scope.kind === 'auto'
      ) {
        return {
          strategy: 'index',
          index: sortedBy.name,
          detail: `walks the sorted sets of ${sortedBy.field} ${key?.direction === 'desc' ? 'descending' : 'ascending'} from the cursor and stops when the page is full, evaluating the filter on each document met`,
        };
      }
      return describeCandidates(this.name, candidates);
    });
  }

  insert(document: NewDocument<T>, options: WithEntry<InsertOptions>): Promise<Entry<T>>;
  insert(document: NewDocument<T>, options?: WithoutEntry<InsertOptions>): Promise<T>;
  insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>>;
  async insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'insert');
    const validated = await this.validatedNow(this.withId(document));
    return this.run(options, 'insert', async (session) =>
      this.written(await this.insertInto(session, validated), entry),
    );
  }

  replace(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  replace(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  async replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'replace');
    const validated = await this.validatedNow(document);
    return this.run(options, 'replace', async (session) => {
      const previous = await this.read(session, validated.id);
      checkExpectedVersion(this.name, validated.id, previous?.version, options);
      if (previous === undefined) {
        throw new NotFoundError(`${this.name} has no document ${JSON.stringify(validated.id)} to replace`, {
          collection: this.name,
          id: validated.id,
        });
      }
      return this.written(await this.write(session, validated, previous), entry);
    });
  }

  upsert(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  upsert(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  async upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'upsert');
    const validated = await this.validatedNow(document);
    return this.run(options, 'upsert', async (session) => {
      const previous = await this.read(session, validated.id);
      checkExpectedVersion(this.name, validated.id, previous?.version, options);
      return this.written(await this.write(session, validated, previous), entry);
    });
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
  async update(id: string, update: Update<T>, options?: UpdateOptions<T>): Promise<T | Entry<T> | null> {
    checkIdArgument(id, this.name);
    const entry = wantsEntry(options, 'update');
    const prepared = prepareUpdate(this.name, id, update, options, this.maxDocumentBytes);
    // Read, decide and write in one session: it commits only if the document is still the one read.
    return this.run(options, 'update', async (session) => {
      const previous = await this.read(session, id);
      const plan = planUpdate(this.name, id, prepared, previous?.document as T | undefined, previous?.version, options);
      if (plan.kind === 'unmatched') return null;
      const next = await this.validated(plan.document);
      if (plan.created) return this.written(await this.insertInto(session, next), entry);
      return this.written(await this.write(session, next, previous), entry);
    });
  }

  async delete(id: string, options?: WriteOptions): Promise<boolean> {
    checkIdArgument(id, this.name);
    return this.run(options, 'delete', async (session) => {
      const previous = await this.read(session, id);
      checkExpectedVersion(this.name, id, previous?.version, options);
      if (previous === undefined) return false;
      await session.put(this.name, id, null);
      return true;
    });
  }

  async insertMany(documents: readonly NewDocument<T>[], options?: SignalOptions): Promise<T[]> {
    checkArrayArgument(documents, 'insertMany', this.name);
    const validated = await this.validatedAll(documents.map((document) => this.withId(document)));
    return this.run(options, 'insertMany', async (session) => {
      await this.readAhead(session, validated, true);
      const inserted: T[] = [];
      for (const document of validated) {
        inserted.push(this.owned(await this.insertInto(session, document)));
      }
      return inserted;
    });
  }

  async upsertMany(documents: readonly T[], options?: SignalOptions): Promise<T[]> {
    const validated = await this.validatedAll(documents);
    return this.run(options, 'upsertMany', async (session) => {
      await this.readAhead(session, validated);
      const written: T[] = [];
      for (const document of validated) {
        const record = await this.write(session, document, await this.read(session, document.id));
        written.push(cloneValue(record.document) as T);
      }
      return written;
    });
  }

  async updateMany(where: Query['where'], update: Update<T>, options?: SignalOptions): Promise<number> {
    const filter = parseFilter(where);
    // Checked before matching, so an invalid update fails even when nothing matches.
    parseUpdate(update);
    return this.run(options, 'updateMany', async (session) => {
      const matches = (await session.records(this.name, filter)).filter((record) =>
        matchesNode(record.document, filter, record.meta),
      );
      for (const previous of matches) {
        const steps = parseUpdate(update, previous.document.id);
        const next = await this.validated(applyUpdate(previous.document, steps));
        await this.write(session, next as T, previous);
      }
      return matches.length;
    });
  }

  async deleteMany(where: Query['where'], options?: SignalOptions): Promise<number> {
    const filter = parseFilter(where);
    return this.run(options, 'deleteMany', async (session) => {
      const matches = (await session.records(this.name, filter)).filter((record) =>
        matchesNode(record.document, filter, record.meta),
      );
      for (const record of matches) await session.put(this.name, record.document.id, null);
      return matches.length;
    });
  }

  /**
   * Stores each entry under its id with its metadata as given (no version
   * bump, no clock), replacing what the id held: one session, so one commit
   * script keeps the documents, their index entries (metadata paths
   * included, computed from the imported meta) and the unique checks
   * together, all or none; inside a transaction it commits with it.
   */
  async importEntries(entries: readonly Entry<T>[], options?: SignalOptions): Promise<number> {
    checkArrayArgument(entries, 'importEntries', this.name);
    const records = await importedRecords(entries, this.name, this.schema, this.maxDocumentBytes);
    return this.run(options, 'importEntries', async (session) => {
      if (records.length === 0) return 0;
      await this.readAheadRecords(session, records);
      await session.putAll(this.name, records);
      return records.length;
    });
  }

  /** Reads every document and unique holder a bulk write checks in a few pipelines, not a round trip per document. */
  private async readAhead(session: RedisSession, documents: readonly T[], expectNew = false): Promise<void> {
    const ids = documents.map((document) => document.id);
    if (expectNew) await session.readExpectedNew(this.name, ids);
    else await session.getMany(this.name, ids);
    const now = Date.now();
    await session.readUniqueHolders(
      this.name,
      documents.map((document) => new RedisRecord(document as RedisRecord['document'], 1, now, now)),
    );
  }

  /** {@link readAhead} for records that carry their own metadata (an import). */
  private async readAheadRecords(session: RedisSession, records: readonly RedisRecord[]): Promise<void> {
    await session.getMany(
      this.name,
      records.map((record) => record.document.id),
    );
    await session.readUniqueHolders(this.name, records);
  }

  private validatedAll(documents: readonly unknown[]): Promise<T[]> {
    return validateDocuments(documents, this.name, this.schema, this.maxDocumentBytes);
  }
}
