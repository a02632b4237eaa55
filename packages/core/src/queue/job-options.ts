import { ValidationError } from '../errors.js';
import type { DocumentValue } from '../values/document.js';
import { copyValue, isPlainObject, MAX_DOCUMENT_BYTES } from '../values/values.js';
import type { BackoffPolicy, JobError, LeaseRef } from './job.js';
import { checkDedupeKey, checkInteger } from './job-field-checks.js';
import type { EnqueueItem, EnqueueOptions } from './job-queue.js';

/**
 * Defaults every queue adapter applies.
 *
 * ### Examples
 * ```ts
 * import { JOB_DEFAULTS } from '@berth/core/adapter';
 *
 * console.log(JOB_DEFAULTS.maxAttempts, JOB_DEFAULTS.leaseMs); // 3 30000
 * ```
 */
export const JOB_DEFAULTS: {
  readonly priority: number;
  readonly maxAttempts: number;
  readonly leaseMs: number;
  readonly backoff: BackoffPolicy;
} = {
  priority: 0,
  maxAttempts: 3,
  leaseMs: 30_000,
  backoff: { type: 'exponential', delayMs: 1_000, maxDelayMs: 3_600_000, jitter: 'none' },
};

const MAX_DELAY_MS = 100 * 365 * 24 * 3_600_000;

/**
 * Enqueue options with defaults applied and every value checked.
 *
 * ### Examples
 * ```ts
 * import { type NormalizedEnqueue, normalizeEnqueueOptions } from '@berth/core/adapter';
 *
 * const options: NormalizedEnqueue = normalizeEnqueueOptions({ delayMs: 5_000 }, Date.now());
 * console.log(options.runAt, options.maxAttempts);
 * ```
 */
export interface NormalizedEnqueue {
  readonly runAt: Date;
  readonly priority: number;
  readonly maxAttempts: number;
  readonly backoff: BackoffPolicy;
  readonly dedupeKey: string | undefined;
  readonly leaseMs: number;
  /** How long one attempt may run; `undefined`: the worker's default. */
  readonly timeoutMs: number | undefined;
}

/**
 * Checks a duration in milliseconds (an integer >= `min`).
 *
 * ### Examples
 * ```ts
 * import { checkDuration } from '@berth/core/adapter';
 *
 * const leaseMs = checkDuration('leaseMs', 30_000, 1); // 30000; 0 or 1.5 would be a VALIDATION error
 * ```
 */
export function checkDuration(name: string, value: unknown, min = 0): number {
  return checkInteger(name, value, min, MAX_DELAY_MS);
}

function checkBackoff(value: unknown): BackoffPolicy {
  if (!isPlainObject(value)) throw new ValidationError('backoff must be { type, delayMs, ... }', 'backoff');
  if (value.type === 'fixed') return { type: 'fixed', delayMs: checkDuration('backoff.delayMs', value.delayMs) };
  if (value.type === 'exponential') {
    const jitter = value.jitter ?? 'none';
    if (jitter !== 'none' && jitter !== 'full' && jitter !== 'equal') {
      throw new ValidationError('backoff.jitter must be "none", "full" or "equal"', 'backoff.jitter');
    }
    return {
      type: 'exponential',
      delayMs: checkDuration('backoff.delayMs', value.delayMs),
      maxDelayMs: checkDuration('backoff.maxDelayMs', value.maxDelayMs ?? 3_600_000),
      jitter,
    };
  }
  throw new ValidationError('backoff.type must be "fixed" or "exponential"', 'backoff.type');
}

/**
 * Validates enqueue options and applies the defaults.
 *
 * ### Examples
 * ```ts
 * import { normalizeEnqueueOptions } from '@berth/core/adapter';
 *
 * const { runAt, priority, dedupeKey } = normalizeEnqueueOptions({ priority: 5, dedupeKey: 'report' }, Date.now());
 * ```
 */
export function normalizeEnqueueOptions(options: EnqueueOptions | undefined, now: number): NormalizedEnqueue {
  if (options !== undefined && !isPlainObject(options))
    throw new ValidationError('enqueue options must be an object', '');
  if (options?.runAt !== undefined && options.delayMs !== undefined) {
    throw new ValidationError('runAt and delayMs cannot be combined', 'delayMs');
  }
  let runAt = new Date(now);
  if (options?.runAt !== undefined) {
    if (!(options.runAt instanceof Date) || Number.isNaN(options.runAt.getTime())) {
      throw new ValidationError('runAt must be a valid Date', 'runAt');
    }
    runAt = new Date(options.runAt.getTime());
  } else if (options?.delayMs !== undefined) {
    runAt = new Date(now + checkDuration('delayMs', options.delayMs));
  }
  const dedupeKey = checkDedupeKey(options?.dedupeKey);
  return {
    runAt,
    priority: checkInteger('priority', options?.priority ?? JOB_DEFAULTS.priority, -1_000_000, 1_000_000),
    maxAttempts: checkInteger('maxAttempts', options?.maxAttempts ?? JOB_DEFAULTS.maxAttempts, 1, 1_000_000),
    backoff: options?.backoff === undefined ? JOB_DEFAULTS.backoff : checkBackoff(options.backoff),
    dedupeKey,
    leaseMs: checkDuration('leaseMs', options?.leaseMs ?? JOB_DEFAULTS.leaseMs, 1),
    timeoutMs: options?.timeoutMs === undefined ? undefined : checkDuration('timeoutMs', options.timeoutMs, 1),
  };
}

