import { randomUUID } from 'node:crypto';
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
  evaluateEntries,
  findOneQuery,
  getPathValue,
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
  prepareImportEntries,
  prepareQuery,
  prepareUpdate,
  startOperation,
  stringifyDocument,
  validateDocument,
  validateDocuments,
  wantsEntry,
} from '@berth/core/adapter';
import type { JsonDirFiles, StoredRecord } from './jsondir-files.js';
import { JsonDirSession } from './jsondir-session.js';

/** Where a repository's operations run: each in its own session under the lock, or in a transaction's session. */
export type JsonDirScope =
  | { readonly kind: 'auto'; readonly files: JsonDirFiles; readonly assertOpen: () => void }
  | { readonly kind: 'transaction'; readonly session: JsonDirSession; readonly assertOpen: () => void };

/**
 * A repository over one folder of JSON files. Core does the hard parts:
 * `prepareQuery`, `evaluateEntries` (filter, sort, offset, limit, keyset
 * cursor), `prepareUpdate` and `planUpdate`, `validateDocument`. This class
 * only decides where documents come from and where they go.
 */
export class JsonDirRepository<T extends Document> implements Repository<T> {
  private readonly schema: StandardSchemaV1<unknown, T> | undefined;

  constructor(
    readonly name: string,
    options: RepositoryOptions<T> | undefined,
    private readonly scope: JsonDirScope,
    private readonly maxDocumentBytes: number,
  ) {
    // Checks the options; `false`: a unique index is UNSUPPORTED. Other indexes are accepted and
    // change nothing, since every query reads the whole folder (`explain` says so).
    normalizeIndexes(name, options as RepositoryOptions<never> | undefined, false);
    this.schema = options?.schema;
  }

  /** Checks the options and the signal, then runs `work` on a session that sees this collection. */
  private async run<R>(
    options: SignalOptions | undefined,
    operation: string,
    work: (session: JsonDirSession) => R | Promise<R>,
  ): Promise<R> {
    startOperation(options, `${this.name}.${operation}`);
    this.scope.assertOpen();
    if (this.scope.kind === 'transaction') {
      const { session } = this.scope;
      return session.turns.run(async () => {
        session.assertOpen();
        await session.load(this.name);
        return work(session);
      });
    }
    const { files } = this.scope;
    return files.withLock(async () => {
      const session = new JsonDirSession(files, false);
      await session.load(this.name);
      const result = await work(session);
      await session.commit();
      return result;
    });
  }

  private validated(document: unknown): Promise<T> {
    return validateDocument(document, this.name, this.schema, this.maxDocumentBytes);
  }

  private validatedAll(documents: readonly unknown[]): Promise<T[]> {
    return validateDocuments(documents, this.name, this.schema, this.maxDocumentBytes);
  }

  private withId(document: NewDocument<T>): unknown {
    if (!isPlainObject(document)) return document;
    return document.id === undefined ? { ...document, id: generateId() } : document;
  }

  private entryOf(record: StoredRecord): Entry<T> {
    return { document: cloneValue(record.document) as T, meta: cloneValue(record.meta) };
  }

  /** Stores `document` as the next version of `previous` (or version 1) and returns its entry. */
  private write(session: JsonDirSession, document: T, previous: StoredRecord | undefined): Entry<T> {
    const now = new Date();
    const meta = {
      version: (previous?.meta.version ?? 0) + 1,
      createdAt: previous?.meta.createdAt ?? now,
      updatedAt: now,
    };
    const record: StoredRecord = { document, meta, stamp: randomUUID() };
    session.put(this.name, document.id, record);
    return this.entryOf(record);
  }

  private insertInto(session: JsonDirSession, document: T): Entry<T> {
    if (session.get(this.name, document.id) !== undefined) {
      throw new AlreadyExistsError(`${this.name} already has a document ${JSON.stringify(document.id)}`, 'id', {
        collection: this.name,
        id: document.id,
      });
    }
    return this.write(session, document, undefined);
  }

  private matches(session: JsonDirSession, where: unknown): StoredRecord[] {
    const filter = parseFilter(where);
    return session.records(this.name, filter).filter((record) => matchesNode(record.document, filter, record.meta));
  }

