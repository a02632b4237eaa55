import { AbortedError, isBerthError, ValidationError } from '../errors.js';
import { type SignalOptions, startOperation, throwIfAborted } from './abort.js';
import { checkTransactionWork } from './arguments.js';

/**
 * How `transaction(work, { retries })` retries a transaction that failed with
 * a retryable `CONFLICT`: a number is how many more attempts to make (with the
 * default delays); the object also sets the delays.
 *
 * ### Examples
 * ```ts
 * import type { RepositoryBackend, TransactionRetries } from '@berth/core';
 *
 * const patient: TransactionRetries = { retries: 20, minDelayMs: 10, maxDelayMs: 1_000 };
 *
 * async function book(backend: RepositoryBackend, seat: string): Promise<void> {
 *   await backend.transaction(async (tx) => {
 *     await tx.repository('seats').update(seat, { taken: true });
 *   }, { retries: patient });
 * }
 * ```
 */
export type TransactionRetries =
  | number
  | {
      /** How many more attempts after the first (0 to 100). */
      readonly retries: number;
      /** Delay before the first retry, in milliseconds (default 5). */
      readonly minDelayMs?: number | undefined;
      /** Largest delay between two attempts, in milliseconds (default 500). */
      readonly maxDelayMs?: number | undefined;
    };

/**
 * A validated {@link TransactionRetries}.
 *
 * ### Examples
 * ```ts
 * import { normalizeRetries, type RetryPolicy } from '@berth/core/adapter';
 *
 * const policy: RetryPolicy | undefined = normalizeRetries(3); // { retries: 3, minDelayMs: 5, maxDelayMs: 500 }
 * ```
 */
export interface RetryPolicy {
  readonly retries: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * Most retries a transaction may ask for: beyond it, contention is a design problem, not bad luck.
 *
 * ### Examples
 * ```ts
 * import { MAX_TRANSACTION_RETRIES, normalizeRetries } from '@berth/core/adapter';
 *
 * normalizeRetries(MAX_TRANSACTION_RETRIES); // accepted; one more is a VALIDATION error
 * ```
 */
export const MAX_TRANSACTION_RETRIES = 100;

const DEFAULT_MIN_DELAY_MS = 5;
const DEFAULT_MAX_DELAY_MS = 500;
/** Longest delay that may be asked for (one minute). */
const MAX_DELAY_MS = 60_000;

function checkCount(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_TRANSACTION_RETRIES) {
    throw new ValidationError(
      `retries must be an integer from 0 to ${MAX_TRANSACTION_RETRIES}, got ${typeof value === 'number' ? String(value) : typeof value}`,
      'retries',
    );
  }
  return value;
}

function checkDelay(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_DELAY_MS) {
    throw new ValidationError(`${name} must be a number of milliseconds from 0 to ${MAX_DELAY_MS}`, `retries.${name}`);
  }
  return value;
}

/**
 * Validates the `retries` option of a transaction; `undefined` when absent
 * (one attempt). A bad value is a `VALIDATION` error, thrown before the work runs.
 *
 * ### Examples
 * ```ts
 * import { normalizeRetries } from '@berth/core/adapter';
 *
 * normalizeRetries(undefined); // undefined: one attempt
 * normalizeRetries({ retries: 5, maxDelayMs: 100 }); // { retries: 5, minDelayMs: 5, maxDelayMs: 100 }
 * ```
 */
export function normalizeRetries(retries: unknown): RetryPolicy | undefined {
  if (retries === undefined) return undefined;
  if (typeof retries === 'number') {
    return { retries: checkCount(retries), minDelayMs: DEFAULT_MIN_DELAY_MS, maxDelayMs: DEFAULT_MAX_DELAY_MS };
  }
  if (typeof retries !== 'object' || retries === null || Array.isArray(retries)) {
    throw new ValidationError('retries must be a number or { retries, minDelayMs?, maxDelayMs? }', 'retries');
  }
  const shape = retries as { retries?: unknown; minDelayMs?: unknown; maxDelayMs?: unknown };
  const minDelayMs = checkDelay('minDelayMs', shape.minDelayMs, DEFAULT_MIN_DELAY_MS);
  const maxDelayMs = checkDelay('maxDelayMs', shape.maxDelayMs, Math.max(DEFAULT_MAX_DELAY_MS, minDelayMs));
  if (maxDelayMs < minDelayMs) {
    throw new ValidationError('retries.maxDelayMs must be at least minDelayMs', 'retries.maxDelayMs');
  }
  return { retries: checkCount(shape.retries), minDelayMs, maxDelayMs };
}

