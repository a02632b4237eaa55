import type { BackoffPolicy, JobError } from './job.js';
import { JOB_DEFAULTS } from './job-options.js';

/**
 * A failed attempt as adapters store it in JSON: the time as epoch milliseconds.
 *
 * ### Examples
 * ```ts
 * import { type StoredJobError, storedJobError } from '@berth/core/adapter';
 *
 * const stored: StoredJobError = storedJobError({ attempt: 1, message: 'timeout', at: new Date(0) });
 * // { attempt: 1, message: 'timeout', at: 0 }
 * ```
 */
export interface StoredJobError {
  readonly attempt: number;
  readonly message: string;
  readonly name?: string;
  readonly at: number;
}

/**
 * The JSON form of one failed attempt (no `name` key when it has none).
 *
 * ### Examples
 * ```ts
 * import { jobErrorOf, storedJobError } from '@berth/core/adapter';
 *
 * const column = JSON.stringify([storedJobError({ attempt: 1, message: 'boom', name: 'Error', at: new Date() })]);
 * const errors = JSON.parse(column).map(jobErrorOf);
 * ```
 */
export function storedJobError(error: JobError): StoredJobError {
  return {
    attempt: error.attempt,
    message: error.message,
    ...(error.name === undefined ? {} : { name: error.name }),
    at: error.at.getTime(),
  };
}

/**
 * A failed attempt read back from its JSON form.
 *
 * ### Examples
 * ```ts
 * import { jobErrorOf } from '@berth/core/adapter';
 *
 * const error = jobErrorOf({ attempt: 2, message: 'boom', at: 1_767_225_600_000 }); // `at` back as a Date
 * ```
 */
export function jobErrorOf(stored: StoredJobError): JobError {
  return { attempt: stored.attempt, message: stored.message, name: stored.name, at: new Date(stored.at) };
}

const DEFAULT_BACKOFF = JSON.stringify(JOB_DEFAULTS.backoff);

/**
 * A job's backoff policy as stored: NULL for the default policy (most jobs use it, and rows stay small), else JSON.
 *
 * ### Examples
 * ```ts
 * import { decodeBackoff, encodeBackoff, JOB_DEFAULTS } from '@berth/core/adapter';
 *
 * encodeBackoff(JOB_DEFAULTS.backoff); // null
 * const text = encodeBackoff({ type: 'fixed', delayMs: 100 }); // '{"type":"fixed","delayMs":100}'
 * decodeBackoff(text); // { type: 'fixed', delayMs: 100 }
 * ```
 */
export function encodeBackoff(policy: BackoffPolicy): string | null {
  if (policy === JOB_DEFAULTS.backoff) return null;
  const text = JSON.stringify(policy);
  return text === DEFAULT_BACKOFF ? null : text;
}

/**
 * The backoff policy stored by {@link encodeBackoff}.
 *
 * ### Examples
 * ```ts
 * import { decodeBackoff } from '@berth/core/adapter';
 *
 * decodeBackoff(null); // the default policy
 * ```
 */
export function decodeBackoff(text: string | null): BackoffPolicy {
  return text === null ? JOB_DEFAULTS.backoff : (JSON.parse(text) as BackoffPolicy);
}
