import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  AlreadyExistsError,
  type AnyDocument,
  type Backend,
  type BerthLogger,
  type Capabilities,
  type CollectionInfo,
  ConnectionError,
  type Document,
  type DocumentValue,
  type HealthStatus,
  type IndexDefinition,
  isBerthError,
  type JobQueue,
  type MigrationReport,
  type QueueOptions,
  type Repository,
  type RepositoryOptions,
  type SignalOptions,
  type TransactionalQueue,
  TransactionError,
  type TransactionOptions,
  type TransactionScope,
  ValidationError,
} from '@berth/core';
import {
  checkCollectionName,
  checkMaxBytes,
  checkMigrateOption,
  type IndexSpec,
  indexDefinitionOf,
  isPlainObject,
  migrateUrlParameter,
  normalizeRetention,
  runTransaction,
  startOperation,
  throwIfAborted,
} from '@berth/core/adapter';
import Database from 'better-sqlite3';
import { SqliteConnection, type SqliteDatabase } from './sqlite-connection.js';
import { toBerthError } from './sqlite-errors.js';
import { indexDefinition, indexName } from './sqlite-indexes.js';
import { SqliteJobQueue } from './sqlite-job-queue.js';
import { registerJsonFunctions } from './sqlite-json.js';
import { applyMigrations, checkSchema } from './sqlite-migrations.js';
import { keepDatabase, pragma } from './sqlite-node24-workaround.js';
import { SqliteQueueHub } from './sqlite-queue-hub.js';
import { SqliteRepository, type SqliteRepositoryContext } from './sqlite-repository.js';

/**
 * Options of {@link SqliteBackend}.
 *
 * ### Examples
 * ```ts
 * import { SqliteBackend, type SqliteBackendConfig } from '@berth/adapter-sqlite';
 *
 * // Several processes on one file: wait longer for another one's write lock.
 * const config: SqliteBackendConfig = { filename: './data/app.db', busyTimeoutMs: 30_000 };
 * await using backend = new SqliteBackend(config);
 * ```
 */
export interface SqliteBackendConfig {
  /** The database file (created with its folder when missing), or `:memory:`. */
  readonly filename?: string | undefined;
  /** An already-open better-sqlite3 Database to use instead (Berth will not close it). */
  readonly database?: SqliteDatabase | undefined;
  /** How long a statement waits for another connection's write lock (default 5 000 ms). */
  readonly busyTimeoutMs?: number | undefined;
  /** Largest document, job payload or job result, as bytes of JSON (default and at most 16 MiB). */
  readonly maxDocumentBytes?: number | undefined;
  /** Hears about queue event listeners that throw and worker errors without an `onError` (default `console`). */
  readonly logger?: BerthLogger | undefined;
  /**
   * Whether opening the file applies Berth's pending schema migrations
   * (default `true`). With `false` the backend only checks: `connect()` (and
   * the first operation) fail with `SCHEMA` while migrations are pending,
   * until `backend.migrate()` or `berth migrate <url>` applies them.
   */
  readonly migrate?: boolean | undefined;
}

/** What SQLite supports; the size limits come from the config. */
const SQLITE_CAPABILITIES: Capabilities = {
  repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: true },
  // Notifications are in-process: enqueue, release and retry through this
  // backend wake its idle workers at once (and a timer wakes them when a job
  // it scheduled falls due). SQLite cannot signal other processes, so their
  // workers find new jobs by polling (`pollIntervalMs`). Job events are
  // global: each write transaction adds its events to `_berth_job_events`,
  // which a backend with subscribers polls (sqlite-queue-event-feed.ts).
  queue: { level: 'single-node', transactionalEnqueue: true, durable: true, notifications: true, events: 'global' },
};

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Switches the file to WAL. SQLite answers this pragma with SQLITE_BUSY at
 * once, without waiting out the busy timeout, while another connection holds
 * the write lock of a file still in rollback mode: what happens when several
 * processes open one new file together. So the switch is tried again after
 * short sleeps up to the busy timeout. The sleep is synchronous, as SQLite's
 * own busy handler is: opening is synchronous.
 */
function useWal(db: SqliteDatabase, busyTimeoutMs: number): void {
  const deadline = performance.now() + busyTimeoutMs;
  for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
    try {
      pragma(db, 'journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'SQLITE_BUSY' || performance.now() >= deadline) throw error;
    }
    Atomics.wait(sleeper, 0, 0, wait);
  }
}

/**
 * The bytes of the pages holding a collection's table and its indexes,
 * from SQLite's dbstat table (compiled into better-sqlite3's SQLite): it
 * reads each page's header, never a row. `undefined` where dbstat is missing.
 */
