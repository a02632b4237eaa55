import type { SignalOptions } from '../operation/abort.js';
import type { TransactionRetries } from '../operation/retry.js';
import type { QueueOptions } from '../queue/job-admin.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { IndexDefinition, Repository, RepositoryOptions } from '../repository/repository.js';
import type { AnyDocument, Document, DocumentValue } from '../values/document.js';
import type { Capabilities } from './capabilities.js';

/**
 * What `backend.health()` reports: whether the engine answered a probe, and how fast.
 *
 * ### Examples
 * ```ts
 * import { createBackend } from '@berth/core';
 *
 * const backend = await createBackend('memory:');
 * const { ok, latencyMs, message } = await backend.health({ signal: AbortSignal.timeout(1_000) });
 * console.log(ok ? `up (${latencyMs} ms)` : `down: ${message}`);
 * await backend.close();
 * ```
 */
export interface HealthStatus {
  /** Whether the engine answered the probe. */
  readonly ok: boolean;
  /** Round-trip time of the probe in milliseconds. */
  readonly latencyMs: number;
  /** Why the backend is unhealthy, when it is. */
  readonly message?: string | undefined;
}

/**
 * What a transaction callback receives: repositories (and queues) bound to the transaction.
 *
 * ### Examples
 * ```ts
 * import type { Backend, TransactionScope } from '@berth/core';
 *
 * async function placeOrder(tx: TransactionScope, sku: string): Promise<void> {
 *   await tx.repository('stock').update(sku, { $inc: { count: -1 } });
 *   await tx.repository('orders').insert({ sku });
 * }
 *
 * async function checkout(backend: Backend, sku: string): Promise<void> {
 *   await backend.transaction((tx) => placeOrder(tx, sku));
 * }
 * ```
 */
export interface TransactionScope {
  /** A repository whose reads see this transaction's writes and whose writes commit with it. */
  repository<T extends Document = AnyDocument>(name: string, options?: RepositoryOptions<T>): Repository<T>;
  /**
   * A queue whose enqueues commit or roll back with the transaction. Throws
   * UNSUPPORTED where the queue does not live with the repositories
   * (`capabilities.queue.transactionalEnqueue`).
   */
  queue<T = DocumentValue>(name: string): TransactionalQueue<T>;
}

/**
 * The part of a queue usable inside a transaction.
 *
 * ### Examples
 * ```ts
 * import type { Backend, TransactionalQueue } from '@berth/core';
 *
 * async function signUp(backend: Backend, email: string): Promise<void> {
 *   await backend.transaction(async (tx) => {
 *     const user = await tx.repository('users').insert({ email });
 *     const mails: TransactionalQueue<{ userId: string }> = tx.queue('welcome-mails');
 *     await mails.enqueue({ userId: user.id }); // sent only if the user is committed
 *   });
 * }
 * ```
 */
export type TransactionalQueue<T> = Pick<JobQueue<T>, 'name' | 'enqueue' | 'enqueueMany'>;

/**
 * A backend that holds job queues.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 *
 * async function enqueueReport(backend: QueueBackend): Promise<string> {
 *   const reports = backend.queue<{ month: string }>('reports');
 *   const { id } = await reports.enqueue({ month: '2026-11' }, { priority: 10 });
 *   return id;
 * }
 * ```
 */
