import type { SignalOptions } from './abort.js';
import type { Capabilities } from './capabilities.js';
import type { Document } from './document.js';
import type { Repository, RepositoryOptions } from './repository.js';

/** Result of `health()`. */
export interface HealthStatus {
  readonly ok: boolean;
  /** Round-trip time of the probe in milliseconds. */
  readonly latencyMs: number;
  /** Why the backend is unhealthy, when it is. */
  readonly message?: string | undefined;
}

/** What a transaction callback receives: repositories bound to the transaction. */
export interface TransactionScope {
  /** A repository whose reads see this transaction's writes and whose writes commit with it. */
  repository<T extends Document = Document>(name: string, options?: RepositoryOptions<T>): Repository<T>;
}

/** Options of `backend.transaction()`. */
export interface TransactionOptions extends SignalOptions {}

/**
 * A backend that stores collections of documents.
 *
 * ### Examples
 * ```ts
 * import type { Document, RepositoryBackend } from '@berth/core';
 *
 * interface Account extends Document { balance: number }
 *
 * async function transfer(backend: RepositoryBackend, from: string, to: string, amount: number): Promise<void> {
 *   await backend.transaction(async (tx) => {
 *     const accounts = tx.repository<Account>('accounts');
 *     await accounts.update(from, { $inc: { balance: -amount } });
 *     await accounts.update(to, { $inc: { balance: amount } });
 *   });
 * }
 * ```
 */
export interface RepositoryBackend extends AsyncDisposable {
  /** Short engine name (`memory`, `sqlite`, `postgres`…), used in events and messages. */
  readonly kind: string;
  readonly capabilities: Capabilities;

  /** Opens connections and runs migrations. Repositories call it lazily; calling it twice is harmless. */
  connect(options?: SignalOptions): Promise<void>;
  /** Drains and closes. Idempotent. */
  close(): Promise<void>;
  health(options?: SignalOptions): Promise<HealthStatus>;

  /**
   * A typed repository for `name` (letters, digits and `_`, starting with a
   * letter, at most 63 characters; anything else is a VALIDATION error).
   */
  repository<T extends Document = Document>(name: string, options?: RepositoryOptions<T>): Repository<T>;

  /**
   * Runs `work` all-or-nothing. If it throws, nothing it wrote is kept and the
   * error is rethrown. A concurrent transaction that would break isolation
   * fails with a retryable `CONFLICT`.
   */
  transaction<R>(work: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R>;
}