function approximateBytes(connection: SqliteConnection, table: string): number | undefined {
  try {
    let bytes = 0;
    for (const { name } of connection.all<{ name: string }>('SELECT name FROM sqlite_schema WHERE tbl_name = ?', [
      table,
    ])) {
      bytes +=
        connection.get<{ size: number | null }>(
          'SELECT sum(pgsize) AS size FROM dbstat WHERE name = ? AND aggregate = TRUE',
          [name],
        )?.size ?? 0;
    }
    return bytes;
  } catch {
    return undefined;
  }
}

/**
 * Repositories and job queues in one SQLite file through better-sqlite3.
 * One table per collection; filters, sorts and cursors compile to SQL over
 * the JSON; jobs live in one table; WAL mode so readers never block the
 * writer.
 *
 * ### Examples
 * ```ts
 * import { SqliteBackend } from '@berth/adapter-sqlite';
 *
 * await using backend = new SqliteBackend({ filename: './data/app.db' });
 * const players = backend.repository<{ id: string; name: string }>('players', {
 *   indexes: [{ field: 'name', type: 'string', unique: true }],
 * });
 * await players.insert({ name: 'Ada' });
 * ```
 */
export class SqliteBackend implements Backend {
  readonly kind: string = 'sqlite';
  readonly capabilities: Capabilities;
  private readonly config: SqliteBackendConfig;
  private readonly maxDocumentBytes: number;
  /** Whether opening applies pending migrations (`migrate` option), or only checks there are none. */
  private readonly migrates: boolean;
  private connection: SqliteConnection | undefined;
  private closed = false;
  private readonly prepared = new Map<string, Set<string>>();
  private readonly hub: SqliteQueueHub;

  constructor(config: SqliteBackendConfig = {}) {
    this.config = config;
    this.hub = new SqliteQueueHub(() => this.open(), config.logger);
    if (config.filename === undefined && config.database === undefined) {
      throw new ValidationError('SqliteBackend needs a filename (or an open database)', 'filename');
    }
    // The configured limit is declared, and core enforces what is declared.
    this.maxDocumentBytes = checkMaxBytes(config.maxDocumentBytes);
    this.migrates = checkMigrateOption(config.migrate);
    this.capabilities = {
      repository: { ...SQLITE_CAPABILITIES.repository, maxDocumentBytes: this.maxDocumentBytes },
      queue: { ...SQLITE_CAPABILITIES.queue, maxPayloadBytes: this.maxDocumentBytes },
    };
  }

  /** The better-sqlite3 Database, for what the ports do not cover. */
  native(): SqliteDatabase {
    return this.open().db;
  }

  private open(): SqliteConnection {
    if (this.closed) throw new ConnectionError('this SQLite backend is closed', { retryable: false });
    if (this.connection !== undefined) return this.connection;
    const connection = this.openFile();
    try {
      // The default migrates; `migrate: false` only checks, and leaves migrating to migrate().
      if (!this.migrates) checkSchema(connection, this.location);
      else applyMigrations(connection, undefined, { location: this.location });
    } catch (error) {
      if (this.config.database === undefined) connection.close();
      throw this.named(toBerthError(error));
    }
    this.connection = connection;
    return connection;
  }

  /** Opens the database (or takes the one given) and sets it up, without looking at its schema. */
  private openFile(): SqliteConnection {
    if (this.closed) throw new ConnectionError('this SQLite backend is closed', { retryable: false });
    const filename = this.config.filename;
    const busyTimeoutMs = Math.max(0, Math.floor(this.config.busyTimeoutMs ?? 5_000));
    let db: SqliteDatabase | undefined;
    try {
      if (this.config.database !== undefined) db = this.config.database;
      else {
        if (filename !== ':memory:' && filename !== undefined)
          mkdirSync(dirname(resolve(filename)), { recursive: true });
        db = new Database(filename as string, { timeout: this.config.busyTimeoutMs ?? 5_000 });
        keepDatabase(db);
      }
      // WAL: readers do not block the writer; NORMAL sync is durable across
      // process crashes (only an OS crash can lose the last commits).
      useWal(db, busyTimeoutMs);
      pragma(db, 'synchronous = NORMAL');
      pragma(db, 'foreign_keys = ON');
      pragma(db, `busy_timeout = ${busyTimeoutMs}`);
      registerJsonFunctions(db);
    } catch (error) {
      // A file that is not a database fails here: release its handle.
      if (db !== undefined && this.config.database === undefined && db.open) db.close();
      throw this.named(toBerthError(error));
    }
    return new SqliteConnection(db, busyTimeoutMs);
  }

