/**
 * Every error Berth throws is a {@link BerthError} with a stable `code`.
 * Check errors with {@link isBerthError}, which works across duplicated
 * package copies where `instanceof` does not.
 *
 * ### Examples
 * ```ts
 * import { isBerthError, type BerthErrorCode } from '@berth/core';
 *
 * function httpStatus(error: unknown): number {
 *   const status: Partial<Record<BerthErrorCode, number>> = { NOT_FOUND: 404, ALREADY_EXISTS: 409, CONFLICT: 409, VALIDATION: 400 };
 *   return (isBerthError(error) && status[error.code]) || 500;
 * }
 * ```
 */
export type BerthErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'CONFLICT'
  | 'VALIDATION'
  | 'CONNECTION'
  | 'TIMEOUT'
  | 'TRANSACTION'
  | 'UNSUPPORTED'
  | 'ABORTED'
  | 'SCHEMA';

/**
 * What every Berth error may carry besides its message: the underlying error
 * (`cause`), whether trying again can succeed, and the collection and id the
 * operation addressed.
 *
 * ### Examples
 * ```ts
 * import { NotFoundError } from '@berth/core';
 *
 * const error = new NotFoundError('user u1 not found', { collection: 'users', id: 'u1' });
 * console.log(error.code, error.collection, error.id); // NOT_FOUND users u1
 * ```
 */
export interface BerthErrorOptions {
  /** The error this one wraps (a driver's), kept as `error.cause`. */
  readonly cause?: unknown;
  /** Whether trying again can succeed; the default depends on the class (`CONFLICT`, `CONNECTION`, `TIMEOUT`: true). */
  readonly retryable?: boolean | undefined;
  /** The collection (or queue) the operation addressed. */
  readonly collection?: string | undefined;
  /** The document (or job) id the operation addressed. */
  readonly id?: string | undefined;
}

const BERTH_ERROR = Symbol.for('berth.error');

/**
 * Base class of every error Berth throws.
 *
 * ### Examples
 * ```ts
 * import { BerthError, isBerthError } from '@berth/core';
 *
 * function describe(error: unknown): string {
 *   if (isBerthError(error, 'NOT_FOUND')) return `missing: ${error.id}`;
 *   if (error instanceof BerthError) return error.code;
 *   return 'unknown';
 * }
 * ```
 */
export class BerthError extends Error {
  /** Stable identity of the error; match on this, not on the message. */
  readonly code: BerthErrorCode;
  /** Whether trying the same operation again can succeed. */
  readonly retryable: boolean;
  /** The collection (or queue) the operation addressed, when there was one. */
  readonly collection: string | undefined;
  /** The document id the operation addressed, when there was one. */
  readonly id: string | undefined;

  constructor(code: BerthErrorCode, message: string, options: BerthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.collection = options.collection;
    this.id = options.id;
    // A brand that survives two installed copies of this package, where
    // `instanceof` fails; `isBerthError` checks it.
    Object.defineProperty(this, BERTH_ERROR, { value: true });
  }
}

/**
 * A document, queue job or other addressed thing does not exist.
 *
 * ### Examples
 * ```ts
 * import type { Repository } from '@berth/core';
 * import { isBerthError } from '@berth/core';
 *
 * async function rename(users: Repository<{ id: string; name: string }>, id: string, name: string): Promise<boolean> {
 *   try {
 *     await users.update(id, { name });
 *     return true;
 *   } catch (error) {
 *     if (isBerthError(error, 'NOT_FOUND')) return false;
 *     throw error;
 *   }
 * }
 * ```
 */
export class NotFoundError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('NOT_FOUND', message, options);
  }
}

/**
 * A write would create a second document with the same id or unique value.
 *
 * ### Examples
 * ```ts
 * import type { Repository } from '@berth/core';
 * import { isBerthError } from '@berth/core';
 *
 * async function register(users: Repository<{ id: string; email: string }>, email: string): Promise<string> {
 *   try {
 *     return (await users.insert({ email })).id;
 *   } catch (error) {
 *     if (isBerthError(error, 'ALREADY_EXISTS') && error.field === 'email') return 'taken';
 *     throw error;
 *   }
 * }
 * ```
 */
