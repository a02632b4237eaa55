import { AsyncLocalStorage } from 'node:async_hooks';
import { isBerthError, TransactionError } from '@berth/core';
import type BetterSqlite3 from 'better-sqlite3';
import {
  type CompiledQuery,
  DummyDriver,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { toBerthError } from './sqlite-errors.js';
import { keepsStatements, prepareKept } from './sqlite-node24-workaround.js';

/**
 * The subset of better-sqlite3's Database that Berth uses.
 *
 * ### Examples
 * ```ts
 * import { SqliteBackend, type SqliteDatabase } from '@berth/adapter-sqlite';
 *
 * // `new Database('./data/app.db')` from better-sqlite3, opened (and closed) by your code.
 * declare const db: SqliteDatabase;
 * await using backend = new SqliteBackend({ database: db });
 * ```
 */
export type SqliteDatabase = BetterSqlite3.Database;

type Row = Record<string, unknown>;

interface Gate {
  readonly promise: Promise<void>;
  readonly release: () => void;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * A kysely instance used only to build and compile SQL: execution goes
 * through better-sqlite3's synchronous prepared statements, so an operation
 * runs without yielding and statements are cached by their text.
 */
export const queryBuilder: Kysely<Record<string, Row>> = new Kysely<Record<string, Row>>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
});

/** The transaction an async call chain runs in, so operations outside it can wait for it. */
interface TransactionMarker {
  readonly connection: SqliteConnection;
  active: boolean;
}

const currentTransaction = new AsyncLocalStorage<TransactionMarker>();

const HEALTH_PROBE =
  'INSERT INTO _berth_health (id, checked_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at';

/** A full disk or an I/O error: the storage, not the statement, is at fault. */
function isStorageFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_IOERR'));
}

/**
 * One better-sqlite3 connection with a statement cache and one queue of
 * turns. A single operation and a whole transaction each take a turn, so a
 * transaction's callback can await while other callers of this process wait
 * for it instead of running inside it (committing or rolling back with it,
 * or reading its uncommitted writes).
 */
export class SqliteConnection {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  /** Settles when the last turn queued so far has ended. */
  private tail: Promise<void> = Promise.resolve();
  /** Turns queued or running. */
  private turns = 0;
  /** Whether an inline turn (see `exclusive`) is running its synchronous part now. */
  private running = false;
  /** Released when the inline turn ends; made only when a turn queues behind it. */
  private gate: Gate | undefined;
  private holder: TransactionMarker | undefined;
  /**
   * The engine error of the last write that failed for the storage (disk
   * full, I/O error), until a write commits: what `health()` reports.
   */
  writeFailure: unknown;

  /**
   * @param busyTimeoutMs How long a transaction waits for another
   * connection's write lock (the `busy_timeout` set on `db`).
   */
  constructor(
    readonly db: SqliteDatabase,
    private readonly busyTimeoutMs = 5_000,
  ) {}

  private statement(text: string): BetterSqlite3.Statement {
    let statement = this.statements.get(text);
    if (statement === undefined) {
      statement = prepareKept(this.db, text);
      if (this.statements.size > 500 && !keepsStatements) this.statements.clear();
      this.statements.set(text, statement);
    }
    return statement;
  }

  // No closure or tuple per call: these three are on every operation's path.
  all<R = Row>(query: CompiledQuery | string, parameters: readonly unknown[] = []): R[] {
    if (this.holder !== undefined) this.guard();
    const sql = typeof query === 'string' ? query : query.sql;
    const values = typeof query === 'string' ? parameters : query.parameters;
    try {
      return this.statement(sql).all(...values) as R[];
    } catch (error) {
      throw toBerthError(error);
    }
  }

  get<R = Row>(query: CompiledQuery | string, parameters: readonly unknown[] = []): R | undefined {
    if (this.holder !== undefined) this.guard();
    const sql = typeof query === 'string' ? query : query.sql;
    const values = typeof query === 'string' ? parameters : query.parameters;
    try {
      return this.statement(sql).get(...values) as R | undefined;
    } catch (error) {
      throw toBerthError(error);
    }
  }

  run(query: CompiledQuery | string, parameters: readonly unknown[] = []): BetterSqlite3.RunResult {
    if (this.holder !== undefined) this.guard();
    const sql = typeof query === 'string' ? query : query.sql;
    const values = typeof query === 'string' ? parameters : query.parameters;
    const inTransaction = this.db.inTransaction;
    try {
      const statement = this.statement(sql);
      const result = statement.run(...values);
      // A write outside a transaction committed.
      if (!inTransaction && !this.db.inTransaction && !statement.reader) this.writeFailure = undefined;
      return result;
    } catch (error) {
      if (isStorageFailure(error)) this.writeFailure = error;
      throw toBerthError(error);
    }
  }

  /**
   * Writes the health row in a transaction of its own. It does not count as
   * a write that succeeded: a small write may find room a document did not.
   */
  probeWrite(): void {
    this.control('BEGIN IMMEDIATE');
    try {
      this.statement(HEALTH_PROBE).run(Date.now());
      this.control('COMMIT');
    } catch (error) {
      if (this.db.inTransaction) this.control('ROLLBACK');
      throw toBerthError(error);
    }
  }

  /**
   * Every caller outside a transaction waits for its turn, so a statement
   * that meets an open transaction comes from that transaction's call chain
   * after it ended (an operation it did not await): refused, so it neither
   * joins the next transaction nor runs unseen.
   */
  private guard(): void {
    if (!this.inTransaction()) {
      throw new TransactionError('this transaction has ended; use repositories and queues of a new transaction');
    }
  }

  /** Runs BEGIN, COMMIT or ROLLBACK for `transaction()`, which holds the connection itself. */
  private control(text: string): void {
    try {
      this.statement(text).run();
    } catch (error) {
      throw toBerthError(error);
    }
  }