/**
 * Validates a job payload (or result) and returns a canonical copy. Its JSON
 * text must fit in `maxBytes` (the adapter's `capabilities.queue.maxPayloadBytes`).
 *
 * ### Examples
 * ```ts
 * import { copyPayload } from '@berth/core/adapter';
 *
 * const payload = copyPayload<{ to: string }>({ to: 'ada@example.com' }, 'payload', 64 * 1024);
 * ```
 */
export function copyPayload<T>(payload: unknown, path = 'payload', maxBytes: number = MAX_DOCUMENT_BYTES): T {
  if (payload === undefined) throw new ValidationError(`${path} is undefined; use null`, path);
  return copyValue(payload, path, maxBytes) as T;
}

/**
 * The delay before attempt `attempt + 1` after attempt `attempt` (1-based)
 * failed. `random` is injectable for tests.
 *
 * ### Examples
 * ```ts
 * import { backoffDelay } from '@berth/core/adapter';
 *
 * backoffDelay({ type: 'exponential', delayMs: 1_000 }, 3); // 4000: after the third failed attempt
 * backoffDelay({ type: 'fixed', delayMs: 500 }, 3); // 500
 * ```
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  if (policy.type === 'fixed') return policy.delayMs;
  const exponent = Math.min(Math.max(attempt - 1, 0), 52);
  const delay = Math.min(policy.maxDelayMs ?? 3_600_000, policy.delayMs * 2 ** exponent);
  switch (policy.jitter ?? 'none') {
    case 'full':
      return Math.round(random() * delay);
    case 'equal':
      return Math.round(delay / 2 + random() * (delay / 2));
    default:
      return delay;
  }
}

/**
 * Turns whatever a handler threw into the error kept on the job.
 *
 * ### Examples
 * ```ts
 * import { toJobError } from '@berth/core/adapter';
 *
 * const error = toJobError(new TypeError('bad input'), 2, new Date()); // { attempt: 2, message: 'bad input', name: 'TypeError', at }
 * ```
 */
export function toJobError(error: unknown, attempt: number, at: Date): JobError {
  let message: string;
  let name: string | undefined;
  if (error instanceof Error) {
    message = error.message;
    const code = (error as { code?: unknown }).code;
    name = typeof code === 'string' ? code : error.name;
  } else if (typeof error === 'string') {
    message = error;
  } else {
    try {
      message = JSON.stringify(error) ?? String(error);
    } catch {
      message = String(error);
    }
  }
  // Keep errors storable everywhere (no U+0000, bounded size).
  return { attempt, message: capErrorMessage(message.replaceAll('\u0000', '').toWellFormed()), name, at };
}

/**
 * The longest message kept on a job error, in UTF-16 code units (64 Ki), the truncation note included.
 *
 * ### Examples
 * ```ts
 * import { capErrorMessage, MAX_JOB_ERROR_MESSAGE } from '@berth/core/adapter';
 *
 * capErrorMessage('x'.repeat(MAX_JOB_ERROR_MESSAGE * 2)).length <= MAX_JOB_ERROR_MESSAGE; // true
 * ```
 */
export const MAX_JOB_ERROR_MESSAGE = 65_536;

/**
 * Cuts a message longer than {@link MAX_JOB_ERROR_MESSAGE}: its start is kept
 * and a note saying how many characters were cut ends it, so a reader knows the
 * message is incomplete. A surrogate pair is never split.
 *
 * ### Examples
 * ```ts
 * import { capErrorMessage } from '@berth/core/adapter';
 *
 * const kept = capErrorMessage('short message'); // unchanged
 * ```
 */
export function capErrorMessage(message: string): string {
  if (message.length <= MAX_JOB_ERROR_MESSAGE) return message;
  // Room for the note with the largest count a string can reach, so the result never exceeds the cap.
  const reserve = truncationNote(10 ** 10).length;
  let kept = MAX_JOB_ERROR_MESSAGE - reserve;
  const last = message.charCodeAt(kept - 1);
  if (last >= 0xd800 && last <= 0xdbff) kept -= 1;
  return message.slice(0, kept) + truncationNote(message.length - kept);
}