  private page(session: JsonDirSession, prepared: PreparedQuery): Page<StoredRecord> {
    return evaluateEntries(session.records(this.name, prepared.filter), prepared);
  }

  async get(id: string, options?: SignalOptions): Promise<T | null> {
    return (await this.getEntry(id, options))?.document ?? null;
  }

  async getEntry(id: string, options?: SignalOptions): Promise<Entry<T> | null> {
    checkIdArgument(id, this.name);
    return this.run(options, 'getEntry', (session) => {
      const record = session.get(this.name, id);
      return record === undefined ? null : this.entryOf(record);
    });
  }

  async getMany(ids: readonly string[], options?: SignalOptions): Promise<(T | null)[]> {
    checkIdsArgument(ids, this.name);
    return this.run(options, 'getMany', (session) =>
      ids.map((id) => {
        const record = session.get(this.name, id);
        return record === undefined ? null : (cloneValue(record.document) as T);
      }),
    );
  }

  async find(query?: Query, options?: SignalOptions): Promise<T[]> {
    return (await this.findPage(query, options)).items;
  }

  async findPage(query?: Query, options?: SignalOptions): Promise<Page<T>> {
    const page = await this.findEntriesPage(query, options);
    return { items: page.items.map((entry) => entry.document), nextCursor: page.nextCursor };
  }

  async findEntries(query?: Query, options?: SignalOptions): Promise<Entry<T>[]> {
    return (await this.findEntriesPage(query, options)).items;
  }

  async findEntriesPage(query?: Query, options?: SignalOptions): Promise<Page<Entry<T>>> {
    const prepared = prepareQuery(query);
    return this.run(options, 'find', (session) => {
      const page = this.page(session, prepared);
      return { items: page.items.map((record) => this.entryOf(record)), nextCursor: page.nextCursor };
    });
  }

  async findOne(query?: Query, options?: SignalOptions): Promise<T | null> {
    checkQueryArgument(query, 'findOne');
    const [first] = await this.find(findOneQuery(query), options);
    return first ?? null;
  }

  iterate(query?: Query, options?: IterateOptions): AsyncIterableIterator<T> {
    return iterateByPages((page) => this.findPage(page, options), query, options);
  }

  iterateEntries(query?: Query, options?: IterateOptions): AsyncIterableIterator<Entry<T>> {
    return iterateByPages((page) => this.findEntriesPage(page, options), query, options);
  }

  async count(where?: Query['where'], options?: SignalOptions): Promise<number> {
    parseFilter(where);
    return this.run(options, 'count', (session) => this.matches(session, where).length);
  }

  async exists(where?: Query['where'], options?: SignalOptions): Promise<boolean> {
    return (await this.findOne({ where }, options)) !== null;
  }

  async countBy(field: string, where?: Query['where'], options?: SignalOptions): Promise<CountByGroup[]> {
    const path = parseFieldPath(field);
    parseFilter(where);
    return this.run(options, 'countBy', (session) => {
      const groups = new Map<string, { value: DocumentScalar; count: number }>();
      for (const record of this.matches(session, where)) {
        const value = getPathValue(record.document, path) ?? null;
        // Arrays and objects are not counted; the JSON text tells 1, "1", true and a Date apart.
        if (!isScalar(value)) continue;
        const key = stringifyDocument(value);
        const group = groups.get(key);
        if (group === undefined) groups.set(key, { value: cloneValue(value), count: 1 });
        else group.count++;
      }
      return [...groups.values()].sort((a, b) => compareValues(a.value, b.value));
    });
  }

  async explain(query?: Query, options?: SignalOptions): Promise<QueryPlan> {
    prepareQuery(query);
    return this.run(options, 'explain', () => ({
      strategy: 'scan' as const,
      detail: `reads every file of ${this.name} and evaluates the query with core's reference evaluator`,
    }));
  }