  /**
   * BEGIN IMMEDIATE for `transaction()`, waiting for another connection's
   * write lock without blocking the event loop: SQLite's busy handler sleeps
   * synchronously, which would also stop the lock's holder when it is a
   * transaction of this process (another backend on the same file) that
   * awaits. So the lock is tried without waiting, then again after short
   * timers, up to the busy timeout.
   */
  private async beginImmediate(): Promise<void> {
    const deadline = performance.now() + this.busyTimeoutMs;
    this.control('PRAGMA busy_timeout = 0');
    try {
      for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
        try {
          this.control('BEGIN IMMEDIATE');
          return;
        } catch (error) {
          if (!isBerthError(error, 'TIMEOUT') || performance.now() >= deadline) throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    } finally {
      this.control(`PRAGMA busy_timeout = ${this.busyTimeoutMs}`);
    }
  }

  /** Whether the caller runs inside this connection's transaction. */
  inTransaction(): boolean {
    const marker = currentTransaction.getStore();
    return marker !== undefined && marker.connection === this && marker.active;
  }

  /**
   * Runs `work` (a single operation, or a whole transaction) once every turn
   * queued before it has ended; the next turn starts when `work` settles.
   * A caller inside this connection's open transaction would wait for
   * itself, so it is told to use the transaction's repositories instead.
   */
  exclusive<R>(work: () => R | Promise<R>): Promise<R> {
    if (this.inTransaction()) {
      return Promise.reject(
        new TransactionError(
          'this operation was called inside a transaction on a repository outside it; use tx.repository(…) / tx.queue(…) inside transaction()',
        ),
      );
    }
    // With no turn pending, `work` runs now, as the queued path would, but
    // without chaining a promise for it: when it is synchronous (most reads
    // and single writes) it ends before anything else can run.
    if (this.turns > 0) return this.queued(work);
    this.turns += 1;
    this.running = true;
    const tail = this.tail;
    let result: R | Promise<R>;
    try {
      result = work();
    } catch (error) {
      this.endInline();
      return Promise.reject(error);
    } finally {
      this.running = false;
    }
    if (!isThenable(result)) {
      this.endInline();
      return Promise.resolve(result);
    }
    // An asynchronous turn holds the queue until it settles.
    const gate = this.inlineGate();
    // A turn queued by `work` itself already waits for the gate, and later ones for it.
    if (this.tail === tail) this.tail = gate.promise;
    return this.settle(result);
  }

  /** Ends the inline turn when `result` settles, resolving right after, as `queued` does. */
  private async settle<R>(result: PromiseLike<R>): Promise<R> {
    try {
      return await result;
    } finally {
      this.endInline();
    }
  }

  /** What a turn queued while an inline turn runs waits for; made only when one is. */
  private inlineGate(): Gate {
    if (this.gate === undefined) {
      let release: () => void = () => undefined;
      const promise = new Promise<void>((resolve) => {
        release = resolve;
      });
      this.gate = { promise, release };
    }
    return this.gate;
  }

  /** Ends the inline turn: releases the turns queued behind it, if any. */
  private endInline(): void {
    this.turns -= 1;
    const gate = this.gate;
    this.gate = undefined;
    gate?.release();
  }

  /** Runs `work` in a turn of its own, after every turn queued before it. */
  private async queued<R>(work: () => R | Promise<R>): Promise<R> {
    // Behind an inline turn that is running synchronously, `tail` is not its yet.
    const previous = this.running ? this.inlineGate().promise : this.tail;
    // With no turn pending, the previous one has ended: no need to wait a tick for it.
    const waiting = this.turns > 0;
    this.turns += 1;
    let release: () => void = () => undefined;
    this.tail = new Promise((resolve) => {
      release = resolve;
    });
    try {
      if (waiting) await previous;
      return await work();
    } finally {
      this.turns -= 1;
      release();
    }
  }

  /** Waits until every turn queued so far, and any queued while waiting, has ended. */
  async idle(): Promise<void> {
    for (let tail = this.tail; ; tail = this.tail) {
      await tail;
      if (tail === this.tail) return;
    }
  }

  /**
   * Runs `work` synchronously in an IMMEDIATE transaction (all-or-nothing,
   * write lock taken up front so it never fails half-way for lack of it).
   * Inside an open transaction it becomes a savepoint.
   */
  immediate<R>(work: () => R): R {
    if (this.db.inTransaction) {
      this.run('SAVEPOINT berth_step');
      try {
        const result = work();
        this.run('RELEASE berth_step');
        return result;
      } catch (error) {
        this.run('ROLLBACK TO berth_step');
        this.run('RELEASE berth_step');
        throw error;
      }
    }
    this.run('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.run('COMMIT');
      this.writeFailure = undefined;
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.run('ROLLBACK');
      throw error;
    }
  }

  /** Runs an async transaction callback in its own turn, holding the connection; others wait. */
  async transaction<R>(work: () => Promise<R>): Promise<R> {
    if (currentTransaction.getStore()?.connection === this && this.holder !== undefined) {
      throw new TransactionError('transactions cannot be nested: use the repositories of the open transaction');
    }
    return this.exclusive(async () => {
      const marker: TransactionMarker = { connection: this, active: true };
      this.holder = marker;
      try {
        await this.beginImmediate();
        try {
          const result = await currentTransaction.run(marker, work);
          this.control('COMMIT');
          this.writeFailure = undefined;
          return result;
        } catch (error) {
          if (this.db.inTransaction) this.control('ROLLBACK');
          throw error;
        }
      } finally {
        marker.active = false;
        this.holder = undefined;
      }
    });
  }

  close(): void {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }
}