  /**
   * Applies the pending migrations under the migration lock (an IMMEDIATE
   * transaction: another process migrating at once waits, then finds
   * nothing left) and names them; `SCHEMA` when a newer release migrated
   * the file. Works before `connect()`, and lets a `migrate: false` backend connect.
   */
  async migrate(options?: SignalOptions): Promise<MigrationReport> {
    startOperation(options, 'migrate');
    const connection = this.connection;
    try {
      if (connection !== undefined) {
        return {
          applied: await connection.exclusive(() =>
            applyMigrations(connection, undefined, { location: this.location }),
          ),
        };
      }
      // Not open yet: open, migrate and keep the connection in one synchronous step, so no operation gets between.
      const opened = this.openFile();
      let applied: string[];
      try {
        applied = applyMigrations(opened, undefined, { location: this.location });
      } catch (error) {
        if (this.config.database === undefined) opened.close();
        throw error;
      }
      this.connection = opened;
      return { applied };
    } catch (error) {
      throw this.named(toBerthError(error));
    }
  }

  /** The database as SCHEMA errors name it. */
  private get location(): string {
    return `sqlite:${this.config.filename ?? (this.config.database?.name || ':memory:')}`;
  }

  /** Puts the database file's name into connection errors. */
  private named(error: unknown): unknown {
    if (!isBerthError(error, 'CONNECTION') || this.config.filename === undefined) return error;
    return new ConnectionError(`${this.config.filename}: ${error.message}`, {
      cause: error.cause,
      retryable: error.retryable,
    });
  }

  async connect(options?: SignalOptions): Promise<void> {
    startOperation(options, 'connect');
    this.open();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Lease operations still queued (a completion in this very turn) are written first.
    await this.hub.drain().catch(() => undefined);
    const connection = this.connection;
    if (connection !== undefined) await connection.idle().catch(() => undefined);
    this.closed = true;
    this.hub.close();
    if (connection !== undefined && this.config.database === undefined) connection.close();
    this.connection = undefined;
  }

  /**
   * Commits are durable when they resolve, so only lease operations a worker
   * queued in this turn (completions batched into one write) are written;
   * resolves at once when there are none or the backend is closed.
   */
  async flush(options?: SignalOptions): Promise<void> {
    startOperation(options, 'flush');
    if (this.closed) return;
    await this.hub.drain();
  }

  async health(options?: SignalOptions): Promise<HealthStatus> {
    startOperation(options, 'health');
    if (this.closed) return { ok: false, latencyMs: 0, message: 'backend is closed' };
    const started = performance.now();
    try {
      // A write, not only a read: a full disk or a read-only file fails
      // writes while reads go on, and health must say so.
      const connection = this.open();
      // Inside a transaction the probe would join it; that transaction holds the write lock anyway.
      if (!connection.inTransaction()) await connection.exclusive(() => connection.probeWrite());
      if (connection.writeFailure !== undefined) {
        const message = String((connection.writeFailure as { message?: unknown }).message ?? connection.writeFailure);
        return { ok: false, latencyMs: performance.now() - started, message: `the last write failed: ${message}` };
      }
      return { ok: true, latencyMs: performance.now() - started };
    } catch (error) {
      return { ok: false, latencyMs: performance.now() - started, message: (error as Error).message };
    }
  }

  private context(): SqliteRepositoryContext {
    const backend = this;
    return {
      get connection() {
        return backend.open();
      },
      ensureCollection: (name, indexes) => this.ensureCollection(name, indexes),
      run: (work) => this.open().exclusive(work),
      maxDocumentBytes: this.maxDocumentBytes,
    };
  }

  /** Creates the collection's table and declared indexes, once per backend (and idempotently across processes). */
  private ensureCollection(name: string, indexes: readonly IndexSpec[]): void {
    let known = this.prepared.get(name);
    const missing = indexes.filter((spec) => !known?.has(indexName(name, spec)));
    if (known !== undefined && missing.length === 0) return;
    const connection = this.open();
    // Usually the table and its indexes exist (made by an earlier run or
    // another backend): reading is enough, so an operation never waits for
    // another connection's write lock only to find that out.
    const stored = new Map(
      connection
        .all<{ name: string; sql: string | null }>('SELECT name, sql FROM sqlite_schema WHERE tbl_name = ?', [name])
        .map((row) => [row.name, row.sql]),
    );
    const declared = new Map(
      connection
        .all<{ name: string; declaration: string }>(
          'SELECT name, declaration FROM _berth_indexes WHERE collection = ?',
          [name],
        )
        .map((row) => [row.name, row.declaration]),
    );
    const ready =
      stored.has(name) &&
      missing.every(
        (spec) =>
          stored.get(indexName(name, spec)) === indexDefinition(name, spec) &&
          declared.get(indexName(name, spec)) === JSON.stringify(indexDefinitionOf(spec)),
      );
    if (!ready) this.createCollection(connection, name, missing);
    known ??= new Set();
    for (const spec of missing) known.add(indexName(name, spec));
    this.prepared.set(name, known);
  }