  insert(document: NewDocument<T>, options: WithEntry<InsertOptions>): Promise<Entry<T>>;
  insert(document: NewDocument<T>, options?: WithoutEntry<InsertOptions>): Promise<T>;
  insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>>;
  async insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'insert');
    const validated = await this.validated(this.withId(document));
    const written = await this.run(options, 'insert', (session) => this.insertInto(session, validated));
    return entry ? written : written.document;
  }

  replace(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  replace(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  async replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'replace');
    const validated = await this.validated(document);
    const written = await this.run(options, 'replace', (session) => {
      const previous = session.get(this.name, validated.id);
      checkExpectedVersion(this.name, validated.id, previous?.meta.version, options);
      if (previous === undefined) {
        throw new NotFoundError(`${this.name} has no document ${JSON.stringify(validated.id)} to replace`, {
          collection: this.name,
          id: validated.id,
        });
      }
      return this.write(session, validated, previous);
    });
    return entry ? written : written.document;
  }

  upsert(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  upsert(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  async upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'upsert');
    const validated = await this.validated(document);
    const written = await this.run(options, 'upsert', (session) => {
      const previous = session.get(this.name, validated.id);
      checkExpectedVersion(this.name, validated.id, previous?.meta.version, options);
      return this.write(session, validated, previous);
    });
    return entry ? written : written.document;
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
    // Everything about the update is checked before anything is read.
    const prepared = prepareUpdate(this.name, id, update, options, this.maxDocumentBytes);
    const written = await this.run(options, 'update', async (session) => {
      const previous = session.get(this.name, id);
      const plan = planUpdate(
        this.name,
        id,
        prepared,
        previous?.document as T | undefined,
        previous?.meta.version,
        options,
      );
      if (plan.kind === 'unmatched') return null;
      const next = await this.validated(plan.document);
      return plan.created ? this.insertInto(session, next) : this.write(session, next, previous);
    });
    if (written === null) return null;
    return entry ? written : written.document;
  }

  async delete(id: string, options?: WriteOptions): Promise<boolean> {
    checkIdArgument(id, this.name);
    return this.run(options, 'delete', (session) => {
      const previous = session.get(this.name, id);
      checkExpectedVersion(this.name, id, previous?.meta.version, options);
      if (previous === undefined) return false;
      session.put(this.name, id, null);
      return true;
    });
  }

  async insertMany(documents: readonly NewDocument<T>[], options?: SignalOptions): Promise<T[]> {
    checkArrayArgument(documents, 'insertMany', this.name);
    const validated = await this.validatedAll(documents.map((document) => this.withId(document)));
    return this.run(options, 'insertMany', (session) =>
      validated.map((document) => this.insertInto(session, document).document),
    );
  }

  async upsertMany(documents: readonly T[], options?: SignalOptions): Promise<T[]> {
    const validated = await this.validatedAll(documents);
    return this.run(options, 'upsertMany', (session) =>
      validated.map((document) => this.write(session, document, session.get(this.name, document.id)).document),
    );
  }

  async updateMany(where: Query['where'], update: Update<T>, options?: SignalOptions): Promise<number> {
    parseFilter(where);
    // Checked before matching, so an invalid update fails even when nothing matches.
    parseUpdate(update);
    return this.run(options, 'updateMany', async (session) => {
      const matches = this.matches(session, where);
      for (const previous of matches) {
        const next = await this.validated(applyUpdate(previous.document, parseUpdate(update, previous.document.id)));
        this.write(session, next, previous);
      }
      return matches.length;
    });
  }

  async deleteMany(where: Query['where'], options?: SignalOptions): Promise<number> {
    parseFilter(where);
    return this.run(options, 'deleteMany', (session) => {
      const matches = this.matches(session, where);
      for (const record of matches) session.put(this.name, record.document.id, null);
      return matches.length;
    });
  }

  /** Stores the entries with their own metadata in one session: one commit (journaled), all or none. */
  async importEntries(entries: readonly Entry<T>[], options?: SignalOptions): Promise<number> {
    const prepared = await prepareImportEntries(entries, this.name, this.schema, this.maxDocumentBytes);
    return this.run(options, 'importEntries', (session) => {
      for (const { document, meta } of prepared)
        session.put(this.name, document.id, { document, meta, stamp: randomUUID() });
      return prepared.length;
    });
  }
}
