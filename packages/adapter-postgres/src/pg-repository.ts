import {
  AlreadyExistsError,
  type Conditional,
  ConflictError,
  type CountByGroup,
  type Document,
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
  ValidationError,
  type WithEntry,
  type WithoutEntry,
  type WriteEntryOptions,
  type WriteOptions,
} from '@berth/core';
import {
  applyUpdate,
  checkExpectedVersion,
  checkIdArgument,
  checkIdsArgument,
  checkQueryArgument,
  copyDocument,
  cursorAfter,
  type FilterNode,
  findOneQuery,
  fromJsonValue,
  type IndexSpec,
  isPlainObject,
  iterateByPages,
  normalizeIndexes,
  type PreparedEntry,
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
  throwIfAborted,
  type UpdateStep,
  validateDocument,
  validateDocuments,
  wantsEntry,
} from '@berth/core/adapter';
import { type RawBuilder, sql } from 'kysely';
import { type PgCollectionState, type PgCollections, type PgKnownCollections, savepoint } from './pg-collections.js';
import type { PgBackendContext, PgTransactionContext } from './pg-context.js';
import { type CountByRow, countByGroups } from './pg-count-by.js';
import { explainPlan } from './pg-explain.js';
import { takenQuery } from './pg-indexes.js';
import { compileAfter, compileFilter, compileOrderBy, compileSql, groupValueOf, typeOf } from './pg-query-compiler.js';
import type { PgQueryable } from './pg-session.js';
import { queryPrepared } from './pg-statements.js';
import { updateStatement } from './pg-update-sql.js';

/** A transaction of `backend.transaction()`, as its repositories use it. */
export interface PgRepositoryTransaction extends PgTransactionContext {
  /** Runs one operation of the transaction at a time on its client (the work may start several at once). */
  exclusive<R>(work: () => Promise<R>): Promise<R>;
  /** Tables and indexes this transaction made sure of, known to the backend once it commits. */
  readonly known: PgKnownCollections;
}

/** What a {@link PgRepository} works with. */
export interface PgRepositoryContext {
  readonly backend: PgBackendContext;
  readonly collections: PgCollections;
  /** The open transaction, for a repository of `tx.repository()`. */
  readonly transaction?: PgRepositoryTransaction | undefined;
}

/** A row as every read selects it ({@link ROW_COLUMNS}). */
interface Row {
  readonly id: string;
  readonly data: string;
  readonly version: number;
  readonly created_ms: number;
  readonly updated_ms: number;
}

/** The metadata a write left, from its RETURNING clause. */
interface RowMeta {
  readonly version: number;
  readonly created_ms: number;
  readonly updated_ms: number;
}

/**
 * The columns every read selects. The document comes as JSON text and the
 * times as epoch milliseconds, so pg's type parsers (which an application
 * may have replaced process-wide for jsonb or timestamptz) never decide what
 * a document looks like.
 */
const ROW_COLUMNS =
  'id, data::text AS data, version::float8 AS version, (extract(epoch FROM created_at) * 1000)::float8 AS created_ms, (extract(epoch FROM updated_at) * 1000)::float8 AS updated_ms';

/** What a write returns. */
const META_COLUMNS =
  'version::float8 AS version, (extract(epoch FROM created_at) * 1000)::float8 AS created_ms, (extract(epoch FROM updated_at) * 1000)::float8 AS updated_ms';

/** How often a write that lost a race with a concurrent one (outside a transaction) is tried again. */
const RACE_ATTEMPTS = 20;

/** How many of an update's tries (outside a transaction) are optimistic before it locks the row. */
const OPTIMISTIC_ATTEMPTS = 3;

function entryOf<T>(document: T, row: RowMeta): Entry<T> {
  return {
    document,
    meta: { version: row.version, createdAt: new Date(row.created_ms), updatedAt: new Date(row.updated_ms) },
  };
}

/** Parses the `data` text of a row; skips the Date walk when the text holds no Date. */
function decode<T>(text: string): T {
  const parsed: unknown = JSON.parse(text);
  return (text.includes('"$date"') ? fromJsonValue(parsed) : parsed) as T;
}

/**
 * The id and data arrays of a multi-row statement, in id order: concurrent
 * bulk writes then lock their rows in one order and never deadlock.
 */
function columnsOf(documents: readonly { readonly id: string }[]): unknown[] {
  const sorted = [...documents].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return [sorted.map((document) => document.id), sorted.map((document) => stringifyDocument(document))];
}

/** A timestamptz from epoch milliseconds (a bigint column), exact over the whole range JavaScript Dates cover. */
const EPOCH_PLUS_MS = (column: string) => `'epoch'::timestamptz + ${column} * interval '1 millisecond'`;

