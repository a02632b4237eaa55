import type { BerthLogger } from '@berth/core';
import type { PgQueryable, PgSession } from './pg-session.js';

/** What a repository or queue of a {@link PostgresBackend} works with. */
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

/** The open transaction a repository or queue of `backend.transaction()` writes into. */
export interface PgTransactionContext {
  /** The transaction's client: every statement of the transaction runs on it. */
  readonly client: PgQueryable;
  /** Throws a TRANSACTION error once the transaction has ended. */
  assertOpen(): void;
  /** Runs `effect` after the commit (never after a rollback): wakeups, events. */
  afterCommit(effect: () => void): void;
}
