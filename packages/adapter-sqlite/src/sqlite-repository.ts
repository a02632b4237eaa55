import {
  AlreadyExistsError,
  type Conditional,
  ConflictError,
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
  type IndexSpec,
  isMetadataPath,
  isPlainObject,
  iterateByPages,
  normalizeIndexes,
  type PreparedQuery,
  parseFieldPath,
  parseFilter,
  parseUpdate,
  planUpdate,
  prepareImportEntries,
  prepareQuery,
  prepareUpdate,
  type SortSpec,
  startOperation,
  throwIfAborted,
  type UpdateStep,
  validateDocument,
  validateDocuments,
  wantsEntry,
} from '@berth/core/adapter';
import { countGroups } from '@berth/sql';
import { type RawBuilder, sql } from 'kysely';
import { queryBuilder, type SqliteConnection } from './sqlite-connection.js';
import { toBerthError } from './sqlite-errors.js';
import { storedUniqueFields, takenQuery } from './sqlite-indexes.js';
import { decodeDocument, encodeDocument } from './sqlite-json.js';
import { compileAfter, compileFilter, compileOrderBy, groupValueOf, typeOf } from './sqlite-query-compiler.js';
import { type StatementInput, type StatementText, statementCacheOf } from './sqlite-statement-cache.js';

export interface SqliteRepositoryContext {
  readonly connection: SqliteConnection;
  /** Creates the table and indexes once per backend. */
  ensureCollection(name: string, indexes: readonly IndexSpec[]): void;
  /**
   * Runs one operation: outside a transaction in its own turn on the
   * connection (after the transactions and operations queued before it),
   * inside one at once, while the transaction is open.
   */
  run<R>(work: () => R | Promise<R>): Promise<R>;
  readonly maxDocumentBytes: number;
}

interface Row {
  readonly id: string;
  readonly doc: string;
  readonly version: number;
  readonly created_at: number;
  readonly updated_at: number;
}

/** The metadata a write left in a row, known without reading it back. */
type RowMeta = Pick<Row, 'version' | 'created_at' | 'updated_at'>;

/** The entry of a document and its row's metadata. */
function entryOf<T>(document: T, row: RowMeta): Entry<T> {
  return {
    document,
    meta: { version: row.version, createdAt: new Date(row.created_at), updatedAt: new Date(row.updated_at) },
  };
}

/** The columns of an entry, as `selectQuery` reads them for `findEntries`. */
const ENTRY_COLUMNS = sql`id, doc, version, created_at, updated_at`;

const AUTO_ATTEMPTS = 20;

/** The statements every single-document operation runs, as text built once per repository (the hot paths). */
interface TableStatements {
  readonly row: string;
  readonly doc: string;
  readonly insert: string;
  readonly update: string;
  readonly delete: string;
  /** Inserts a row with the metadata given (importEntries). */
  readonly importRow: string;
}