export interface QueueBackend extends AsyncDisposable {
  /** Short engine name (`memory`, `sqlite`, `postgres`…), used in events and messages. */
  readonly kind: string;
  /** What the backend supports; `capabilities.queue.level` is `'none'` where it holds no queues. */
  readonly capabilities: Capabilities;
  /** Opens connections and runs migrations; calling it twice is harmless. */
  connect(options?: SignalOptions): Promise<void>;
  /** Drains and closes. Idempotent. */
  close(): Promise<void>;
  /** Probes the engine: an unreachable or unhealthy engine gives `ok: false` with a message (rejects only for bad options). */
  health(options?: SignalOptions): Promise<HealthStatus>;
  /**
   * The queue `name` (same rules as collection names); queues are
   * independent. `options.retention` sets how long its finished jobs are kept.
   */
  queue<T = DocumentValue>(name: string, options?: QueueOptions): JobQueue<T>;
  /**
   * The names of the queues that hold jobs or schedules, sorted by code
   * point, seen from any process (a queue only opened holds nothing and is
   * not listed).
   */
  queues(options?: SignalOptions): Promise<string[]>;
  /** Applies pending schema migrations now (see {@link RepositoryBackend.migrate}). */
  migrate(options?: SignalOptions): Promise<MigrationReport>;
}

/**
 * A backend with both ports, as `createBackend` returns.
 *
 * ### Examples
 * ```ts
 * import { type Backend, createBackend } from '@berth/core';
 *
 * const backend: Backend = await createBackend('memory:');
 * await backend.repository('notes').insert({ text: 'hello' });
 * await backend.queue<{ noteId: string }>('index-notes').enqueue({ noteId: 'n1' });
 * await backend.close();
 * ```
 */
export type Backend = RepositoryBackend & QueueBackend;

/**
 * Options of `backend.transaction()`.
 *
 * ### Examples
 * ```ts
 * import type { RepositoryBackend, TransactionOptions } from '@berth/core';
 *
 * async function bump(backend: RepositoryBackend, id: string): Promise<void> {
 *   const options: TransactionOptions = { retries: 5, signal: AbortSignal.timeout(10_000) };
 *   await backend.transaction(async (tx) => {
 *     await tx.repository('counters').update(id, { $inc: { value: 1 } });
 *   }, options);
 * }
 * ```
 */
