import { AsyncLocalStorage } from 'node:async_hooks';
import { TransactionError } from '@berth/core';
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
import { keepStatementsAlive } from './sqlite-node24-workaround.js';

keepStatementsAlive();

/** The subset of better-sqlite3's Database that Berth uses. */
export type SqliteDatabase = BetterSqlite3.Database;

type Row = Record<string, unknown>;

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

/** Thrown (and caught by repositories) when a statement meets another caller's open transaction. */
export class ConnectionHeld extends Error {
  constructor() {
    super('the connection is held by a transaction; the operation waits and runs again');
    this.name = 'ConnectionHeld';
  }
}

/** The transaction an async call chain runs in, so operations outside it can wait for it. */
interface TransactionMarker {
  readonly connection: SqliteConnection;
  active: boolean;
}

const currentTransaction = new AsyncLocalStorage<TransactionMarker>();

/**
 * One better-sqlite3 connection with a statement cache and a lock that
 * serializes transactions. Single operations run synchronously between
 * transactions; while a transaction's callback awaits, other operations of
 * this process wait for it instead of running inside it.
 */
export class SqliteConnection {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private lock: Promise<void> = Promise.resolve();
  private holder: TransactionMarker | undefined;

  constructor(readonly db: SqliteDatabase) {}

  private statement(text: string): BetterSqlite3.Statement {
    let statement = this.statements.get(text);
    if (statement === undefined) {
      statement = this.db.prepare(text);
      if (this.statements.size > 500) this.statements.clear();
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
    try {
      return this.statement(sql).run(...values);
    } catch (error) {
      throw toBerthError(error);
    }
  }

  /**
   * A statement from outside the open transaction must not run on its
   * connection (it would commit or roll back with it, and read its
   * uncommitted writes). Operations check for a transaction before they
   * start, but an async step can resume after one began: then the statement
   * is refused with {@link ConnectionHeld} before it runs, and the operation
   * starts again once the transaction ends.
   */
  private guard(): void {
    if (!this.inTransaction()) throw new ConnectionHeld();
  }

  /** Runs BEGIN, COMMIT or ROLLBACK for `transaction()`, which holds the connection itself. */
  private control(text: string): void {
    try {
      this.statement(text).run();
    } catch (error) {
      throw toBerthError(error);
    }
  }

  /** Whether the caller runs inside this connection's transaction. */
  inTransaction(): boolean {
    const marker = currentTransaction.getStore();
    return marker !== undefined && marker.connection === this && marker.active;
  }

  /**
   * Waits until no transaction holds the connection. Called before single
   * operations; a caller inside the transaction itself is told to use the
   * transaction's repositories instead of deadlocking.
   */
  async idle(): Promise<void> {
    if (this.holder === undefined) return;
    const marker = currentTransaction.getStore();
    if (marker !== undefined && marker === this.holder) {
      throw new TransactionError(
        'this operation was called inside a transaction on a repository outside it; use tx.repository(…) / tx.queue(…) inside transaction()',
      );
    }
    while (this.holder !== undefined) await this.lock;
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
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.run('ROLLBACK');
      throw error;
    }
  }

  /** Runs an async transaction callback holding the connection; others wait. */
  async transaction<R>(work: () => Promise<R>): Promise<R> {
    if (currentTransaction.getStore()?.connection === this && this.holder !== undefined) {
      throw new TransactionError('transactions cannot be nested: use the repositories of the open transaction');
    }
    while (this.holder !== undefined) await this.lock;
    const marker: TransactionMarker = { connection: this, active: true };
    let release: () => void = () => undefined;
    this.lock = new Promise((resolve) => {
      release = resolve;
    });
    this.holder = marker;
    try {
      this.control('BEGIN IMMEDIATE');
      try {
        const result = await currentTransaction.run(marker, work);
        this.control('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.control('ROLLBACK');
        throw error;
      }
    } finally {
      marker.active = false;
      this.holder = undefined;
      release();
    }
  }

  close(): void {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }
}
