import { AlreadyExistsError, ConnectionError, isBerthError, TimeoutError, ValidationError } from '@berth/core';

interface SqliteErrorLike {
  readonly code?: unknown;
  readonly message?: unknown;
}

/**
 * Turns a better-sqlite3 error into a Berth error. A database locked past
 * the busy timeout is a retryable TIMEOUT, never a hang; a file that is not
 * a database is a CONNECTION error.
 */
export function toBerthError(error: unknown, context: { collection?: string; id?: string } = {}): unknown {
  if (isBerthError(error)) return error;
  const { code, message } = (error ?? {}) as SqliteErrorLike;
  const text = typeof message === 'string' ? message : String(error);
  const options = { cause: error, collection: context.collection, id: context.id };
  switch (primaryCode(code)) {
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return new TimeoutError(
        `the SQLite database is locked by another connection past the busy timeout; try again (${text})`,
        options,
      );
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return new ConnectionError(`the file is not a usable SQLite database: ${text}`, { ...options, retryable: false });
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_READONLY':
    case 'SQLITE_IOERR':
    case 'SQLITE_FULL':
      return new ConnectionError(`SQLite cannot use the database file: ${text}`, options);
    case 'SQLITE_TOOBIG':
      return new ValidationError(`the value is too big for SQLite: ${text}`, '', options);
    case 'SQLITE_CONSTRAINT':
      if (code !== 'SQLITE_CONSTRAINT_UNIQUE' && code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') return error;
      return new AlreadyExistsError(
        `${context.collection ?? 'the collection'} already has a document with this ${code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ? 'id' : 'unique value'}`,
        code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ? 'id' : 'unknown',
        options,
      );
    default:
      return error;
  }
}

/**
 * better-sqlite3 reports extended result codes (`SQLITE_IOERR_SHORT_READ`,
 * `SQLITE_CORRUPT_INDEX`, `SQLITE_BUSY_TIMEOUT`, `SQLITE_CANTOPEN_ISDIR`…);
 * the primary code before the second underscore is what decides the kind.
 */
function primaryCode(code: unknown): string | undefined {
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined;
  const end = code.indexOf('_', 'SQLITE_'.length);
  return end === -1 ? code : code.slice(0, end);
}