  private createCollection(connection: SqliteConnection, name: string, missing: readonly IndexSpec[]): void {
    connection.immediate(() => {
      // SQLite table names ignore case: "users" and "Users" would share a
      // table. Collection names are case-sensitive, so refuse the second one.
      const clash = connection.get<{ name: string }>(
        'SELECT name FROM _berth_collections WHERE name = ? COLLATE NOCASE AND name != ?',
        [name, name],
      );
      if (clash !== undefined) {
        throw new ValidationError(
          `collection ${JSON.stringify(name)} differs from the existing ${JSON.stringify(clash.name)} only in case, which SQLite cannot keep apart`,
          '',
          { collection: name },
        );
      }
      connection.run(`CREATE TABLE IF NOT EXISTS "${name}" (
        id TEXT PRIMARY KEY NOT NULL,
        doc TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      )`);
      connection.run('INSERT OR IGNORE INTO _berth_collections (name, created_at) VALUES (?, ?)', [name, Date.now()]);
      for (const spec of missing) {
        // Recorded as declared (the last declaration of an index wins): collections() lists it so.
        connection.run(
          `INSERT INTO _berth_indexes (name, collection, declaration) VALUES (?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET declaration = excluded.declaration`,
          [indexName(name, spec), name, JSON.stringify(indexDefinitionOf(spec))],
        );
        // An index stored with another definition (by an older Berth) is rebuilt to this one.
        const definition = indexDefinition(name, spec);
        const stored = connection.get<{ sql: string }>(
          "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?",
          [indexName(name, spec)],
        );
        if (stored?.sql === definition) continue;
        if (stored !== undefined) connection.run(`DROP INDEX "${indexName(name, spec)}"`);
        try {
          connection.run(definition);
        } catch (error) {
          const mapped = toBerthError(error, { collection: name });
          if (!isBerthError(mapped, 'ALREADY_EXISTS')) throw mapped;
          // Named as on every adapter: the field whose values the documents already share.
          throw new AlreadyExistsError(
            `cannot declare a unique index on ${name}.${spec.field}: documents already share a value`,
            spec.field,
            { collection: name, cause: error },
          );
        }
      }
    });
  }

  /**
   * The collections in `_berth_collections` whose table exists (any process
   * registers a collection when it creates its table), by name in code-point
   * order (SQLite's BINARY collation compares UTF-8 bytes, which is that
   * order), with the indexes recorded in `_berth_indexes` that still exist
   * and the pages their b-trees occupy (dbstat).
   */
  async collections(options?: SignalOptions): Promise<CollectionInfo[]> {
    startOperation(options, 'collections');
    const connection = this.open();
    const read = (): CollectionInfo[] => {
      throwIfAborted(options?.signal, 'collections');
      const names = connection
        .all<{ name: string }>(
          `SELECT c.name FROM _berth_collections c
            JOIN sqlite_schema s ON s.type = 'table' AND s.name = c.name ORDER BY c.name`,
        )
        .map((row) => row.name);
      const indexes = new Map<string, IndexDefinition[]>();
      for (const row of connection.all<{ collection: string; declaration: string }>(
        `SELECT i.collection, i.declaration FROM _berth_indexes i
          JOIN sqlite_schema s ON s.type = 'index' AND s.name = i.name AND s.tbl_name = i.collection ORDER BY i.rowid`,
      )) {
        const list = indexes.get(row.collection) ?? [];
        list.push(JSON.parse(row.declaration) as IndexDefinition);
        indexes.set(row.collection, list);
      }
      return names.map((name) => ({
        name,
        indexes: indexes.get(name) ?? [],
        approximateBytes: approximateBytes(connection, name),
      }));
    };
    // Inside a transaction this read joins it (and sees its tables); outside, it takes its turn.
    return connection.inTransaction() ? read() : connection.exclusive(read);
  }

  /**
   * The queues holding jobs (any state: the exact per-state counts of
   * `_berth_job_counts`, so no scan of the jobs) or schedules, in code-point order.
   */
  async queues(options?: SignalOptions): Promise<string[]> {
    startOperation(options, 'queues');
    return this.hub.exclusive((connection) =>
      connection
        .all<{ queue: string }>(
          `SELECT queue FROM _berth_job_counts WHERE count > 0
            UNION SELECT queue FROM _berth_schedules ORDER BY 1`,
        )
        .map((row) => row.queue),
    );
  }