/**
 * The delay before retry number `retry` (1 for the first): "full jitter"
 * exponential backoff, a random time up to `minDelayMs · 2^(retry-1)`
 * (capped at `maxDelayMs`), never under a tenth of `minDelayMs`. Randomness
 * spreads callers that collided, so they do not collide again in step.
 *
 * ### Examples
 * ```ts
 * import { retryDelay } from '@berth/core/adapter';
 *
 * const policy = { retries: 5, minDelayMs: 10, maxDelayMs: 1_000 };
 * retryDelay(policy, 3, () => 1); // 40: the largest delay of the third retry
 * ```
 */
export function retryDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.min(retry - 1, 30));
  return Math.max(policy.minDelayMs / 10, random() * ceiling);
}

/**
 * Whether an error is one a transaction retry may cure: a `CONFLICT` marked retryable.
 *
 * ### Examples
 * ```ts
 * import { ConflictError } from '@berth/core';
 * import { isRetryableConflict } from '@berth/core/adapter';
 *
 * isRetryableConflict(new ConflictError('serialization failure')); // true
 * isRetryableConflict(new Error('boom')); // false
 * ```
 */
export function isRetryableConflict(error: unknown): boolean {
  return isBerthError(error, 'CONFLICT') && error.retryable;
}

/** Waits `ms`, or rejects with `ABORTED` as soon as `signal` fires. */
function pause(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal === undefined) {
      setTimeout(resolve, ms);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError(`${what} was aborted while waiting to retry`, { cause: signal.reason }));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `attempt` and, while it fails with a retryable `CONFLICT` and retries
 * are left, waits a jittered, growing delay and runs it again. Any other error
 * is thrown at once; when the retries run out, the last CONFLICT is. Aborting
 * `signal` stops the wait (`ABORTED`, cause `signal.reason`).
 *
 * Adapters call it from `transaction()` so the loop is the same everywhere;
 * the attempt must roll back completely before it throws.
 *
 * ### Examples
 * ```ts
 * import { normalizeRetries, withRetries } from '@berth/core/adapter';
 *
 * let calls = 0;
 * const result = await withRetries(async () => ++calls, normalizeRetries(3), undefined, 'demo');
 * // result === 1: a success is not retried
 * ```
 */
export async function withRetries<R>(
  attempt: () => Promise<R>,
  policy: RetryPolicy | undefined,
  signal: AbortSignal | undefined,
  what = 'transaction',
): Promise<R> {
  for (let retry = 1; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      if (policy === undefined || retry > policy.retries || !isRetryableConflict(error)) throw error;
    }
    await pause(retryDelay(policy, retry), signal, what);
    throwIfAborted(signal, what);
  }
}

/**
 * What every adapter's `transaction(work, options)` does around its own
 * attempt: checks `work` and the options (a `VALIDATION` or `ABORTED`
 * rejection, `work` never run), then runs `attempt`, again after a jittered
 * delay for each retryable `CONFLICT` while `options.retries` allows. Without
 * retries the attempt's own promise is returned, so no extra turn falls
 * between its commit and the caller seeing it (`close()` relies on that).
 *
 * ### Examples
 * ```ts
 * import { runTransaction } from '@berth/core/adapter';
 *
 * const result = await runTransaction(async () => 42, { retries: 3 }, async () => 42);
 * ```
 */
export function runTransaction<R>(
  work: unknown,
  options: (SignalOptions & { readonly retries?: unknown }) | undefined,
  attempt: () => Promise<R>,
): Promise<R> {
  let policy: RetryPolicy | undefined;
  try {
    checkTransactionWork(work);
    startOperation(options, 'transaction');
    policy = normalizeRetries(options?.retries);
  } catch (error) {
    return Promise.reject(error);
  }
  if (policy === undefined) return attempt();
  return withRetries(attempt, policy, options?.signal);
}