export class AlreadyExistsError extends BerthError {
  /** The field whose uniqueness was violated (`id` for a duplicate id). */
  readonly field: string;
  constructor(message: string, field: string, options?: BerthErrorOptions) {
    super('ALREADY_EXISTS', message, options);
    this.field = field;
  }
}

/**
 * A precondition failed: an expected version did not match, a lease token is
 * stale, or a concurrent transaction won. Retryable unless stated otherwise.
 *
 * ### Examples
 * ```ts
 * import type { Repository } from '@berth/core';
 * import { isBerthError } from '@berth/core';
 *
 * async function rename(users: Repository<{ id: string; name: string }>, id: string, name: string): Promise<void> {
 *   const current = await users.getEntry(id);
 *   if (current === null) return;
 *   try {
 *     await users.update(id, { name }, { expectedVersion: current.meta.version });
 *   } catch (error) {
 *     // Someone else wrote the document since it was read.
 *     if (isBerthError(error, 'CONFLICT')) return rename(users, id, name);
 *     throw error;
 *   }
 * }
 * ```
 */
export class ConflictError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('CONFLICT', message, { retryable: true, ...options });
  }
}

/**
 * Input was rejected before anything was written. `path` names the offending value.
 *
 * ### Examples
 * ```ts
 * import { isBerthError } from '@berth/core';
 *
 * function explain(error: unknown): string {
 *   if (isBerthError(error, 'VALIDATION')) return `invalid ${error.path || 'input'}: ${error.message}`;
 *   return String(error);
 * }
 * ```
 */
export class ValidationError extends BerthError {
  /** Dotted path of the offending value (`stats.born`), or `''` for the input as a whole. */
  readonly path: string;
  constructor(message: string, path = '', options?: BerthErrorOptions) {
    super('VALIDATION', message, options);
    this.path = path;
  }
}

/**
 * The engine could not be reached or refused the connection.
 *
 * ### Examples
 * ```ts
 * import { createBackend, isBerthError } from '@berth/core';
 *
 * const backend = await createBackend('memory:');
 * try {
 *   await backend.connect();
 * } catch (error) {
 *   if (isBerthError(error, 'CONNECTION')) console.error('database unreachable:', error.cause);
 *   throw error;
 * }
 * ```
 */
export class ConnectionError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('CONNECTION', message, { retryable: true, ...options });
  }
}

/**
 * The engine did not answer in time (lock wait, statement timeout).
 *
 * ### Examples
 * ```ts
 * import { isBerthError } from '@berth/core';
 *
 * async function withOneRetry<T>(work: () => Promise<T>): Promise<T> {
 *   try {
 *     return await work();
 *   } catch (error) {
 *     if (isBerthError(error, 'TIMEOUT')) return work();
 *     throw error;
 *   }
 * }
 * ```
 */
export class TimeoutError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('TIMEOUT', message, { retryable: true, ...options });
  }
}

/**
 * A transaction was misused or could not be completed.
 *
 * ### Examples
 * ```ts
 * import type { RepositoryBackend } from '@berth/core';
 * import { isBerthError } from '@berth/core';
 *
 * async function touch(backend: RepositoryBackend, id: string): Promise<void> {
 *   try {
 *     await backend.transaction(async (tx) => {
 *       await tx.repository('visits').upsert({ id, at: Date.now() });
 *     });
 *   } catch (error) {
 *     if (isBerthError(error, 'TRANSACTION')) console.error('transaction failed:', error.message);
 *     throw error;
 *   }
 * }
 * ```
 */
export class TransactionError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('TRANSACTION', message, options);
  }
}

/**
 * The adapter declares this capability unsupported.
 *
 * ### Examples
 * ```ts
 * import type { Backend } from '@berth/core';
 * import { isBerthError } from '@berth/core';
 *
 * async function enqueueWithOrder(backend: Backend, orderId: string): Promise<void> {
 *   try {
 *     await backend.transaction(async (tx) => {
 *       await tx.repository('orders').insert({ id: orderId, status: 'new' });
 *       await tx.queue('emails').enqueue({ orderId });
 *     });
 *   } catch (error) {
 *     // This backend's queue does not live with its repositories.
 *     if (isBerthError(error, 'UNSUPPORTED')) console.error(error.message);
 *     throw error;
 *   }
 * }
 * ```
 */
