import { isBerthError, ValidationError } from '../errors.js';
import { checkId, isPlainObject } from '../values/values.js';

/*
 * Checks of the arguments of public entry points, so that a wrong type
 * (`insertMany(null)`, `transaction(5)`, `{ signal: 'x' }`) is a VALIDATION
 * error before any work, on every adapter, rather than a TypeError from
 * wherever the value is first used.
 */

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Whether `value` can be used as an AbortSignal (any realm, or a compatible polyfill).
 *
 * ### Examples
 * ```ts
 * import { isAbortSignal } from '@berth/core/adapter';
 *
 * isAbortSignal(AbortSignal.timeout(100)); // true
 * isAbortSignal({ aborted: false }); // false
 * ```
 */
export function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  );
}

/**
 * Checks per-call options: `undefined` or an object, whose `signal`, when
 * set, is an AbortSignal.
 *
 * ### Examples
 * ```ts
 * import { checkOptions } from '@berth/core/adapter';
 *
 * checkOptions(undefined, 'get'); // passes
 * checkOptions({ signal: AbortSignal.timeout(100) }, 'get'); // passes
 * ```
 */
export function checkOptions(options: unknown, operation: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ValidationError(`${operation} options must be an object, got ${describe(options)}`, 'options');
  }
  const signal = (options as { signal?: unknown }).signal;
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new ValidationError(`${operation}: signal must be an AbortSignal, got ${describe(signal)}`, 'signal');
  }
}

/**
 * Checks an id argument (`get`, `update`, `delete`…): a string following the id rules.
 *
 * ### Examples
 * ```ts
 * import { checkIdArgument } from '@berth/core/adapter';
 *
 * function keyOf(id: unknown): string {
 *   checkIdArgument(id, 'users');
 *   return `users/${id}`;
 * }
 * ```
 */
export function checkIdArgument(id: unknown, collection: string): asserts id is string {
  checkId(id, collection);
}

/**
 * Checks the ids of `getMany`: an array of valid ids. An error names the position (`ids.2`).
 *
 * ### Examples
 * ```ts
 * import { checkIdsArgument } from '@berth/core/adapter';
 *
 * function keysOf(ids: unknown): string[] {
 *   checkIdsArgument(ids, 'users'); // a bad id is reported at its position: `ids.2`
 *   return ids.map((id) => `users/${id}`);
 * }
 * ```
 */
export function checkIdsArgument(ids: unknown, collection: string): asserts ids is readonly string[] {
  if (!Array.isArray(ids)) {
    throw new ValidationError(`getMany takes an array of ids, got ${describe(ids)}`, 'ids', { collection });
  }
  for (let index = 0; index < ids.length; index++) {
    try {
      checkId(ids[index], collection);
    } catch (error) {
      if (!isBerthError(error, 'VALIDATION')) throw error;
      throw new ValidationError(`ids.${index}: ${error.message}`, `ids.${index}`, { collection, cause: error });
    }
  }
}

/**
 * Checks the documents of a bulk write: an array (each document is validated later).
 *
 * ### Examples
 * ```ts
 * import { checkArrayArgument } from '@berth/core/adapter';
 *
 * function countDocuments(documents: unknown): number {
 *   checkArrayArgument(documents, 'insertMany', 'users');
 *   return documents.length;
 * }
 * ```
 */
export function checkArrayArgument(value: unknown, operation: string, collection: string): asserts value is unknown[] {
  if (!Array.isArray(value)) {
    throw new ValidationError(`${operation} takes an array of documents, got ${describe(value)}`, '', { collection });
  }
}

/**
 * Checks a query (or filter) argument before an adapter reads from it:
 * `undefined` or a plain object.
 *
 * ### Examples
 * ```ts
 * import { checkQueryArgument } from '@berth/core/adapter';
 *
 * checkQueryArgument({ where: { a: 1 } }, 'find'); // passes
 * checkQueryArgument(undefined, 'find'); // passes
 * ```
 */
export function checkQueryArgument(query: unknown, operation: string): void {
  if (query !== undefined && !isPlainObject(query)) {
    throw new ValidationError(`${operation} takes a query object, got ${describe(query)}`, '');
  }
}

/**
 * Checks the callback of `transaction()`.
 *
 * ### Examples
 * ```ts
 * import { checkTransactionWork } from '@berth/core/adapter';
 *
 * async function transaction<R>(work: () => Promise<R>): Promise<R> {
 *   checkTransactionWork(work); // VALIDATION unless a function
 *   return work();
 * }
 * ```
 */
export function checkTransactionWork(work: unknown): void {
  if (typeof work !== 'function') {
    throw new ValidationError(`transaction takes a function (tx) => Promise, got ${describe(work)}`, 'work');
  }
}

/**
 * Whether a write's options ask for the written entry (`returnEntry: true`).
 * `returnEntry` must be a boolean or absent; anything else is a
 * `VALIDATION` error, before any work.
 *
 * ### Examples
 * ```ts
 * import { wantsEntry } from '@berth/core/adapter';
 *
 * wantsEntry({ returnEntry: true }, 'insert'); // true
 * wantsEntry(undefined, 'insert'); // false
 * ```
 */
export function wantsEntry(options: unknown, operation: string): boolean {
  if (typeof options !== 'object' || options === null) return false;
  const returnEntry = (options as { returnEntry?: unknown }).returnEntry;
  if (returnEntry === undefined || typeof returnEntry === 'boolean') return returnEntry === true;
  throw new ValidationError(
    `${operation}: returnEntry must be true or false, got ${describe(returnEntry)}`,
    'returnEntry',
  );
}