function truncationNote(cut: number): string {
  return `… [truncated: ${cut} more characters]`;
}

/**
 * Copies reported progress, which must be a document value (not undefined).
 *
 * ### Examples
 * ```ts
 * import { copyProgress } from '@berth/core/adapter';
 *
 * const progress = copyProgress({ done: 3, of: 10 });
 * ```
 */
export function copyProgress(progress: unknown, maxBytes: number = MAX_DOCUMENT_BYTES): DocumentValue {
  if (progress === undefined) throw new ValidationError('progress is undefined; use null', 'progress');
  return copyValue(progress, 'progress', maxBytes);
}

/**
 * Copies a job result, which must be a document value.
 *
 * ### Examples
 * ```ts
 * import { copyResult } from '@berth/core/adapter';
 *
 * copyResult(undefined); // undefined: a handler that returns nothing
 * copyResult({ sent: true }); // { sent: true }
 * ```
 */
export function copyResult(result: unknown, maxBytes: number = MAX_DOCUMENT_BYTES): DocumentValue | undefined {
  return result === undefined ? undefined : copyValue(result, 'result', maxBytes);
}

/**
 * A job of `enqueueMany` after validation: a copied payload and options with defaults.
 *
 * ### Examples
 * ```ts
 * import { type PreparedEnqueue, prepareEnqueueItems } from '@berth/core/adapter';
 *
 * const prepared: PreparedEnqueue[] = prepareEnqueueItems([{ payload: { to: 'a' } }], Date.now());
 * console.log(prepared[0]?.options.runAt);
 * ```
 */
export interface PreparedEnqueue {
  readonly payload: DocumentValue;
  readonly options: NormalizedEnqueue;
}

/**
 * Validates the items of `enqueueMany` (each payload and its options) before
 * anything is written. An error in one item names it (`job 2: …`, path `2.payload.when`).
 *
 * ### Examples
 * ```ts
 * import { prepareEnqueueItems } from '@berth/core/adapter';
 *
 * // All items are checked before any is written: a bad one names its position.
 * const jobs = prepareEnqueueItems([{ payload: 1 }, { payload: 2, priority: 10 }], Date.now(), 64 * 1024);
 * ```
 */
export function prepareEnqueueItems(
  items: unknown,
  now: number,
  maxPayloadBytes: number = MAX_DOCUMENT_BYTES,
): PreparedEnqueue[] {
  if (!Array.isArray(items)) throw new ValidationError('enqueueMany takes an array of { payload, ...options }', '');
  return items.map((item: unknown, index) => {
    try {
      if (!isPlainObject(item)) throw new ValidationError('a job is { payload, ...options }', '');
      const {
        payload,
        signal: _signal,
        ...options
      } = item as unknown as EnqueueItem<unknown> & {
        signal?: unknown;
      };
      return {
        payload: copyPayload<DocumentValue>(payload, 'payload', maxPayloadBytes),
        options: normalizeEnqueueOptions(options, now),
      };
    } catch (error) {
      if (items.length === 1 || !(error instanceof ValidationError)) throw error;
      throw new ValidationError(`job ${index}: ${error.message}`, `${index}.${error.path}`, { cause: error });
    }
  });
}

/**
 * Checks that `lease` is what `dequeue` returned and gives its job id and token.
 *
 * ### Examples
 * ```ts
 * import type { LeaseRef } from '@berth/core';
 * import { checkLeaseRef } from '@berth/core/adapter';
 *
 * function leaseKey(lease: LeaseRef): string {
 *   const { id, token } = checkLeaseRef(lease);
 *   return `${id}:${token}`;
 * }
 * ```
 */
export function checkLeaseRef(lease: LeaseRef): { readonly id: string; readonly token: string } {
  const id = (lease as Partial<LeaseRef> | undefined)?.job?.id;
  const token = (lease as Partial<LeaseRef> | undefined)?.token;
  if (typeof id !== 'string' || typeof token !== 'string') {
    throw new ValidationError('expected a lease (the object dequeue returned)', 'lease');
  }
  return { id, token };
}

/**
 * Checks the `count` of `dequeueMany`: an integer from 1 to 10 000.
 *
 * ### Examples
 * ```ts
 * import { checkDequeueCount } from '@berth/core/adapter';
 *
 * const count = checkDequeueCount(50); // 50; 0 or 10 001 would be a VALIDATION error
 * ```
 */
export function checkDequeueCount(count: unknown): number {
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1 || count > 10_000) {
    throw new ValidationError(`count must be an integer from 1 to 10000, got ${String(count)}`, 'count');
  }
  return count;
}
