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
  isBerthError,
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
  findOneQuery,
  getPathValue,
  type IndexSpec,
  isPlainObject,
  isScalar,
  iterateByPages,
  MAX_DOCUMENT_BYTES,
  matchesNode,
  normalizeIndexes,
  type PreparedQuery,
  parseFieldPath,
  parseFilter,
  parseUpdate,
  planUpdate,
  prepareImportEntries,
  prepareQuery,
  prepareUpdate,
  startOperation,
  validateDocument,
  validateDocuments,
  wantsEntry,
} from '@berth/core/adapter';
import { explainMemoryQuery, memoryCount } from './memory-query-planner.js';
import { MemorySession } from './memory-session.js';
import { indexKey, MemoryRecord, type MemoryStore } from './memory-store.js';

const AUTO_COMMIT_ATTEMPTS = 20;

/** Where a repository's operations run: auto-committed, or inside a transaction. */
export type MemoryScope =
  | {
      readonly kind: 'auto';
      readonly store: MemoryStore;
      /** Awaited before every operation (the document-backed backend loads, or refuses writes after a conflict). */
      readonly gate?: ((operation: 'read' | 'write') => Promise<void>) | undefined;
    }
  | { readonly kind: 'transaction'; readonly session: MemorySession };

const READ_OPERATIONS = new Set(['get', 'getEntry', 'getMany', 'find', 'findEntries', 'count', 'countBy', 'explain']);

/**
 * A repository on the memory backend. Every document handed in or out is copied.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 *
 * // A MemoryRepository comes from the backend, never from its constructor.
 * const backend = new MemoryBackend();
 * const players = backend.repository<{ id: string; name: string; score: number }>('players');
 * await players.insert({ name: 'Ada', score: 3 });
 * const top = await players.find({ orderBy: { field: 'score', direction: 'desc' }, limit: 10 });
 * ```
 */
export class MemoryRepository<T extends Document> implements Repository<T> {
  private readonly indexes: IndexSpec[];
  private readonly schema: StandardSchemaV1<unknown, T> | undefined;

  constructor(
    readonly name: string,
    options: RepositoryOptions<T> | undefined,
    private readonly scope: MemoryScope,
    private readonly maxDocumentBytes: number = MAX_DOCUMENT_BYTES,
  ) {
    this.indexes = normalizeIndexes(name, options as RepositoryOptions<never> | undefined, true);
    this.schema = options?.schema;
  }

  /** Runs `work` in this scope's session; single operations commit (and retry on conflict) themselves. */
  private async run<R>(
    options: SignalOptions | undefined,
    operation: string,
    work: (session: MemorySession) => R | Promise<R>,
  ): Promise<R> {
    startOperation(options, `${this.name}.${operation}`);
    if (this.scope.kind === 'transaction') {
      this.scope.session.assertOpen();
      this.prepareIndexes(this.scope.session);
      return work(this.scope.session);
    }
    if (this.scope.gate !== undefined) await this.scope.gate(READ_OPERATIONS.has(operation) ? 'read' : 'write');
    for (let attempt = 1; ; attempt++) {
      const session = new MemorySession(this.scope.store, false);
      this.prepareIndexes(session);
      // Most work is synchronous; awaiting it anyway would cost a turn of the microtask queue.
      const pending = work(session);
      const result = pending instanceof Promise ? await pending : pending;
      try {
        session.commit();
        return result;
      } catch (error) {
        // Only a schema validator can await between read and commit; another
        // write landed meanwhile, so do the operation again on fresh state.
        if (!isBerthError(error, 'CONFLICT') || attempt >= AUTO_COMMIT_ATTEMPTS) throw error;
      }
    }
  }

  private prepareIndexes(session: MemorySession): void {
    if (this.indexes.length > 0) session.declareIndexes(this.name, this.indexes);
  }

  private read(session: MemorySession, id: string): MemoryRecord | undefined {
    return typeof id === 'string' ? session.get(this.name, id) : undefined;
  }

  private validated(document: unknown): Promise<T> {
    return validateDocument(document, this.name, this.schema, this.maxDocumentBytes);
  }

  /** `validated` without a promise when there is no schema to await (the hot path of single writes). */
  private validatedNow(document: unknown): T | Promise<T> {
    return this.schema === undefined
      ? copyDocument<T>(document, this.name, this.maxDocumentBytes)
      : this.validated(document);
  }

  private checkVersion(record: MemoryRecord | undefined, id: string, options: WriteOptions | undefined): void {
    checkExpectedVersion(this.name, id, record?.version, options);
  }

  private write(session: MemorySession, document: T, previous: MemoryRecord | undefined): T {
    const now = Date.now();
    const record = new MemoryRecord(
      document as MemoryRecord['document'],
      (previous?.version ?? 0) + 1,
      previous?.createdAtMs ?? now,
      now,
    );
    session.put(this.name, document.id, record);
    return cloneValue(document);
  }

