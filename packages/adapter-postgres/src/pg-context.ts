import type { BerthLogger } from '@berth/core';
import type { PgQueryable, PgSession } from './pg-session.js';

/**
 * What a repository or queue of a {@link PostgresBackend} works with.
 *
 * ### Examples
 * ```ts
 * import type { PgBackendContext } from '@berth/adapter-postgres';
 *
 * // What a repository or queue of the backend does before its first statement.
 * async function countJobs(context: PgBackendContext): Promise<number> {
 *   await context.ready();
 *   const [row] = await context.session.query<{ n: string }>(`SELECT count(*) AS n FROM ${context.quotedSchema}._berth_jobs`);
 *   return Number(row?.n ?? 0);
 * }
 * ```
 */
export interface PgBackendContext {
  readonly session: PgSession;
  /** The schema's name (checked) and its quoted form for SQL text. */
  readonly schema: string;
  readonly quotedSchema: string;
  readonly maxDocumentBytes: number;
  /** The backend's logger (absent: `console`). */
  readonly logger?: BerthLogger | undefined;
  /** Resolves once the pool answers and the migrations ran; rejects (typed) when the backend is closed. */
  ready(): Promise<void>;
}

/**
 * The open transaction a repository or queue of `backend.transaction()` writes into.
 *
 * ### Examples
 * ```ts
 * import type { PgTransactionContext } from '@berth/adapter-postgres';
 *
 * // A write inside `backend.transaction()`: on the transaction's client, with a wakeup after the commit.
 * async function touch(tx: PgTransactionContext, table: string, id: string, wake: () => void): Promise<void> {
 *   tx.assertOpen();
 *   await tx.client.query(`UPDATE ${table} SET updated_at = now() WHERE id = $1`, [id]);
 *   tx.afterCommit(wake);
 * }
 * ```
 */
export interface PgTransactionContext {
  /** The transaction's client: every statement of the transaction runs on it. */
  readonly client: PgQueryable;
  /** Throws a TRANSACTION error once the transaction has ended. */
  assertOpen(): void;
  /** Runs `effect` after the commit (never after a rollback): wakeups, events. */
  afterCommit(effect: () => void): void;
}