export class UnsupportedError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('UNSUPPORTED', message, options);
  }
}

/**
 * The caller's AbortSignal fired before the operation completed.
 *
 * ### Examples
 * ```ts
 * import type { Repository } from '@berth/core';
 * import { isBerthError } from '@berth/core';
 *
 * async function findWithin(users: Repository, ms: number): Promise<number | undefined> {
 *   try {
 *     return await users.count({}, { signal: AbortSignal.timeout(ms) });
 *   } catch (error) {
 *     if (isBerthError(error, 'ABORTED')) return undefined;
 *     throw error;
 *   }
 * }
 * ```
 */
export class AbortedError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('ABORTED', message, options);
  }
}

/**
 * The engine's schema is not the one this release needs: migrations are
 * pending on a backend configured with `migrate: false`, or a newer release
 * has migrated it. The message says which, and what to run
 * (`berth migrate <url>`, or upgrading Berth).
 *
 * ### Examples
 * ```ts
 * import { createBackend, isBerthError } from '@berth/core';
 *
 * const backend = await createBackend('memory:');
 * try {
 *   await backend.connect();
 * } catch (error) {
 *   if (isBerthError(error, 'SCHEMA')) console.error(error.message); // says to run `berth migrate <url>`
 *   throw error;
 * }
 * ```
 */
export class SchemaError extends BerthError {
  /** The migrations still to apply (`"3 health probe"`), oldest first, when pending migrations are why; else `undefined`. */
  readonly pendingMigrations: readonly string[] | undefined;
  /** No migration was ever applied: the engine holds no Berth schema at all (a new database). */
  readonly schemaMissing: boolean;

  constructor(message: string, options?: SchemaErrorOptions) {
    super('SCHEMA', message, options);
    this.pendingMigrations = options?.pendingMigrations;
    this.schemaMissing = options?.schemaMissing ?? false;
  }
}

/**
 * Options of {@link SchemaError}: what a tool needs to act on pending
 * migrations without parsing the message.
 *
 * ### Examples
 * ```ts
 * import { SchemaError, type SchemaErrorOptions } from '@berth/core';
 *
 * const options: SchemaErrorOptions = { pendingMigrations: ['1 initial schema'], schemaMissing: true };
 * const error = new SchemaError('sqlite:./app.db: 1 schema migration is pending', options);
 * console.log(error.schemaMissing); // true
 * ```
 */
export interface SchemaErrorOptions extends BerthErrorOptions {
  /** The migrations still to apply, oldest first, as `"<version> <name>"`. */
  readonly pendingMigrations?: readonly string[] | undefined;
  /** No migration was ever applied: the engine holds no Berth schema at all. Default false. */
  readonly schemaMissing?: boolean | undefined;
}

interface ErrorByCode {
  NOT_FOUND: NotFoundError;
  ALREADY_EXISTS: AlreadyExistsError;
  CONFLICT: ConflictError;
  VALIDATION: ValidationError;
  CONNECTION: ConnectionError;
  TIMEOUT: TimeoutError;
  TRANSACTION: TransactionError;
  UNSUPPORTED: UnsupportedError;
  ABORTED: AbortedError;
  SCHEMA: SchemaError;
}

/**
 * Whether `error` is a Berth error, optionally with the given code.
 * Works across two installed copies of `@berth/core`.
 *
 * ### Examples
 * ```ts
 * import { isBerthError } from '@berth/core';
 *
 * try {
 *   throw new Error('boom');
 * } catch (error) {
 *   if (isBerthError(error, 'CONFLICT') && error.retryable) {
 *     // try again
 *   }
 * }
 * ```
 */
export function isBerthError<C extends BerthErrorCode>(error: unknown, code: C): error is ErrorByCode[C];
export function isBerthError(error: unknown): error is BerthError;
export function isBerthError(error: unknown, code?: BerthErrorCode): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (!(error instanceof BerthError) && (error as Record<symbol, unknown>)[BERTH_ERROR] !== true) {
    return false;
  }
  return code === undefined || (error as BerthError).code === code;
}