function tableStatements(name: string): TableStatements {
  // Collection names are validated identifiers, so quoting them is enough.
  const table = `"${name}"`;
  return {
    row: `SELECT id, doc, version, created_at, updated_at FROM ${table} WHERE id = ?`,
    doc: `SELECT doc FROM ${table} WHERE id = ?`,
    insert: `INSERT INTO ${table} (id, doc, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?)`,
    update: `UPDATE ${table} SET doc = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ?`,
    delete: `DELETE FROM ${table} WHERE id = ?`,
    importRow: `INSERT INTO ${table} (id, doc, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
  };
}

/** Whether a validated document value holds a Date anywhere (most do not, and then plain JSON is the encoding). */
function containsDate(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (value instanceof Date) return true;
  if (Array.isArray(value)) {
    for (const element of value) if (containsDate(element)) return true;
    return false;
  }
  for (const key in value) if (containsDate((value as Record<string, unknown>)[key])) return true;
  return false;
}

/** The SQL name of a collection table (collection names are validated identifiers). */
function table(name: string): RawBuilder<unknown> {
  return sql.id(name);
}

/** Whether a filter holds for every document (none was given). */
function isMatchAll(filter: FilterNode): boolean {
  return filter.kind === 'and' && filter.nodes.length === 0;
}

/** ` WHERE a AND b`, or nothing for no conditions. */
function whereClause(conditions: readonly RawBuilder<unknown>[]): RawBuilder<unknown> {
  return conditions.length === 0 ? sql`` : sql` WHERE ${sql.join(conditions, sql` AND `)}`;
}

/** Whether the sort's first key is the id, which the primary key holds in order. */
const sortsById = (sort: readonly SortSpec[]): boolean => sort[0]?.path.length === 1 && sort[0].path[0] === 'id';

/**
 * A repository on one SQLite table: `id` primary key, the document as JSON
 * text in `doc`, and the metadata in columns. Filters, sorts and cursors
 * compile to SQL; nothing is filtered in JavaScript.
 *
 * ### Examples
 * ```ts
 * import { SqliteBackend } from '@berth/adapter-sqlite';
 *
 * // A SqliteRepository comes from the backend, never from its constructor.
 * await using backend = new SqliteBackend({ filename: './data/app.db' });
 * const players = backend.repository<{ id: string; name: string; score: number }>('players', {
 *   indexes: [{ field: 'score', type: 'number' }],
 * });
 * const top = await players.find({ orderBy: { field: 'score', direction: 'desc' }, limit: 10 });
 * ```
 */
export class SqliteRepository<T extends Document> implements Repository<T> {
  private readonly indexes: IndexSpec[];
  private readonly schema: StandardSchemaV1<unknown, T> | undefined;
  private readonly statements: TableStatements;
  private prepared = false;

  constructor(
    readonly name: string,
    options: RepositoryOptions<T> | undefined,
    private readonly context: SqliteRepositoryContext,
  ) {
    if (name.toLowerCase().startsWith('sqlite_')) {
      throw new ValidationError(`collection name ${JSON.stringify(name)} is reserved by SQLite`, '', {
        collection: name,
      });
    }
    this.indexes = normalizeIndexes(name, options as RepositoryOptions<never> | undefined, true);
    this.schema = options?.schema;
    this.statements = tableStatements(name);
  }

  private get connection(): SqliteConnection {
    return this.context.connection;
  }

  /** Every operation runs here, in its turn on the connection, with the table present. */
  private operation<R>(options: SignalOptions | undefined, operation: string, work: () => R | Promise<R>): Promise<R> {
    const what = `${this.name}.${operation}`;
    startOperation(options, what);
    const signal = options?.signal;
    return this.context.run(() => {
      throwIfAborted(signal, what);
      if (!this.prepared) {
        this.context.ensureCollection(this.name, this.indexes);
        this.prepared = true;
      }
      return work();
    });
  }

  /**
   * Turns a unique violation into ALREADY_EXISTS naming the same field on
   * every adapter, whatever constraint SQLite happened to check first: the
   * id when it is taken (an insert), else the first unique field, in
   * declaration order, whose value another document holds.
   */
  private alreadyExists(error: unknown, document: T, text: string, isInsert: boolean): never {
    const mapped = toBerthError(error, { collection: this.name, id: document.id });
    if (!isBerthError(mapped, 'ALREADY_EXISTS')) throw mapped;
    const cause = mapped.cause ?? error;
    if (isInsert && this.row(document.id) !== undefined) {
      throw new AlreadyExistsError(`${this.name} already has a document ${JSON.stringify(document.id)}`, 'id', {
        collection: this.name,
        id: document.id,
        cause,
      });
    }
    const spec = this.uniqueIndexes().find(
      (candidate) => this.connection.get(takenQuery(this.name, candidate), [text, document.id]) !== undefined,
    );
    throw new AlreadyExistsError(
      `${this.name}: another document already has this ${spec?.field ?? 'unique value'} (writing ${JSON.stringify(document.id)})`,
      spec?.field ?? mapped.field,
      { collection: this.name, id: document.id, cause },
    );
  }

  /** Unique indexes in declaration order, then those that earlier backends declared and this repository does not. */
  private uniqueIndexes(): IndexSpec[] {
    const declared = this.indexes.filter((spec) => spec.unique);
    const stored = storedUniqueFields(this.connection, this.name)
      .filter((field) => !declared.some((spec) => spec.field === field))
      .map((field) => ({ field, type: 'string' as const, unique: true }));
    return [...declared, ...normalizeIndexes(this.name, { indexes: stored }, true)];
  }

  /**
   * The `doc` text of a validated document. Without Dates the Date encoding
   * is plain JSON, so the copying encoder is skipped (validation already
   * dropped `undefined` and turned -0 into 0).
   */
  private encode(document: unknown): string {
    // Its size was checked by validation, against `maxDocumentBytes`.
    return containsDate(document) ? encodeDocument(document) : JSON.stringify(document);
  }

  private validated(document: unknown): Promise<T> {
    return validateDocument(document, this.name, this.schema, this.context.maxDocumentBytes);
  }

  private row(id: string): Row | undefined {
    return this.connection.get<Row>(this.statements.row, [id]);
  }

  private checkVersion(row: Row | undefined, id: string, options: WriteOptions | undefined): void {
    checkExpectedVersion(this.name, id, row?.version, options);
  }

  private insertRow(document: T, now: number): RowMeta {
    const text = this.encode(document);
    try {
      this.connection.run(this.statements.insert, [document.id, text, now, now]);
    } catch (error) {
      this.alreadyExists(error, document, text, true);
    }
    return { version: 1, created_at: now, updated_at: now };
  }

  private updateRow(document: T, previous: Row, now: number): RowMeta {
    const text = this.encode(document);
    let changes: number;
    try {
      changes = this.connection.run(this.statements.update, [text, now, document.id, previous.version]).changes;
    } catch (error) {
      this.alreadyExists(error, document, text, false);
    }
    if (changes !== 1) {
      throw new ConflictError(`${this.name} document ${JSON.stringify(document.id)} changed concurrently; try again`, {
        collection: this.name,
        id: document.id,
      });
    }
    return { version: previous.version + 1, created_at: previous.created_at, updated_at: now };
  }

  /**
   * Read, compute and write in one IMMEDIATE transaction when nothing needs
   * to await; with a schema validator (which may be async) the write is
   * conditional on the version read, retried if another writer got between.
   */
  private async readModifyWrite<R>(
    id: string,
    compute: (row: Row | undefined) => { next: T | undefined; result: R },
    written?: (meta: RowMeta) => void,
  ): Promise<R> {
    if (this.schema === undefined) {
      return this.connection.immediate(() => {
        const row = this.row(id);
        const { next, result } = compute(row);
        if (next !== undefined) {
          // Written first: an optional call would skip evaluating its argument.
          const meta = row === undefined ? this.insertRow(next, Date.now()) : this.updateRow(next, row, Date.now());
          written?.(meta);
        }
        return result;
      });
    }
    for (let attempt = 1; ; attempt++) {
      const row = this.row(id);
      const { next, result } = compute(row);
      const checked = next === undefined ? undefined : await this.validated(next);
      const outcome = (checked !== undefined && result === next ? checked : result) as R;
      try {
        this.connection.immediate(() => {
          const current = this.row(id);
          if (current?.version !== row?.version) {
            throw new ConflictError(`${this.name} document ${JSON.stringify(id)} changed concurrently`, {
              collection: this.name,
              id,
            });
          }
          if (checked !== undefined) {
            const meta =
              row === undefined ? this.insertRow(checked, Date.now()) : this.updateRow(checked, row, Date.now());
            written?.(meta);
          }
        });
        return outcome;
      } catch (error) {
        if (!isBerthError(error, 'CONFLICT') || this.connection.inTransaction() || attempt >= AUTO_ATTEMPTS)
          throw error;
      }
    }
  }

  private selectQuery(
    prepared: PreparedQuery,
    limit: number | undefined,
    columns: RawBuilder<unknown> = sql`id, doc`,
  ): RawBuilder<unknown> {
    const conditions = isMatchAll(prepared.filter) ? [] : [compileFilter(prepared.filter)];
    if (prepared.after !== undefined) conditions.push(compileAfter(prepared.sort, prepared.after));
    // The limit is written into the SQL, not bound: SQLite (3.51, as
    // better-sqlite3 bundles it) reads a bound LIMIT while planning and so
    // prepares the statement again after every bind, which costs more than
    // the query for these long sort expressions. A limit is a validated safe
    // integer; the offset stays bound (SQLite does not read it to plan).
    const limitClause = limit === undefined ? sql`LIMIT -1` : sql`LIMIT ${sql.lit(limit)}`;
    return sql`SELECT ${columns} FROM ${table(this.name)}${whereClause(conditions)} ORDER BY ${compileOrderBy(prepared.sort, prepared.filter)} ${limitClause} OFFSET ${prepared.offset}`;
  }

  private readonly compileSelect = (input: StatementInput) =>
    this.selectQuery(input.prepared, input.limit).compile(queryBuilder);

  private readonly compileEntrySelect = (input: StatementInput) =>
    this.selectQuery(input.prepared, input.limit, ENTRY_COLUMNS).compile(queryBuilder);

  /**
   * The select of `find`, `findPage` and, with the metadata columns, of the
   * entry reads, compiled once per query shape (see sqlite-statement-cache.ts).
   */
  private selectStatement(prepared: PreparedQuery, limit: number | undefined, entries = false): StatementText {
    // The entry select is keyed apart: a NUL cannot occur in a collection name.
    return entries
      ? statementCacheOf(this.connection).statement(
          `${this.name}\u0000entries`,
          { prepared, limit },
          this.compileEntrySelect,
        )
      : statementCacheOf(this.connection).statement(this.name, { prepared, limit }, this.compileSelect);
  }

  async get(id: string, options?: SignalOptions): Promise<T | null> {
    checkIdArgument(id, this.name);
    return this.operation(options, 'get', () => {
      if (typeof id !== 'string') return null;
      const row = this.connection.get<{ doc: string }>(this.statements.doc, [id]);
      return row === undefined ? null : decodeDocument<T>(row.doc);
    });
  }

  async getEntry(id: string, options?: SignalOptions): Promise<Entry<T> | null> {
    checkIdArgument(id, this.name);
    return this.operation(options, 'getEntry', () => {
      const row = typeof id === 'string' ? this.row(id) : undefined;
      return row === undefined ? null : entryOf(decodeDocument<T>(row.doc), row);
    });
  }

  async getMany(ids: readonly string[], options?: SignalOptions): Promise<(T | null)[]> {
    checkIdsArgument(ids, this.name);
    return this.operation(options, 'getMany', () => {
      const found = new Map<string, T>();
      const wanted = [...new Set(ids.filter((id) => typeof id === 'string'))];
      for (let start = 0; start < wanted.length; start += 500) {
        const chunk = wanted.slice(start, start + 500);
        const rows = this.connection.all<{ id: string; doc: string }>(
          sql`SELECT id, doc FROM ${table(this.name)} WHERE id IN (${sql.join(chunk)})`.compile(queryBuilder),
        );
        for (const row of rows) found.set(row.id, decodeDocument<T>(row.doc));
      }
      // Each position gets its own copy, even when an id is asked twice.
      return ids.map((id) => {
        const document = found.get(id);
        return document === undefined ? null : (decodeDocument<T>(encodeDocument(document)) as T);
      });
    });
  }

  async find(query?: Query, options?: SignalOptions): Promise<T[]> {
    const prepared = prepareQuery(query);
    return this.operation(options, 'find', () => {
      const select = this.selectStatement(prepared, prepared.limit);
      return this.connection
        .all<{ doc: string }>(select.sql, select.parameters)
        .map((row) => decodeDocument<T>(row.doc));
    });
  }

  async findPage(query?: Query, options?: SignalOptions): Promise<Page<T>> {
    const prepared = prepareQuery(query);
    // A cursor after a sort by $createdAt or $updatedAt holds the last row's metadata.
    const columns = prepared.sort.some((key) => isMetadataPath(key.path)) ? ENTRY_COLUMNS : undefined;
    return this.operation(options, 'findPage', () => {
      const limit = prepared.limit === undefined ? undefined : prepared.limit + 1;
      const select = this.selectStatement(prepared, limit, columns !== undefined);
      const rows = this.connection.all<Row>(select.sql, select.parameters);
      const items = rows.slice(0, prepared.limit ?? rows.length).map((row) => decodeDocument<T>(row.doc));
      const last = items.at(-1);
      const more = prepared.limit !== undefined && rows.length > prepared.limit;
      const lastRow = prepared.limit === undefined ? undefined : rows[prepared.limit - 1];
      const meta = columns === undefined || lastRow === undefined ? undefined : entryOf(null, lastRow).meta;
      return { items, nextCursor: more && last !== undefined ? cursorAfter(prepared, last, meta) : null };
    });
  }

  async findEntries(query?: Query, options?: SignalOptions): Promise<Entry<T>[]> {
    const prepared = prepareQuery(query);
    return this.operation(options, 'findEntries', () => {
      const select = this.selectStatement(prepared, prepared.limit, true);
      return this.connection
        .all<Row>(select.sql, select.parameters)
        .map((row) => entryOf(decodeDocument<T>(row.doc), row));
    });
  }

  async findEntriesPage(query?: Query, options?: SignalOptions): Promise<Page<Entry<T>>> {
    const prepared = prepareQuery(query);
    return this.operation(options, 'findEntriesPage', () => {
      const limit = prepared.limit === undefined ? undefined : prepared.limit + 1;
      const select = this.selectStatement(prepared, limit, true);
      const rows = this.connection.all<Row>(select.sql, select.parameters);
      const items = rows.slice(0, prepared.limit ?? rows.length).map((row) => entryOf(decodeDocument<T>(row.doc), row));
      const last = items.at(-1);
      const more = prepared.limit !== undefined && rows.length > prepared.limit;
      return {
        items,
        nextCursor: more && last !== undefined ? cursorAfter(prepared, last.document, last.meta) : null,
      };
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
    const parsed = parseFilter(where);
    // No WHERE at all without a filter: SQLite counts from its smallest index then (`WHERE 1` reads every row).
    const filter = whereClause(isMatchAll(parsed) ? [] : [compileFilter(parsed)]);
    return this.operation(options, 'count', () => {
      const row = this.connection.get<{ n: number }>(
        sql`SELECT count(*) AS n FROM ${table(this.name)}${filter}`.compile(queryBuilder),
      );
      return row?.n ?? 0;
    });
  }

  async countBy(field: string, where?: Query['where'], options?: SignalOptions): Promise<CountByGroup[]> {
    const path = parseFieldPath(field);
    const filter = compileFilter(parseFilter(where));
    return this.operation(options, 'countBy', () => {
      const rows = this.connection.all<{ type: string | null; value: unknown; n: number }>(
        sql`SELECT ${typeOf(path)} AS type, ${groupValueOf(path)} AS value, count(*) AS n FROM ${table(this.name)} WHERE ${filter} GROUP BY 1, 2`.compile(
          queryBuilder,
        ),
      );
      return countGroups(rows, (row): DocumentScalar | undefined => {
        switch (row.type) {
          case null:
          case 'null':
            return null;
          case 'true':
          case 'false':
            return row.type === 'true';
          case 'integer':
          case 'real':
            return Number(row.value);
          case 'text':
            return String(row.value);
          case 'object': {
            const decoded = decodeDocument<unknown>(String(row.value));
            return decoded instanceof Date ? decoded : undefined;
          }
          default:
            return undefined; // arrays are in no group
        }
      });
    });
  }

  async exists(where?: Query['where'], options?: SignalOptions): Promise<boolean> {
    const filter = compileFilter(parseFilter(where));
    return this.operation(
      options,
      'exists',
      () =>
        this.connection.get(sql`SELECT 1 FROM ${table(this.name)} WHERE ${filter} LIMIT 1`.compile(queryBuilder)) !==
        undefined,
    );
  }

  iterate(query?: Query, options?: IterateOptions): AsyncIterableIterator<T> {
    return iterateByPages((page) => this.findPage(page, options), query, options);
  }

  async explain(query?: Query, options?: SignalOptions): Promise<QueryPlan> {
    const prepared = prepareQuery(query);
    return this.operation(options, 'explain', () => {
      const compiled = this.selectQuery(prepared, prepared.limit).compile(queryBuilder);
      const plan = this.connection.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${compiled.sql}`, compiled.parameters);
      const detail = plan.map((row) => row.detail).join('; ');
      // A walk of a declared index in sort order that a limit stops early
      // (top-N) counts as served by the index, unless the rows are sorted
      // again as a whole afterwards. The primary key's walk counts for an
      // explicit id order; unsorted reads walk it too and stay reported as scans.
      const walked = sortsById(prepared.sort)
        ? /^SCAN \S+ USING (COVERING )?INDEX /
        : /^SCAN \S+ USING (COVERING )?INDEX (?!sqlite_autoindex_)/;
      const ordered =
        prepared.limit !== undefined &&
        !plan.some((row) => /TEMP B-TREE FOR ORDER BY/.test(row.detail)) &&
        plan.find((row) => walked.test(row.detail));
      const search =
        plan.find((row) => /^SEARCH\b/.test(row.detail) && /USING (COVERING )?INDEX|PRIMARY KEY/.test(row.detail)) ??
        (ordered === false ? undefined : ordered);
      // Index names end with the table's name and either `.field` or `(fields)`, then maybe ` unique`.
      const index = search?.detail.match(/USING (?:COVERING )?INDEX (.+?)(?: \(|$)/)?.[1];
      if (search === undefined) return { strategy: 'scan', detail };
      // The id column's key is SQLite's automatic index of the primary key.
      return {
        strategy: 'index',
        index: index === undefined || index.startsWith('sqlite_autoindex_') ? 'primary key' : index,
        detail,
      };
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
    return this.operation(options, 'insert', () => {
      const meta = this.insertRow(validated, Date.now());
      return entry ? entryOf(validated, meta) : validated;
    });
  }

  replace(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  replace(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  async replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'replace');
    const validated = await this.validated(document);
    return this.operation(options, 'replace', () =>
      this.connection.immediate(() => {
        const row = this.row(validated.id);
        this.checkVersion(row, validated.id, options);
        if (row === undefined) {
          throw new NotFoundError(`${this.name} has no document ${JSON.stringify(validated.id)} to replace`, {
            collection: this.name,
            id: validated.id,
          });
        }
        const meta = this.updateRow(validated, row, Date.now());
        return entry ? entryOf(validated, meta) : validated;
      }),
    );
  }

  upsert(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  upsert(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  async upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    const entry = wantsEntry(options, 'upsert');
    const validated = await this.validated(document);
    return this.operation(options, 'upsert', () =>
      this.connection.immediate(() => {
        const row = this.row(validated.id);
        this.checkVersion(row, validated.id, options);
        const meta =
          row === undefined ? this.insertRow(validated, Date.now()) : this.updateRow(validated, row, Date.now());
        return entry ? entryOf(validated, meta) : validated;
      }),
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
  async update(id: string, update: Update<T>, options?: UpdateOptions<T>): Promise<T | Entry<T> | null> {
    checkIdArgument(id, this.name);
    const entry = wantsEntry(options, 'update');
    const prepared = prepareUpdate(this.name, id, update, options, this.context.maxDocumentBytes);
    let meta: RowMeta | undefined;
    const written = entry ? (row: RowMeta) => (meta = row) : undefined;
    // The read, the `where` check and the write are one IMMEDIATE transaction (or, with a
    // schema, a write conditional on the version read): no other writer, in this process
    // or another, can get between them.
    const result = await this.operation(options, 'update', () =>
      this.readModifyWrite<T | null>(
        id,
        (row) => {
          const plan = planUpdate(
            this.name,
            id,
            prepared,
            row === undefined ? undefined : decodeDocument<T>(row.doc),
            row?.version,
            options,
          );
          if (plan.kind === 'unmatched') return { next: undefined, result: null };
          const next = copyDocument<T>(plan.document, this.name, this.context.maxDocumentBytes);
          return { next, result: next };
        },
        written,
      ),
    );
    return entry && meta !== undefined && result !== null ? entryOf(result, meta) : result;
  }

  async delete(id: string, options?: WriteOptions): Promise<boolean> {
    checkIdArgument(id, this.name);
    return this.operation(options, 'delete', () => {
      if (options?.expectedVersion === undefined) {
        return this.connection.run(this.statements.delete, [id]).changes > 0;
      }
      return this.connection.immediate(() => {
        this.checkVersion(this.row(id), id, options);
        return this.connection.run(this.statements.delete, [id]).changes > 0;
      });
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
    return this.operation(options, 'insertMany', () => {
      const now = Date.now();
      this.connection.immediate(() => {
        for (const document of validated) this.insertRow(document, now);
      });
      return validated;
    });
  }

  async upsertMany(documents: readonly T[], options?: SignalOptions): Promise<T[]> {
    if (!Array.isArray(documents))
      throw new ValidationError('upsertMany takes an array', '', { collection: this.name });
    const validated = await this.validatedAll(documents);
    return this.operation(options, 'upsertMany', () => {
      const now = Date.now();
      this.connection.immediate(() => {
        for (const document of validated) {
          const row = this.row(document.id);
          if (row === undefined) this.insertRow(document, now);
          else this.updateRow(document, row, now);
        }
      });
      return validated;
    });
  }

  async updateMany(where: Query['where'], update: Update<T>, options?: SignalOptions): Promise<number> {
    const filter = compileFilter(parseFilter(where));
    parseUpdate(update);
    return this.operation(options, 'updateMany', async () => {
      const select = sql`SELECT * FROM ${table(this.name)} WHERE ${filter}`.compile(queryBuilder);
      const computeAll = (rows: Row[]): { row: Row; next: T }[] =>
        rows.map((row) => ({
          row,
          next: copyDocument<T>(
            applyUpdate(decodeDocument<T>(row.doc), parseUpdate(update, row.id) as UpdateStep[]),
            this.name,
            this.context.maxDocumentBytes,
          ),
        }));
      if (this.schema === undefined) {
        return this.connection.immediate(() => {
          const changes = computeAll(this.connection.all<Row>(select));
          const now = Date.now();
          for (const { row, next } of changes) this.updateRow(next, row, now);
          return changes.length;
        });
      }
      for (let attempt = 1; ; attempt++) {
        const changes = computeAll(this.connection.all<Row>(select));
        const checked = await Promise.all(
          changes.map(async ({ row, next }) => ({ row, next: await this.validated(next) })),
        );
        try {
          return this.connection.immediate(() => {
            const now = Date.now();
            for (const { row, next } of checked) this.updateRow(next, row, now);
            return checked.length;
          });
        } catch (error) {
          if (!isBerthError(error, 'CONFLICT') || this.connection.inTransaction() || attempt >= AUTO_ATTEMPTS)
            throw error;
        }
      }
    });
  }

  async deleteMany(where: Query['where'], options?: SignalOptions): Promise<number> {
    const filter = compileFilter(parseFilter(where));
    return this.operation(
      options,
      'deleteMany',
      () => this.connection.run(sql`DELETE FROM ${table(this.name)} WHERE ${filter}`.compile(queryBuilder)).changes,
    );
  }

  /**
   * Deletes the rows of every imported id, then inserts each entry with its
   * metadata, in one IMMEDIATE transaction (a savepoint inside
   * `transaction()`). Deleting first means only the final state has to hold
   * the unique indexes: entries that swap unique values between ids import.
   */
  async importEntries(entries: readonly Entry<T>[], options?: SignalOptions): Promise<number> {
    startOperation(options, `${this.name}.importEntries`);
    const prepared = await prepareImportEntries(entries, this.name, this.schema, this.context.maxDocumentBytes);
    // Nothing to write: the table is not created for it (collections() would list it).
    if (prepared.length === 0) return 0;
    const rows = prepared.map(({ document, meta }) => ({ document, meta, text: this.encode(document) }));
    return this.operation(options, 'importEntries', () =>
      this.connection.immediate(() => {
        for (const { document } of rows) this.connection.run(this.statements.delete, [document.id]);
        for (const { document, meta, text } of rows) {
          try {
            this.connection.run(this.statements.importRow, [
              document.id,
              text,
              meta.version,
              meta.createdAt.getTime(),
              meta.updatedAt.getTime(),
            ]);
          } catch (error) {
            this.alreadyExists(error, document, text, false);
          }
        }
        return rows.length;
      }),
    );
  }

  private validatedAll(documents: readonly unknown[]): Promise<T[]> {
    return validateDocuments(documents, this.name, this.schema, this.context.maxDocumentBytes);
  }
}