function idOf(entry: { readonly document: unknown }): string {
  return (entry.document as { id: string }).id;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isMatchAll(filter: FilterNode): boolean {
  return filter.kind === 'and' && filter.nodes.length === 0;
}

/** Thrown inside a write when `INSERT … ON CONFLICT DO NOTHING` wrote nothing: some unique value is taken. */
class Taken extends Error {}

/** Thrown to roll back a probe (see {@link Run.probe}). */
class ProbeDone extends Error {}

/**
 * How one operation reaches the server: outside a transaction through the
 * pool (an atomic step in a transaction of its own), inside one on the
 * transaction's client (an atomic step under a savepoint).
 */
class Run {
  constructor(
    readonly state: PgCollectionState,
    private readonly backend: PgBackendContext,
    private readonly collection: string,
    private readonly client: PgQueryable | undefined,
  ) {}

  get inTransaction(): boolean {
    return this.client !== undefined;
  }

  /** A statement whose text is one of a fixed few per collection: prepared by name on the pool. */
  query<R extends object>(text: string, values: readonly unknown[] = []): Promise<R[]> {
    return this.client === undefined
      ? queryPrepared<R>(this.backend.session, text, values, { collection: this.collection })
      : this.client.query<R>(text, values);
  }

  /** A statement compiled from a filter: its texts vary without bound, so it is never prepared by name. */
  queryCompiled<R extends object>(text: string, values: readonly unknown[]): Promise<R[]> {
    return this.client === undefined
      ? this.backend.session.query<R>(text, values, { collection: this.collection })
      : this.client.query<R>(text, values);
  }

  /** Statements that must all happen or none: a READ COMMITTED transaction, or a savepoint. */
  atomic<R>(work: (client: PgQueryable) => Promise<R>): Promise<R> {
    const client = this.client;
    if (client === undefined) {
      // READ COMMITTED whatever the database's default: with FOR UPDATE it is
      // what makes a read-check-write step atomic without serialization failures.
      return this.backend.session.transaction(work, {
        isolation: 'read committed',
        context: { collection: this.collection },
      });
    }
    return savepoint(client, () => work(client));
  }

  /** One statement that may fail: inside a transaction under a savepoint, so the transaction goes on. */
  guarded<R>(work: (client: PgQueryable) => Promise<R>): Promise<R> {
    const client = this.client;
    if (client === undefined) return work(this);
    return savepoint(client, () => work(client));
  }

  /** Runs `work` and rolls everything it wrote back, returning its result. */
  async probe<R>(work: (client: PgQueryable) => Promise<R>): Promise<R> {
    let result: R | undefined;
    try {
      await this.atomic(async (client) => {
        result = await work(client);
        throw new ProbeDone();
      });
    } catch (error) {
      if (!(error instanceof ProbeDone)) throw error;
    }
    return result as R;
  }
}

/**
 * A repository on one PostgreSQL table: `id` primary key (`COLLATE "C"`:
 * ids compare by code point), the document as `jsonb` in `data`, and the
 * metadata in columns. Filters, sorts and cursors compile to SQL (see
 * pg-query-compiler.ts); nothing is filtered in JavaScript.
 */
export class PgRepository<T extends Document> implements Repository<T> {
  private readonly indexes: IndexSpec[];
  private readonly schema: StandardSchemaV1<unknown, T> | undefined;

  constructor(
    readonly name: string,
    options: RepositoryOptions<T> | undefined,
    private readonly context: PgRepositoryContext,
  ) {
    this.indexes = normalizeIndexes(name, options as RepositoryOptions<never> | undefined, true);
    this.schema = options?.schema;
  }

  private get maxBytes(): number {
    return this.context.backend.maxDocumentBytes;
  }

  /** Every operation runs here: checked, with the table present, in the transaction's turn when there is one. */
  private async operation<R>(
    options: SignalOptions | undefined,
    operation: string,
    work: (run: Run) => Promise<R>,
  ): Promise<R> {
    const what = `${this.name}.${operation}`;
    startOperation(options, what);
    const signal = options?.signal;
    const transaction = this.context.transaction;
    if (transaction !== undefined) {
      transaction.assertOpen();
      return transaction.exclusive(async () => {
        transaction.assertOpen();
        throwIfAborted(signal, what);
        const state = await this.context.collections.ensure(this.name, this.indexes, transaction);
        return work(new Run(state, this.context.backend, this.name, transaction.client));
      });
    }
    await this.context.backend.ready();
    throwIfAborted(signal, what);
    const state = await this.context.collections.ensure(this.name, this.indexes);
    throwIfAborted(signal, what);
    return work(new Run(state, this.context.backend, this.name, undefined));
  }

  private validated(document: unknown): Promise<T> {
    return validateDocument(document, this.name, this.schema, this.maxBytes);
  }

  private validatedAll(documents: readonly unknown[]): Promise<T[]> {
    return validateDocuments(documents, this.name, this.schema, this.maxBytes);
  }

  /** The unique indexes to name in ALREADY_EXISTS: declared ones in declaration order, then stored ones. */
  private uniqueIndexes(state: PgCollectionState): IndexSpec[] {
    const declared = this.indexes.filter((spec) => spec.unique);
    return [...declared, ...state.unique.filter((spec) => !declared.some((mine) => mine.key === spec.key))];
  }

  /**
   * The ALREADY_EXISTS of a document that a unique index refused: the id
   * when another document has it (and `checkId`), else the first unique
   * index, in declaration order, whose value another document holds.
   * Undefined when none is taken any more (a concurrent delete).
   */
  private async refusal(
    client: PgQueryable,
    state: PgCollectionState,
    document: T,
    checkId: boolean,
    cause?: unknown,
  ): Promise<AlreadyExistsError | undefined> {
    const options = { collection: this.name, id: document.id, cause };
    if (checkId) {
      const [row] = await client.query(`SELECT 1 FROM ${state.table} WHERE id = $1`, [document.id]);
      if (row !== undefined) {
        return new AlreadyExistsError(
          `${this.name} already has a document ${JSON.stringify(document.id)}`,
          'id',
          options,
        );
      }
    }
    const text = stringifyDocument(document);
    for (const spec of this.uniqueIndexes(state)) {
      const [row] = await client.query(takenQuery(state.table, spec), [text, document.id]);
      if (row !== undefined) {
        return new AlreadyExistsError(
          `${this.name}: another document already has this ${spec.field} (writing ${JSON.stringify(document.id)})`,
          spec.field,
          options,
        );
      }
    }
    return undefined;
  }

  /** Maps a unique violation of a write to the ALREADY_EXISTS naming the field; other errors pass. */
  private async mapRefusal(run: Run, error: unknown, document: T, checkId: boolean): Promise<unknown> {
    if (!(error instanceof Taken) && !isBerthError(error, 'ALREADY_EXISTS')) return error;
    const refusal = await this.refusal(run, run.state, document, checkId, error instanceof Taken ? undefined : error);
    if (refusal !== undefined) return refusal;
    if (isBerthError(error, 'ALREADY_EXISTS')) return error;
    return new ConflictError(`${this.name} document ${JSON.stringify(document.id)} changed concurrently; try again`, {
      collection: this.name,
      id: document.id,
    });
  }

  private async insertRow(client: PgQueryable, table: string, document: T, now: Date): Promise<RowMeta> {
    const [row] = await client.query<RowMeta>(
      `INSERT INTO ${table} (id, data, version, created_at, updated_at) VALUES ($1, $2::jsonb, 1, $3::timestamptz, $3::timestamptz) ON CONFLICT DO NOTHING RETURNING ${META_COLUMNS}`,
      [document.id, stringifyDocument(document), now.toISOString()],
    );
    if (row === undefined) throw new Taken();
    return row;
  }

  /** Writes a new version of a document; undefined when the stored version is not `version` (or it is gone). */
  private async updateRow(
    client: PgQueryable,
    table: string,
    document: T,
    version: number | undefined,
    now: Date,
  ): Promise<RowMeta | undefined> {
    const [row] = await client.query<RowMeta>(
      `UPDATE ${table} SET data = $2::jsonb, version = version + 1, updated_at = $3::timestamptz WHERE id = $1${version === undefined ? '' : ' AND version = $4::bigint'} RETURNING ${META_COLUMNS}`,
      version === undefined
        ? [document.id, stringifyDocument(document), now.toISOString()]
        : [document.id, stringifyDocument(document), now.toISOString(), version],
    );
    return row;
  }

  private async storedVersion(run: Run, id: string): Promise<number | undefined> {
    const [row] = await run.query<{ version: number }>(
      `SELECT version::float8 AS version FROM ${run.state.table} WHERE id = $1`,
      [id],
    );
    return row?.version;
  }

  async get(id: string, options?: SignalOptions): Promise<T | null> {
    checkIdArgument(id, this.name);
    return this.operation(options, 'get', async (run) => {
      const [row] = await run.query<{ data: string }>(
        `SELECT data::text AS data FROM ${run.state.table} WHERE id = $1`,
        [id],
      );
      return row === undefined ? null : decode<T>(row.data);
    });
  }

  async getEntry(id: string, options?: SignalOptions): Promise<Entry<T> | null> {
    checkIdArgument(id, this.name);
    return this.operation(options, 'getEntry', async (run) => {
      const [row] = await run.query<Row>(`SELECT ${ROW_COLUMNS} FROM ${run.state.table} WHERE id = $1`, [id]);
      return row === undefined ? null : entryOf(decode<T>(row.data), row);
    });
  }

  async getMany(ids: readonly string[], options?: SignalOptions): Promise<(T | null)[]> {
    checkIdsArgument(ids, this.name);
    return this.operation(options, 'getMany', async (run) => {
      const wanted = [...new Set(ids)];
      const rows =
        wanted.length === 0
          ? []
          : await run.query<{ id: string; data: string }>(
              `SELECT id, data::text AS data FROM ${run.state.table} WHERE id = ANY($1::text[])`,
              [wanted],
            );
      const found = new Map(rows.map((row) => [row.id, row.data]));
      // Each position gets its own copy, even when an id is asked twice.
      return ids.map((id) => {
        const text = found.get(id);
        return text === undefined ? null : decode<T>(text);
      });
    });
  }

  /** The SELECT of a prepared query. */
  private selectQuery(
    table: string,
    prepared: PreparedQuery,
    limit: number | undefined,
    columns: string = ROW_COLUMNS,
  ): RawBuilder<unknown> {
    const conditions = isMatchAll(prepared.filter) ? [] : [compileFilter(prepared.filter)];
    if (prepared.after !== undefined) conditions.push(compileAfter(prepared.sort, prepared.after));
    const where = conditions.length === 0 ? sql`` : sql` WHERE ${sql.join(conditions, sql` AND `)}`;
    const limitClause = limit === undefined ? sql`` : sql` LIMIT ${limit}`;
    const offsetClause = prepared.offset === 0 ? sql`` : sql` OFFSET ${prepared.offset}`;
    return sql`SELECT ${sql.raw(columns)} FROM ${sql.raw(table)}${where} ORDER BY ${compileOrderBy(prepared.sort, prepared.filter)}${limitClause}${offsetClause}`;
  }

  private async select(run: Run, prepared: PreparedQuery, limit: number | undefined): Promise<Row[]> {
    const statement = compileSql(this.selectQuery(run.state.table, prepared, limit));
    return run.queryCompiled<Row>(statement.sql, statement.parameters);
  }

  /** The documents alone: no id, version or times to read, convert and send for each row. */
  private async selectDocuments(run: Run, prepared: PreparedQuery): Promise<T[]> {
    const statement = compileSql(this.selectQuery(run.state.table, prepared, prepared.limit, 'data::text AS data'));
    return (await run.queryCompiled<{ data: string }>(statement.sql, statement.parameters)).map((row) =>
      decode<T>(row.data),
    );
  }

  /** One page: `limit + 1` rows tell whether another page follows. */
  private async page(run: Run, prepared: PreparedQuery): Promise<Page<Entry<T>>> {
    const rows = await this.select(run, prepared, prepared.limit === undefined ? undefined : prepared.limit + 1);
    const items = rows.slice(0, prepared.limit ?? rows.length).map((row) => entryOf(decode<T>(row.data), row));
    const last = items.at(-1);
    const more = prepared.limit !== undefined && rows.length > prepared.limit;
    return { items, nextCursor: more && last !== undefined ? cursorAfter(prepared, last.document, last.meta) : null };
  }

  async find(query?: Query, options?: SignalOptions): Promise<T[]> {
    const prepared = prepareQuery(query);
    return this.operation(options, 'find', (run) => this.selectDocuments(run, prepared));
  }

  async findPage(query?: Query, options?: SignalOptions): Promise<Page<T>> {
    const prepared = prepareQuery(query);
    return this.operation(options, 'findPage', async (run) => {
      const page = await this.page(run, prepared);
      return { items: page.items.map((entry) => entry.document), nextCursor: page.nextCursor };
    });
  }

  async findEntries(query?: Query, options?: SignalOptions): Promise<Entry<T>[]> {
    const prepared = prepareQuery(query);
    return this.operation(options, 'findEntries', async (run) =>
      (await this.select(run, prepared, prepared.limit)).map((row) => entryOf(decode<T>(row.data), row)),
    );
  }

  async findEntriesPage(query?: Query, options?: SignalOptions): Promise<Page<Entry<T>>> {
    const prepared = prepareQuery(query);
    return this.operation(options, 'findEntriesPage', (run) => this.page(run, prepared));
  }

  iterate(query?: Query, options?: IterateOptions): AsyncIterableIterator<T> {
    return iterateByPages((page) => this.findPage(page, options), query, options);
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
    return this.operation(options, 'count', async (run) => {
      const condition = isMatchAll(filter) ? sql`` : sql` WHERE ${compileFilter(filter)}`;
      const statement = compileSql(sql`SELECT count(*)::float8 AS n FROM ${sql.raw(run.state.table)}${condition}`);
      const [row] = await run.queryCompiled<{ n: number }>(statement.sql, statement.parameters);
      return row?.n ?? 0;
    });
  }

  async countBy(field: string, where?: Query['where'], options?: SignalOptions): Promise<CountByGroup[]> {
    const path = parseFieldPath(field);
    const filter = parseFilter(where);
    return this.operation(options, 'countBy', async (run) => {
      const condition = isMatchAll(filter) ? sql`` : sql` WHERE ${compileFilter(filter)}`;
      const statement = compileSql(
        sql`SELECT ${typeOf(path)} AS type, ${groupValueOf(path)}::text AS value, count(*)::float8 AS n FROM ${sql.raw(run.state.table)}${condition} GROUP BY 1, 2`,
      );
      return countByGroups(await run.queryCompiled<CountByRow>(statement.sql, statement.parameters));
    });
  }

  async exists(where?: Query['where'], options?: SignalOptions): Promise<boolean> {
    const filter = parseFilter(where);
    return this.operation(options, 'exists', async (run) => {
      const condition = isMatchAll(filter) ? sql`` : sql` WHERE ${compileFilter(filter)}`;
      const statement = compileSql(sql`SELECT 1 FROM ${sql.raw(run.state.table)}${condition} LIMIT 1`);
      return (await run.queryCompiled(statement.sql, statement.parameters)).length > 0;
    });
  }

  async explain(query?: Query, options?: SignalOptions): Promise<QueryPlan> {
    const prepared = prepareQuery(query);
    return this.operation(options, 'explain', async (run) => {
      const statement = compileSql(this.selectQuery(run.state.table, prepared, prepared.limit));
      const [row] = await run.queryCompiled<Record<string, unknown>>(
        `EXPLAIN (FORMAT JSON) ${statement.sql}`,
        statement.parameters,
      );
      return explainPlan(row?.['QUERY PLAN'], this.name);
    });
  }

  insert(document: NewDocument<T>, options: WithEntry<InsertOptions>): Promise<Entry<T>>;
  insert(document: NewDocument<T>, options?: WithoutEntry<InsertOptions>): Promise<T>;
  insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>>;
  async insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'insert');
    const validated = await this.validated(
      isPlainObject(document) && document.id === undefined ? { ...document, id: generateId() } : document,
    );
    return this.operation(options, 'insert', async (run) => {
      for (let attempt = 1; ; attempt++) {
        try {
          // ON CONFLICT DO NOTHING raises nothing, so a transaction needs no savepoint here.
          const meta = await this.insertRow(run, run.state.table, validated, new Date());
          return entry ? entryOf(validated, meta) : validated;
        } catch (error) {
          const mapped = await this.mapRefusal(run, error, validated, true);
          // In a transaction a CONFLICT is PostgreSQL's serialization failure: the transaction is
          // aborted, and only running it again (the caller's retries) can help.
          if (!isBerthError(mapped, 'CONFLICT') || run.inTransaction || attempt >= RACE_ATTEMPTS) throw mapped;
        }
      }
    });
  }

  replace(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  replace(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  async replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'replace');
    const validated = await this.validated(document);
    // Checks the option alone (a stored version equal to the expected one passes).
    checkExpectedVersion(this.name, validated.id, options?.expectedVersion, options);
    return this.operation(options, 'replace', (run) => this.replaceIn(run, validated, options, entry));
  }

  /** Replace, on a run: an update of the stored version (the expected one when given). */
  private async replaceIn(
    run: Run,
    validated: T,
    options: WriteEntryOptions | undefined,
    entry: boolean,
  ): Promise<T | Entry<T>> {
    for (;;) {
      let meta: RowMeta | undefined;
      try {
        meta = await run.guarded((client) =>
          this.updateRow(client, run.state.table, validated, options?.expectedVersion, new Date()),
        );
      } catch (error) {
        throw await this.mapRefusal(run, error, validated, false);
      }
      if (meta !== undefined) return entry ? entryOf(validated, meta) : validated;
      const version = await this.storedVersion(run, validated.id);
      checkExpectedVersion(this.name, validated.id, version, options);
      if (version === undefined) {
        throw new NotFoundError(`${this.name} has no document ${JSON.stringify(validated.id)} to replace`, {
          collection: this.name,
          id: validated.id,
        });
      }
      // The expected version was written in between by another writer: both checks now pass; write again.
    }
  }

  upsert(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  upsert(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  async upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'upsert');
    const validated = await this.validated(document);
    // Checks the option alone (a stored version equal to the expected one passes).
    checkExpectedVersion(this.name, validated.id, options?.expectedVersion, options);
    return this.operation(options, 'upsert', async (run) => {
      if (options?.expectedVersion !== undefined) {
        // An expected version needs the document: an update of that version, or the error saying why not.
        return this.replaceIn(run, validated, options, entry);
      }
      let meta: RowMeta | undefined;
      try {
        meta = await run.guarded(async (client) => {
          const [row] = await client.query<RowMeta>(
            `INSERT INTO ${run.state.table} AS t (id, data, version, created_at, updated_at)
             VALUES ($1, $2::jsonb, 1, $3::timestamptz, $3::timestamptz)
             ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, version = t.version + 1, updated_at = EXCLUDED.updated_at
             RETURNING ${META_COLUMNS}`,
            [validated.id, stringifyDocument(validated), new Date().toISOString()],
          );
          return row;
        });
      } catch (error) {
        throw await this.mapRefusal(run, error, validated, false);
      }
      if (meta === undefined) throw new Error('PostgreSQL returned no row for an upsert');
      return entry ? entryOf(validated, meta) : validated;
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
    const prepared = prepareUpdate(this.name, id, update, options, this.maxBytes);
    // Checks the option alone (a stored version equal to the expected one passes).
    checkExpectedVersion(this.name, id, options?.expectedVersion, options);
    return this.operation(options, 'update', async (run) => {
      // Without a schema to run or a `where` to check, most updates are one statement.
      if (!run.inTransaction && this.schema === undefined && prepared.condition === undefined) {
        const written = await this.updateInOneStatement(run, id, prepared.steps, options?.expectedVersion, entry);
        if (written !== undefined) return written;
      }
      for (let attempt = 1; ; attempt++) {
        // Outside a transaction the first tries are optimistic: a plain read,
        // then one write conditional on the version read (two statements, no
        // BEGIN or COMMIT); a write that lost a race reads again. Later tries
        // read FOR UPDATE in a transaction, so a document many writers update
        // at once still gets every update in. In a transaction, always FOR
        // UPDATE: the row stays locked until the commit either way.
        const optimistic = !run.inTransaction && attempt <= OPTIMISTIC_ATTEMPTS;
        let attempted: T | undefined;
        let written: { document: T; meta: RowMeta } | null | undefined;
        try {
          const step = async (client: PgQueryable) => {
            const [row] = await client.query<{ data: string; version: number }>(
              `SELECT data::text AS data, version::float8 AS version FROM ${run.state.table} WHERE id = $1${optimistic ? '' : ' FOR UPDATE'}`,
              [id],
            );
            const stored = row === undefined ? undefined : decode<T>(row.data);
            const plan = planUpdate(this.name, id, prepared, stored, row?.version, options);
            if (plan.kind === 'unmatched') return null;
            let next = copyDocument<T>(plan.document, this.name, this.maxBytes);
            if (this.schema !== undefined) next = await this.validated(next);
            attempted = next;
            const now = new Date();
            // The write checks the version read: undefined when another writer got in between (optimistic only).
            const meta =
              row === undefined
                ? await this.insertRow(client, run.state.table, next, now)
                : await this.updateRow(client, run.state.table, next, row.version, now);
            if (meta === undefined && !optimistic) throw new Error('PostgreSQL lost a row locked FOR UPDATE');
            return meta === undefined ? undefined : { document: next, meta };
          };
          written = optimistic ? await step(run) : await run.atomic(step);
        } catch (error) {
          if (attempted === undefined) throw error;
          // An upsert's document was created concurrently since the read: the update now applies to it.
          if (error instanceof Taken && !run.inTransaction && attempt < RACE_ATTEMPTS) {
            if ((await this.storedVersion(run, id)) !== undefined) continue;
          }
          const mapped = await this.mapRefusal(run, error, attempted, false);
          if (isBerthError(mapped, 'CONFLICT') && !run.inTransaction && attempt < RACE_ATTEMPTS) continue;
          throw mapped;
        }
        if (written === undefined) continue;
        if (written === null) return null;
        return entry ? entryOf(written.document, written.meta) : written.document;
      }
    });
  }

  /** The one-statement update (see pg-update-sql.ts); undefined when it did not apply and wrote nothing. */
  private async updateInOneStatement(
    run: Run,
    id: string,
    steps: readonly UpdateStep[],
    expectedVersion: number | undefined,
    entry: boolean,
  ): Promise<T | Entry<T> | undefined> {
    // The metadata only when asked for: its columns cost the server a numeric conversion each.
    const returning = entry ? `data::text AS data, ${META_COLUMNS}` : 'data::text AS data';
    const statement = updateStatement(
      run.state.table,
      id,
      steps,
      expectedVersion,
      this.maxBytes,
      new Date(),
      returning,
    );
    if (statement === undefined) return undefined;
    let row: ({ readonly data: string } & Partial<RowMeta>) | undefined;
    try {
      // One step has a few dozen texts per collection (kind, path depth, expected version): prepared by name.
      // Several steps combine into thousands, too many to keep prepared on every connection.
      [row] =
        steps.length === 1
          ? await run.query<{ data: string } & Partial<RowMeta>>(statement.text, statement.values)
          : await run.queryCompiled<{ data: string } & Partial<RowMeta>>(statement.text, statement.values);
    } catch (error) {
      // A unique value taken: the general path writes the same document and names the field. A deadlock
      // or serialization failure wrote nothing either: the general path retries it as it retries its own.
      if (isBerthError(error, 'ALREADY_EXISTS') || isBerthError(error, 'CONFLICT')) return undefined;
      throw error;
    }
    if (row === undefined) return undefined;
    const document = decode<T>(row.data);
    return entry ? entryOf(document, row as RowMeta) : document;
  }

  async delete(id: string, options?: WriteOptions): Promise<boolean> {
    checkIdArgument(id, this.name);
    // Checks the option alone (a stored version equal to the expected one passes).
    checkExpectedVersion(this.name, id, options?.expectedVersion, options);
    return this.operation(options, 'delete', async (run) => {
      const expected = options?.expectedVersion;
      for (;;) {
        const rows = await run.query(
          `DELETE FROM ${run.state.table} WHERE id = $1${expected === undefined ? '' : ' AND version = $2::bigint'} RETURNING 1`,
          expected === undefined ? [id] : [id, expected],
        );
        if (rows.length > 0) return true;
        if (expected === undefined) return false;
        checkExpectedVersion(this.name, id, await this.storedVersion(run, id), options);
      }
    });
  }

  async insertMany(documents: readonly NewDocument<T>[], options?: SignalOptions): Promise<T[]> {
    if (!Array.isArray(documents))
      throw new ValidationError('insertMany takes an array', '', { collection: this.name });
    const validated = await this.validatedAll(
      documents.map((document) =>
        isPlainObject(document) && document.id === undefined ? { ...document, id: generateId() } : document,
      ),
    );
    return this.operation(options, 'insertMany', async (run) => {
      if (validated.length === 0) return validated;
      // One multi-row statement: a taken id or unique value fails it whole, and nothing is written. Not ON
      // CONFLICT DO NOTHING, which would need a transaction to undo the rows it did write.
      try {
        await run.guarded((client) =>
          client.query(
            `INSERT INTO ${run.state.table} (id, data, version, created_at, updated_at)
             SELECT id, data, 1, $3::timestamptz, $3::timestamptz FROM unnest($1::text[], $2::jsonb[]) AS input(id, data)`,
            columnsOf(validated).concat(new Date().toISOString()),
          ),
        );
      } catch (error) {
        if (!isBerthError(error, 'ALREADY_EXISTS')) throw error;
        throw await this.firstRefused(run, validated, true);
      }
      return validated;
    });
  }

  /**
   * Which document of a refused bulk write is the first one refused, in input
   * order, and why: the writes are replayed one by one and rolled back.
   */
  private async firstRefused(run: Run, documents: readonly T[], insert: boolean): Promise<unknown> {
    const refusal = await run.probe(async (client) => {
      const now = new Date();
      for (const document of documents) {
        try {
          await savepoint(client, async () => {
            if (insert) await this.insertRow(client, run.state.table, document, now);
            else await this.writeOne(client, run.state.table, document, now);
          });
        } catch (error) {
          if (!(error instanceof Taken) && !isBerthError(error, 'ALREADY_EXISTS')) throw error;
          return (
            (await this.refusal(client, run.state, document, insert, error instanceof Taken ? undefined : error)) ??
            error
          );
        }
      }
      return undefined;
    });
    return (
      refusal ??
      new ConflictError(`${this.name}: a concurrent write took a value of this bulk write; try again`, {
        collection: this.name,
      })
    );
  }

  /** An upsert of one document, for replays. */
  private async writeOne(client: PgQueryable, table: string, document: T, now: Date): Promise<void> {
    await client.query(
      `INSERT INTO ${table} AS t (id, data, version, created_at, updated_at) VALUES ($1, $2::jsonb, 1, $3::timestamptz, $3::timestamptz)
       ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, version = t.version + 1, updated_at = EXCLUDED.updated_at`,
      [document.id, stringifyDocument(document), now.toISOString()],
    );
  }

  async upsertMany(documents: readonly T[], options?: SignalOptions): Promise<T[]> {
    if (!Array.isArray(documents))
      throw new ValidationError('upsertMany takes an array', '', { collection: this.name });
    const validated = await this.validatedAll(documents);
    return this.operation(options, 'upsertMany', async (run) => {
      if (validated.length === 0) return validated;
      const now = new Date().toISOString();
      // One statement cannot change a row twice: an id given again goes in the next round, in input order.
      const rounds: T[][] = [];
      const seen = new Map<string, number>();
      for (const document of validated) {
        const round = seen.get(document.id) ?? 0;
        seen.set(document.id, round + 1);
        const batch = rounds[round];
        if (batch === undefined) rounds.push([document]);
        else batch.push(document);
      }
      try {
        await run.atomic(async (client) => {
          for (const round of rounds) {
            await client.query(
              `INSERT INTO ${run.state.table} AS t (id, data, version, created_at, updated_at)
               SELECT id, data, 1, $3::timestamptz, $3::timestamptz FROM unnest($1::text[], $2::jsonb[]) AS input(id, data)
               ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, version = t.version + 1, updated_at = EXCLUDED.updated_at`,
              columnsOf(round).concat(now),
            );
          }
        });
      } catch (error) {
        if (!isBerthError(error, 'ALREADY_EXISTS')) throw error;
        throw await this.firstRefused(run, validated, false);
      }
      return validated;
    });
  }

  async updateMany(where: Query['where'], update: Update<T>, options?: SignalOptions): Promise<number> {
    const filter = parseFilter(where);
    parseUpdate(update);
    return this.operation(options, 'updateMany', async (run) => {
      const condition = isMatchAll(filter) ? sql`` : sql` WHERE ${compileFilter(filter)}`;
      const select = compileSql(
        sql`SELECT ${sql.raw(ROW_COLUMNS)} FROM ${sql.raw(run.state.table)}${condition} ORDER BY id FOR UPDATE`,
      );
      let changes: T[] = [];
      try {
        return await run.atomic(async (client) => {
          const rows = await client.query<Row>(select.sql, select.parameters);
          changes = rows.map((row) =>
            copyDocument<T>(
              applyUpdate(decode<T>(row.data), parseUpdate(update, row.id) as UpdateStep[]),
              this.name,
              this.maxBytes,
            ),
          );
          // Each document is validated on its own: an issue's path is the field's, as for update().
          if (this.schema !== undefined) changes = await Promise.all(changes.map((next) => this.validated(next)));
          if (changes.length === 0) return 0;
          await client.query(
            `UPDATE ${run.state.table} AS t SET data = input.data, version = t.version + 1, updated_at = $3::timestamptz
             FROM unnest($1::text[], $2::jsonb[]) AS input(id, data) WHERE t.id = input.id`,
            columnsOf(changes).concat(new Date().toISOString()),
          );
          return changes.length;
        });
      } catch (error) {
        if (!isBerthError(error, 'ALREADY_EXISTS')) throw error;
        throw await this.firstRefused(run, changes, false);
      }
    });
  }

  async importEntries(entries: readonly Entry<T>[], options?: SignalOptions): Promise<number> {
    const checked = await prepareImportEntries(entries, this.name, this.schema, this.maxBytes);
    // In id order, as every bulk write: concurrent ones lock their rows in one order.
    checked.sort((a, b) => compareIds(idOf(a), idOf(b)));
    return this.operation(options, 'importEntries', async (run) => {
      if (checked.length === 0) return 0;
      try {
        await run.atomic((client) => this.importRows(client, run.state.table, checked));
      } catch (error) {
        if (!isBerthError(error, 'ALREADY_EXISTS')) throw error;
        throw await this.firstImportRefused(run, checked, error);
      }
      return checked.length;
    });
  }

  /**
   * Replaces the rows of the entries' ids with the entries: the old rows go
   * first, so values the import moves from one of its documents to another
   * never collide with themselves in a unique index.
   */
  private async importRows(client: PgQueryable, table: string, entries: readonly PreparedEntry<T>[]): Promise<void> {
    await client.query(`DELETE FROM ${table} WHERE id = ANY($1::text[])`, [entries.map(idOf)]);
    await client.query(
      `INSERT INTO ${table} (id, data, version, created_at, updated_at)
       SELECT id, data, version, ${EPOCH_PLUS_MS('created_ms')}, ${EPOCH_PLUS_MS('updated_ms')}
       FROM unnest($1::text[], $2::jsonb[], $3::bigint[], $4::bigint[], $5::bigint[])
         AS input(id, data, version, created_ms, updated_ms)`,
      [
        entries.map(idOf),
        entries.map((entry) => stringifyDocument(entry.document)),
        entries.map((entry) => entry.meta.version),
        entries.map((entry) => entry.meta.createdAt.getTime()),
        entries.map((entry) => entry.meta.updatedAt.getTime()),
      ],
    );
  }

  /** The ALREADY_EXISTS naming the first entry (in id order) whose unique value another document holds. */
  private async firstImportRefused(run: Run, entries: readonly PreparedEntry<T>[], cause: unknown): Promise<unknown> {
    const refusal = await run.probe(async (client) => {
      await client.query(`DELETE FROM ${run.state.table} WHERE id = ANY($1::text[])`, [entries.map(idOf)]);
      for (const entry of entries) {
        try {
          await savepoint(client, () => this.importRows(client, run.state.table, [entry]));
        } catch (error) {
          if (!isBerthError(error, 'ALREADY_EXISTS')) throw error;
          return (await this.refusal(client, run.state, entry.document, false, error)) ?? error;
        }
      }
      return undefined;
    });
    return refusal ?? cause;
  }

  async deleteMany(where: Query['where'], options?: SignalOptions): Promise<number> {
    const filter = parseFilter(where);
    return this.operation(options, 'deleteMany', async (run) => {
      const condition = isMatchAll(filter) ? sql`` : sql` WHERE ${compileFilter(filter)}`;
      const statement = compileSql(
        sql`WITH deleted AS (DELETE FROM ${sql.raw(run.state.table)}${condition} RETURNING 1) SELECT count(*)::float8 AS n FROM deleted`,
      );
      const [row] = await run.queryCompiled<{ n: number }>(statement.sql, statement.parameters);
      return row?.n ?? 0;
    });
  }
}
