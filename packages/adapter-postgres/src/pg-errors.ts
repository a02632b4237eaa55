import {
  AlreadyExistsError,
  ConflictError,
  ConnectionError,
  isBerthError,
  TimeoutError,
  ValidationError,
} from '@berth/core';
import { NETWORK_ERROR_CODES } from '@berth/core/adapter';

interface PgErrorLike {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly constraint?: unknown;
  /** Node's system call that failed, on network errors (`connect`). */
  readonly syscall?: unknown;
  /** The server's severity (`ERROR`, `FATAL`, ...; localized by lc_messages), on errors the server sent. */
  readonly severity?: unknown;
}

/**
 * Where an error happened, for the Berth error's fields and message.
 *
 * ### Examples
 * ```ts
 * import { type PgErrorContext, toBerthError } from '@berth/adapter-postgres';
 *
 * declare const error: unknown; // what pg threw on an insert into `players`
 * const context: PgErrorContext = { collection: 'players', id: 'ada' };
 * throw toBerthError(error, context);
 * ```
 */
export interface PgErrorContext {
  readonly collection?: string | undefined;
  readonly id?: string | undefined;
}

/** pg's own messages for a client that lost or never had its connection. */
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'timeout exceeded when trying to connect',
  'Cannot use a pool after calling end on the pool',
];

/**
 * Turns an error from `pg` into a Berth error by its SQLSTATE:
 * serialization failures and deadlocks are retryable CONFLICTs, a statement
 * or lock timeout (or a query cancelled) is TIMEOUT, a lost or refused
 * connection (and the server shutting down) is a retryable CONNECTION error,
 * unique violations are ALREADY_EXISTS, bad values are VALIDATION, pg's
 * client-side `query_timeout` is TIMEOUT too. Anything else is returned as it is.
 *
 * ### Examples
 * ```ts
 * import { type PostgresBackendConfig, toBerthError } from '@berth/adapter-postgres';
 * import { isBerthError } from '@berth/core';
 *
 * // Raw SQL next to Berth, with the same typed errors.
 * declare const pool: NonNullable<PostgresBackendConfig['pool']>; // your application's pg Pool
 * try {
 *   await pool.query('INSERT INTO app.audit (id) VALUES ($1)', ['a1']);
 * } catch (error) {
 *   const mapped = toBerthError(error, { collection: 'audit', id: 'a1' });
 *   if (isBerthError(mapped, 'ALREADY_EXISTS')) console.log('already audited');
 *   else throw mapped;
 * }
 * ```
 */
export function toBerthError(error: unknown, context: PgErrorContext = {}): unknown {
  if (isBerthError(error)) return error;
  const { code, message } = (error ?? {}) as PgErrorLike;
  const text = typeof message === 'string' ? message : String(error);
  const options = { cause: error, collection: context.collection, id: context.id };
  if (typeof code === 'string') {
    if (code === '40001' || code === '40P01') {
      const what = code === '40001' ? 'a serialization failure' : 'a deadlock';
      return new ConflictError(`PostgreSQL aborted the transaction on ${what}; run it again (${text})`, options);
    }
    if (code === '57014' || code === '55P03') {
      return new TimeoutError(`PostgreSQL cancelled the statement: ${text}`, options);
    }
    if (code === '23505') {
      return new AlreadyExistsError(
        `${context.collection ?? 'the collection'} already has a document with this ${isPrimaryKey(error) ? 'id' : 'unique value'}`,
        isPrimaryKey(error) ? 'id' : 'unknown',
        options,
      );
    }
    // Class 08: connection exceptions; 57P01-57P03: the server is shutting down or starting.
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') {
      return new ConnectionError(`the PostgreSQL connection failed; try again (${text})`, options);
    }
    // Class 22: data exceptions (a value PostgreSQL cannot store, such as NUL in text).
    if (code.startsWith('22')) return new ValidationError(`PostgreSQL refused a value: ${text}`, '', options);
    // Any failure to connect, including to a Unix-domain socket whose file is
    // gone while the server is down (ENOENT).
    if (NETWORK_ERROR_CODES.has(code) || (error as PgErrorLike).syscall === 'connect') {
      return new ConnectionError(
        `cannot reach PostgreSQL (${code}); check that the server runs and the URL is right (${text})`,
        options,
      );
    }
  }
  // pg's own `query_timeout`: the client stopped waiting; the statement may still run on the server.
  if (text === 'Query read timeout') {
    return new TimeoutError(
      `pg stopped waiting for the statement (query_timeout); it may still run on the server`,
      options,
    );
  }
  if (CONNECTION_MESSAGES.some((known) => text.includes(known))) {
    return new ConnectionError(`the PostgreSQL connection failed; try again (${text})`, options);
  }
  return error;
}

/**
 * SQLSTATEs (and classes) of server errors that end the session, or come
 * from a connection that never was one: connection exceptions (08), invalid
 * authorization (28), operator intervention such as an administrator's
 * pg_terminate_backend, a shutdown or an idle-session timeout (57P), an
 * idle-in-transaction timeout (25P03), and internal errors (XX), where
 * starting afresh is the safe course.
 */
const SESSION_ENDING = ['08', '28', '57P', '25P03', 'XX'];

/**
 * Whether the connection a statement failed on is still fit for the next
 * one: the server refused the statement (a SQLSTATE and a severity, which
 * only errors PostgreSQL sent carry) and the session goes on. Not so for a
 * lost connection or a failure the server did not report (ECONNRESET, pg's
 * client-side query_timeout, whose statement may still run), nor for the
 * errors that end the session.
 */
export function leavesSessionUsable(error: unknown): boolean {
  const { code, severity } = (error ?? {}) as PgErrorLike;
  if (typeof code !== 'string' || typeof severity !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return false;
  if (severity === 'FATAL' || severity === 'PANIC') return false;
  return !SESSION_ENDING.some((prefix) => code.startsWith(prefix));
}

function isPrimaryKey(error: unknown): boolean {
  const constraint = (error as PgErrorLike).constraint;
  return typeof constraint === 'string' && constraint.endsWith('_pkey');
}
