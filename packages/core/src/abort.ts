import { AbortedError } from './errors.js';

/** Per-call options every async operation accepts. */
export interface SignalOptions {
  /** Aborting rejects the operation with an `ABORTED` error whose `cause` is `signal.reason`. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Throws an `ABORTED` error when `signal` has fired. Adapters call it before
 * starting work and between steps.
 */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'operation'): void {
  if (signal?.aborted) {
    throw new AbortedError(`${what} was aborted`, { cause: signal.reason });
  }
}
