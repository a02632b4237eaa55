import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  AlreadyExistsError,
  type AnyDocument,
  type Backend,
  type BerthLogger,
  type Capabilities,
  ConnectionError,
  type Document,
  type DocumentValue,
  type HealthStatus,
  isBerthError,
  type JobQueue,
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
  type IndexSpec,
  isPlainObject,
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
import { runMigrations } from './sqlite-migrations.js';
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
}

/** What SQLite supports; the size limits come from the config. */
const SQLITE_CAPABILITIES: Capabilities = {
  repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: true },
  // Notifications are in-process: enqueue, release and retry through this
  // backend wake its idle workers at once (and a timer wakes them when a job
  // it scheduled falls due). SQLite cannot signal other processes, so their
  // workers find new jobs by polling (`pollIntervalMs`).
  queue: { level: 'single-node', transactionalEnqueue: true, durable: true, notifications: true, events: 'process' },
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
  private connection: SqliteConnection | undefined;
  private closed = false;
  private readonly collections = new Map<string, Set<string>>();
  private readonly queues: SqliteQueueHub;

  constructor(config: SqliteBackendConfig = {}) {
    this.config = config;
    this.queues = new SqliteQueueHub(() => this.open(), config.logger);
    if (config.filename === undefined && config.database === undefined) {
      throw new ValidationError('SqliteBackend needs a filename (or an open database)', 'filename');
    }
    // The configured limit is declared, and core enforces what is declared.
    this.maxDocumentBytes = checkMaxBytes(config.maxDocumentBytes);
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
    const connection = new SqliteConnection(db, busyTimeoutMs);
    try {
      runMigrations(connection);
    } catch (error) {
      if (this.config.database === undefined) db.close();
      throw this.named(toBerthError(error));
    }
    this.connection = connection;
    return connection;
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
    await this.queues.drain().catch(() => undefined);
    const connection = this.connection;
    if (connection !== undefined) await connection.idle().catch(() => undefined);
    this.closed = true;
    this.queues.close();
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
    await this.queues.drain();
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
    let known = this.collections.get(name);
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
    const ready =
      stored.has(name) && missing.every((spec) => stored.get(indexName(name, spec)) === indexDefinition(name, spec));
    if (!ready) this.createCollection(connection, name, missing);
    known ??= new Set();
    for (const spec of missing) known.add(indexName(name, spec));
    this.collections.set(name, known);
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

  repository<T extends Document = AnyDocument>(name: string, options?: RepositoryOptions<T>): Repository<T> {
    checkCollectionName(name);
    return new SqliteRepository<T>(name, options, this.context());
  }

  queue<T = DocumentValue>(name: string, options?: QueueOptions): JobQueue<T> {
    checkCollectionName(name, 'queue');
    if (options !== undefined && !isPlainObject(options))
      throw new ValidationError('queue options must be an object', '');
    const retention = normalizeRetention((options as QueueOptions | undefined)?.retention);
    return new SqliteJobQueue<T>(name, { hub: this.queues, maxPayloadBytes: this.maxDocumentBytes, retention });
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
          hub: this.queues,
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
      this.collections.clear();
      throw error;
    } finally {
      open = false;
    }
    for (const [queue, runAt] of enqueued) this.queues.notifier(queue).dueAt(runAt);
    for (const effect of committed) effect();
    return result;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Lets `createBackend('sqlite:./app.db')` find this adapter (`?busyTimeoutMs=` is an option).
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
  const busy = new URLSearchParams(query).get('busyTimeoutMs');
  return new SqliteBackend({ filename, busyTimeoutMs: busy === null ? undefined : Number(busy) });
}