  repository<T extends Document = AnyDocument>(name: string, options?: RepositoryOptions<T>): Repository<T> {
    checkCollectionName(name);
    return new SqliteRepository<T>(name, options, this.context());
  }

  queue<T = DocumentValue>(name: string, options?: QueueOptions): JobQueue<T> {
    checkCollectionName(name, 'queue');
    if (options !== undefined && !isPlainObject(options))
      throw new ValidationError('queue options must be an object', '');
    const retention = normalizeRetention((options as QueueOptions | undefined)?.retention);
    return new SqliteJobQueue<T>(name, { hub: this.hub, maxPayloadBytes: this.maxDocumentBytes, retention });
  }

  /**
   * Runs `work` holding the write lock (BEGIN IMMEDIATE), so transactions of
   * one backend never conflict; with `options.retries`, a retryable CONFLICT
   * (from the work itself) runs it again after a jittered delay.
   */
  transaction<R>(work: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R> {
    return runTransaction(work, options, () => this.transactionOnce(work, options));
  }

  private async transactionOnce<R>(
    work: (tx: TransactionScope) => Promise<R>,
    options?: TransactionOptions,
  ): Promise<R> {
    const connection = this.open();
    const context = this.context();
    let open = true;
    // Queues with jobs enqueued in this transaction, and when the earliest is due: told after the commit.
    const enqueued = new Map<string, number>();
    // What the queues report once the commit is done (events of the jobs enqueued).
    const committed: (() => void)[] = [];
    const queueTransaction = {
      assertOpen: () => {
        if (!open) throw new TransactionError('this transaction has ended; use queues of a new transaction');
      },
      enqueued: (queue: string, runAt: number) => {
        enqueued.set(queue, Math.min(runAt, enqueued.get(queue) ?? Number.POSITIVE_INFINITY));
      },
      afterCommit: (effect: () => void) => {
        committed.push(effect);
      },
    };
    const scope: TransactionScope = {
      repository: <T extends Document = AnyDocument>(name: string, repositoryOptions?: RepositoryOptions<T>) => {
        checkCollectionName(name);
        const repository = new SqliteRepository<T>(name, repositoryOptions, {
          ...context,
          get connection() {
            return context.connection;
          },
          run: async (work) => {
            if (!open) {
              throw new TransactionError('this transaction has ended; use repositories of a new transaction');
            }
            return work();
          },
        });
        return repository;
      },
      queue: <T = DocumentValue>(name: string): TransactionalQueue<T> => {
        checkCollectionName(name, 'queue');
        const queue = new SqliteJobQueue<T>(name, {
          hub: this.hub,
          maxPayloadBytes: this.maxDocumentBytes,
          transaction: queueTransaction,
        });
        return { name, enqueue: queue.enqueue.bind(queue), enqueueMany: queue.enqueueMany.bind(queue) };
      },
    };
    let result: R;
    try {
      result = await connection.transaction(async () => {
        const value = await work(scope);
        throwIfAborted(options?.signal, 'transaction');
        return value;
      });
    } catch (error) {
      // Tables made on first use inside the transaction were rolled back with it.
      this.prepared.clear();
      throw error;
    } finally {
      open = false;
    }
    for (const [queue, runAt] of enqueued) this.hub.notifier(queue).dueAt(runAt);
    for (const effect of committed) effect();
    return result;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Lets `createBackend('sqlite:./app.db')` find this adapter (`?busyTimeoutMs=` and `?migrate=false` are options).
 *
 * ### Examples
 * ```ts
 * import { createBackendFromUrl } from '@berth/adapter-sqlite';
 *
 * const backend = createBackendFromUrl('sqlite:./data/app.db?busyTimeoutMs=10000');
 * await backend.connect();
 * await backend.close();
 * ```
 */
export function createBackendFromUrl(url: string): Backend {
  const [rawPath = '', query = ''] = url.slice('sqlite:'.length).split('?', 2);
  const filename = decodeURIComponent(rawPath.startsWith('//') ? rawPath.slice(2) : rawPath);
  if (filename === '') throw new ValidationError('sqlite: URLs need a file, like sqlite:./app.db', 'url');
  const parameters = new URLSearchParams(query);
  const busy = parameters.get('busyTimeoutMs');
  return new SqliteBackend({
    filename,
    busyTimeoutMs: busy === null ? undefined : Number(busy),
    migrate: migrateUrlParameter(parameters),
  });
}
