/**
 * Every error Berth throws is a {@link BerthError} with a stable `code`.
 * Check errors with {@link isBerthError}, which works across duplicated
 * package copies where `instanceof` does not.
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
  | 'ABORTED';

export interface BerthErrorOptions {
  readonly cause?: unknown;
  readonly retryable?: boolean | undefined;
  readonly collection?: string | undefined;
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

/** A document, queue job or other addressed thing does not exist. */
export class NotFoundError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('NOT_FOUND', message, options);
  }
}

/** A write would create a second document with the same id or unique value. */
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
 */
export class ConflictError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('CONFLICT', message, { retryable: true, ...options });
  }
}

/** Input was rejected before anything was written. `path` names the offending value. */
export class ValidationError extends BerthError {
  /** Dotted path of the offending value (`stats.born`), or `''` for the input as a whole. */
  readonly path: string;
  constructor(message: string, path = '', options?: BerthErrorOptions) {
    super('VALIDATION', message, options);
    this.path = path;
  }
}

/** The engine could not be reached or refused the connection. */
export class ConnectionError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('CONNECTION', message, { retryable: true, ...options });
  }
}

/** The engine did not answer in time (lock wait, statement timeout). */
export class TimeoutError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('TIMEOUT', message, { retryable: true, ...options });
  }
}

/** A transaction was misused or could not be completed. */
export class TransactionError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('TRANSACTION', message, options);
  }
}

/** The adapter declares this capability unsupported. */
export class UnsupportedError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('UNSUPPORTED', message, options);
  }
}

/** The caller's AbortSignal fired before the operation completed. */
export class AbortedError extends BerthError {
  constructor(message: string, options?: BerthErrorOptions) {
    super('ABORTED', message, options);
  }
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