export interface TransactionOptions extends SignalOptions {
  /**
   * Runs the work again when the transaction fails with a retryable
   * `CONFLICT` (another transaction got in between), up to this many more
   * times, after a jittered, growing delay. Other errors are never retried;
   * when the retries run out, the last CONFLICT is thrown; aborting `signal`
   * stops the wait. Default: no retry.
   *
   * The work may therefore run more than once: everything it does outside the
   * transaction (sending mail, calling services, counting in variables) must
   * be safe to repeat. Only its last run's writes are committed.
   *
   * ### Examples
   * ```ts
   * import type { Document, RepositoryBackend } from '@berth/core';
   *
   * interface Account extends Document { balance: number }
   *
   * async function transfer(backend: RepositoryBackend, from: string, to: string, amount: number): Promise<void> {
   *   await backend.transaction(
   *     async (tx) => {
   *       const accounts = tx.repository<Account>('accounts');
   *       const source = await accounts.get(from);
   *       if (source === null || source.balance < amount) throw new Error('insufficient funds');
   *       await accounts.update(from, { balance: source.balance - amount });
   *       await accounts.update(to, { $inc: { balance: amount } });
   *     },
   *     { retries: { retries: 10, minDelayMs: 2, maxDelayMs: 200 } },
   *   );
   * }
   * ```
   */
  readonly retries?: TransactionRetries | undefined;
}

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
  /** What the backend supports: transactions, unique indexes, durability, queues. */
  readonly capabilities: Capabilities;

  /** Opens connections and runs migrations. Repositories call it lazily; calling it twice is harmless. */
  connect(options?: SignalOptions): Promise<void>;
  /** Drains and closes. Idempotent. */
  close(): Promise<void>;
  /** Probes the engine: an unreachable or unhealthy engine gives `ok: false` with a message (rejects only for bad options). */
  health(options?: SignalOptions): Promise<HealthStatus>;

  /**
   * Makes every write acknowledged so far durable in the backend's storage,
   * then resolves. Where nothing is buffered (memory, SQLite, servers) it
   * resolves at once; the document-backed backend (`file:`) saves now instead
   * of after its debounce. After `close()` has resolved it resolves at once
   * (closing saved everything). Rejects with `ABORTED` when `signal` has
   * already fired, and with the save's error when saving fails. Code written
   * against `createBackend()` calls it before exit without probing the object.
   *
   * ### Examples
   * ```ts
   * import { createBackend } from '@berth/core';
   *
   * const backend = await createBackend(process.env.BERTH_URL ?? 'memory:');
   * await backend.repository<{ id: string; name: string }>('players').insert({ name: 'Ada' });
   * await backend.flush();
   * ```
   */
  flush(options?: SignalOptions): Promise<void>;

  /**
   * A typed repository for `name` (letters, digits and `_`, starting with a
   * letter, at most 63 characters; anything else is a VALIDATION error).
   */
  repository<T extends Document = AnyDocument>(name: string, options?: RepositoryOptions<T>): Repository<T>;

  /**
   * Runs `work` all-or-nothing. If it throws, nothing it wrote is kept and the
   * error is rethrown. A concurrent transaction that would break isolation
   * fails with a retryable `CONFLICT`; with `options.retries` the work is run
   * again then (so it may run more than once).
   */
  transaction<R>(work: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R>;

  /**
   * The collections that hold documents, sorted by name (code point), seen
   * from any process, each with the indexes the engine keeps for it (as
   * declared by the repositories opened on it) and its approximate size.
   * A collection only opened, never written, may be listed with no documents.
   *
   * ### Examples
   * ```ts
   * import { createBackend } from '@berth/core';
   *
   * const backend = await createBackend('memory:');
   * await backend.repository('users', { indexes: [{ field: 'email', type: 'string', unique: true }] }).insert({ email: 'a@b.c' });
   * for (const { name, indexes } of await backend.collections()) console.log(name, indexes.length);
   * await backend.close();
   * ```
   */
  collections(options?: SignalOptions): Promise<CollectionInfo[]>;

  /**
   * Applies the engine's pending schema migrations now and lists them (empty
   * when the schema is current or the engine has none). Backends migrate on
   * `connect()` unless configured with `migrate: false` (URL `?migrate=false`):
   * then `connect()` fails with code `SCHEMA` while migrations are pending, and
   * this method (or `berth migrate <url>`) applies them. Safe to run from
   * several processes at once.
   *
   * ### Examples
   * ```ts
   * import { createBackend } from '@berth/core';
   *
   * const backend = await createBackend('memory:');
   * const { applied } = await backend.migrate();
   * console.log(applied.length === 0 ? 'schema current' : `applied ${applied.join(', ')}`);
   * await backend.close();
   * ```
   */
  migrate(options?: SignalOptions): Promise<MigrationReport>;
}

/**
 * One collection as `backend.collections()` lists it.
 *
 * ### Examples
 * ```ts
 * import type { CollectionInfo } from '@berth/core';
 *
 * function describe({ name, indexes, approximateBytes }: CollectionInfo): string {
 *   const size = approximateBytes === undefined ? 'size unknown' : `~${approximateBytes} bytes`;
 *   return `${name}: ${indexes.length} indexes, ${size}`;
 * }
 * ```
 */
export interface CollectionInfo {
  /** The collection's name, as passed to `backend.repository()`. */
  readonly name: string;
  /** The indexes the engine keeps for it, as declared (single-field or compound, with their types and uniqueness). */
  readonly indexes: readonly IndexDefinition[];
  /** Approximate bytes it occupies in the engine, where the engine can tell cheaply; `undefined` otherwise. */
  readonly approximateBytes: number | undefined;
}

/**
 * What `backend.migrate()` applied.
 *
 * ### Examples
 * ```ts
 * import type { MigrationReport } from '@berth/core';
 *
 * function summary({ applied }: MigrationReport): string {
 *   return applied.length === 0 ? 'nothing to do' : `applied: ${applied.join(', ')}`;
 * }
 * ```
 */
export interface MigrationReport {
  /** The migrations applied by this call, oldest first (`"3 health probe"`); empty when none was pending. */
  readonly applied: readonly string[];
}