  private insertInto(session: MemorySession, document: T): T {
    if (this.read(session, document.id) !== undefined) {
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

  /** The matching records of one page; `$createdAt` and `$updatedAt` read each record's metadata. */
  private findRecords(session: MemorySession, prepared: PreparedQuery): Page<MemoryRecord> {
    return evaluateEntries(session.candidates(this.name, prepared), prepared);
  }

  private findIn(session: MemorySession, prepared: PreparedQuery): Page<T> {
    const page = this.findRecords(session, prepared);
    return { items: page.items.map((record) => cloneValue(record.document) as T), nextCursor: page.nextCursor };
  }

  /** The entry of a record: fresh copies of its document and metadata. */
  private entryOf(record: MemoryRecord): Entry<T> {
    return { document: cloneValue(record.document) as T, meta: record.entryMeta() };
  }

  /** What a write resolves to: the copy `write` made, or with `returnEntry` the entry as the write left it. */
  private written(session: MemorySession, document: T, entry: boolean): T | Entry<T> {
    if (!entry) return document;
    const record = session.get(this.name, document.id) as MemoryRecord;
    return { document, meta: record.entryMeta() };
  }

  async get(id: string, options?: SignalOptions): Promise<T | null> {
    checkIdArgument(id, this.name);
    return this.run(options, 'get', (session) => {
      const record = this.read(session, id);
      return record === undefined ? null : (cloneValue(record.document) as T);
    });
  }

  async getEntry(id: string, options?: SignalOptions): Promise<Entry<T> | null> {
    checkIdArgument(id, this.name);
    return this.run(options, 'getEntry', (session) => {
      const record = this.read(session, id);
      return record === undefined ? null : this.entryOf(record);
    });
  }

  async getMany(ids: readonly string[], options?: SignalOptions): Promise<(T | null)[]> {
    checkIdsArgument(ids, this.name);
    return this.run(options, 'getMany', (session) =>
      ids.map((id) => {
        const record = this.read(session, id);
        return record === undefined ? null : (cloneValue(record.document) as T);
      }),
    );
  }

  async find(query?: Query, options?: SignalOptions): Promise<T[]> {
    return (await this.findPage(query, options)).items;
  }

  async findPage(query?: Query, options?: SignalOptions): Promise<Page<T>> {
    const prepared = prepareQuery(query);
    return this.run(options, 'find', (session) => this.findIn(session, prepared));
  }

  async findEntries(query?: Query, options?: SignalOptions): Promise<Entry<T>[]> {
    return (await this.findEntriesPage(query, options)).items;
  }

  async findEntriesPage(query?: Query, options?: SignalOptions): Promise<Page<Entry<T>>> {
    const prepared = prepareQuery(query);
    return this.run(options, 'findEntries', (session) => {
      const page = this.findRecords(session, prepared);
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
    return this.run(options, 'count', (session) => {
      // Asked first, so a transaction records the query as read even when an index answers it.
      const records = session.records(this.name, filter);
      if (!session.hasWrites(this.name)) {
        const counted = memoryCount(session.committed(this.name), filter);
        if (counted !== undefined) return counted;
      }
      let count = 0;
      for (const record of records) if (matchesNode(record.document, filter, record.meta)) count++;
      return count;
    });
  }

  async countBy(field: string, where?: Query['where'], options?: SignalOptions): Promise<CountByGroup[]> {
    const path = parseFieldPath(field);
    const filter = parseFilter(where);
    return this.run(options, 'countBy', (session) => {
      const groups = new Map<string, { value: DocumentScalar; count: number }>();
      for (const record of session.records(this.name, filter)) {
        if (!matchesNode(record.document, filter, record.meta)) continue;
        const value = getPathValue(record.document, path) ?? null;
        if (!isScalar(value)) continue;
        const key = indexKey(value) ?? 'null';
        const group = groups.get(key);
        if (group === undefined) groups.set(key, { value: cloneValue(value), count: 1 });
        else group.count++;
      }
      return [...groups.values()].sort((a, b) => compareValues(a.value, b.value));
    });
  }

  async exists(where?: Query['where'], options?: SignalOptions): Promise<boolean> {
    return (await this.findOne({ where }, options)) !== null;
  }

  iterate(query?: Query, options?: IterateOptions): AsyncIterableIterator<T> {
    return iterateByPages((page) => this.findPage(page, options), query, options);
  }

  async explain(query?: Query, options?: SignalOptions): Promise<QueryPlan> {
    const prepared = prepareQuery(query);
    return this.run(options, 'explain', (session) => explainMemoryQuery(session.committed(this.name), prepared));
  }

  insert(document: NewDocument<T>, options: WithEntry<InsertOptions>): Promise<Entry<T>>;
  insert(document: NewDocument<T>, options?: WithoutEntry<InsertOptions>): Promise<T>;
  insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>>;
  async insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'insert');
    const copied = this.validatedNow(this.withId(document));
    const validated = copied instanceof Promise ? await copied : copied;
    return this.run(options, 'insert', (session) => this.written(session, this.insertInto(session, validated), entry));
  }

  replace(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  replace(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  async replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'replace');
    const copied = this.validatedNow(document);
    const validated = copied instanceof Promise ? await copied : copied;
    return this.run(options, 'replace', (session) => {
      const previous = this.read(session, validated.id);
      this.checkVersion(previous, validated.id, options);
      if (previous === undefined) {
        throw new NotFoundError(`${this.name} has no document ${JSON.stringify(validated.id)} to replace`, {
          collection: this.name,
          id: validated.id,
        });
      }
      return this.written(session, this.write(session, validated, previous), entry);
    });
  }

  upsert(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  upsert(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  async upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'upsert');
    const copied = this.validatedNow(document);
    const validated = copied instanceof Promise ? await copied : copied;
    return this.run(options, 'upsert', (session) => {
      const previous = this.read(session, validated.id);
      this.checkVersion(previous, validated.id, options);
      return this.written(session, this.write(session, validated, previous), entry);
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
    // Read, decide and write in one session: it commits only if nothing it read changed meanwhile.
    return this.run(options, 'update', async (session) => {
      const previous = this.read(session, id);
      const plan = planUpdate(this.name, id, prepared, previous?.document as T | undefined, previous?.version, options);
      if (plan.kind === 'unmatched') return null;
      if (plan.created)
        return this.written(session, this.insertInto(session, await this.validated(plan.document)), entry);
      return this.written(session, this.write(session, await this.validated(plan.document), previous), entry);
    });
  }

  async delete(id: string, options?: WriteOptions): Promise<boolean> {
    checkIdArgument(id, this.name);
    return this.run(options, 'delete', (session) => {
      const previous = this.read(session, id);
      this.checkVersion(previous, id, options);
      if (previous === undefined) return false;
      session.put(this.name, id, null);
      return true;
    });
  }

  async insertMany(documents: readonly NewDocument<T>[], options?: SignalOptions): Promise<T[]> {
    checkArrayArgument(documents, 'insertMany', this.name);
    const validated = await this.validatedAll(documents.map((document) => this.withId(document)));
    return this.run(options, 'insertMany', (session) =>
      validated.map((document) => this.insertInto(session, document)),
    );
  }

  async upsertMany(documents: readonly T[], options?: SignalOptions): Promise<T[]> {
    const validated = await this.validatedAll(documents);
    return this.run(options, 'upsertMany', (session) =>
      validated.map((document) => this.write(session, document, this.read(session, document.id))),
    );
  }

  async updateMany(where: Query['where'], update: Update<T>, options?: SignalOptions): Promise<number> {
    const filter = parseFilter(where);
    // Checked before matching, so an invalid update fails even when nothing matches.
    parseUpdate(update);
    return this.run(options, 'updateMany', async (session) => {
      const matches = [...session.records(this.name, filter)].filter((record) =>
        matchesNode(record.document, filter, record.meta),
      );
      for (const previous of matches) {
        const steps = parseUpdate(update, previous.document.id);
        const next = await this.validated(applyUpdate(previous.document, steps));
        this.write(session, next, previous);
      }
      return matches.length;
    });
  }

  async deleteMany(where: Query['where'], options?: SignalOptions): Promise<number> {
    const filter = parseFilter(where);
    return this.run(options, 'deleteMany', (session) => {
      const matches = [...session.records(this.name, filter)].filter((record) =>
        matchesNode(record.document, filter, record.meta),
      );
      for (const record of matches) session.put(this.name, record.document.id, null);
      return matches.length;
    });
  }

  /**
   * Stores each entry with its own metadata (no version bump, no clock), in
   * one session: a unique clash throws before anything commits.
   */
  async importEntries(entries: readonly Entry<T>[], options?: SignalOptions): Promise<number> {
    const prepared = await prepareImportEntries(entries, this.name, this.schema, this.maxDocumentBytes);
    return this.run(options, 'importEntries', (session) => {
      for (const { document, meta } of prepared) {
        const record = new MemoryRecord(
          document as MemoryRecord['document'],
          meta.version,
          meta.createdAt.getTime(),
          meta.updatedAt.getTime(),
        );
        session.put(this.name, document.id, record);
      }
      return prepared.length;
    });
  }

  private validatedAll(documents: readonly unknown[]): Promise<T[]> {
    return validateDocuments(documents, this.name, this.schema, this.maxDocumentBytes);
  }
}
