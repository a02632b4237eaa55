import { AbortedError, ValidationError } from '../errors.js';
import { checkOptions, isAbortSignal } from './arguments.js';

/**
 * Per-call options every async operation accepts.
 *
 * ### Examples
 * ```ts
 * import type { Repository } from '@berth/core';
 *
 * async function countWithin(users: Repository, ms: number): Promise<number> {
 *   return users.count({ active: true }, { signal: AbortSignal.timeout(ms) });
 * }
 * ```
 */
export interface SignalOptions {
  /** Aborting rejects the operation with an `ABORTED` error whose `cause` is `signal.reason`. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Throws an `ABORTED` error when `signal` has fired. Adapters call it before
 * starting work and between steps. A `signal` that is not an AbortSignal is a
 * `VALIDATION` error: ignoring it would make the call unabortable silently.
 *
 * ### Examples
 * ```ts
 * import type { SignalOptions } from '@berth/core';
 * import { throwIfAborted } from '@berth/core/adapter';
 *
 * async function copyAll(ids: string[], copy: (id: string) => Promise<void>, options?: SignalOptions): Promise<void> {
 *   for (const id of ids) {
 *     throwIfAborted(options?.signal, 'copyAll'); // between steps
 *     await copy(id);
 *   }
 * }
 * ```
 */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'operation'): void {
  if (signal === undefined) return;
  if (!isAbortSignal(signal)) throw new ValidationError(`${what}: signal must be an AbortSignal`, 'signal');
  if (signal.aborted) {
    throw new AbortedError(`${what} was aborted`, { cause: signal.reason });
  }
}

/**
 * What every operation does first: checks its per-call options (see
 * `checkOptions`) and throws `ABORTED` when their signal has already fired.
 *
 * ### Examples
 * ```ts
 * import type { SignalOptions } from '@berth/core';
 * import { startOperation } from '@berth/core/adapter';
 *
 * async function count(options?: SignalOptions): Promise<number> {
 *   startOperation(options, 'count'); // VALIDATION for bad options, ABORTED when already aborted
 *   return 0;
 * }
 * ```
 */
export function startOperation(options: SignalOptions | undefined, what: string): void {
  checkOptions(options, what);
  throwIfAborted(options?.signal, what);
}
