import type { BackoffPolicy, JobError } from './job.js';
import { JOB_DEFAULTS } from './job-options.js';

/** A failed attempt as adapters store it in JSON: the time as epoch milliseconds. */
export interface StoredJobError {
  readonly attempt: number;
  readonly message: string;
  readonly name?: string;
  readonly at: number;
}

/** The JSON form of one failed attempt (no `name` key when it has none). */
export function storedJobError(error: JobError): StoredJobError {
  return {
    attempt: error.attempt,
    message: error.message,
    ...(error.name === undefined ? {} : { name: error.name }),
    at: error.at.getTime(),
  };
}

/** A failed attempt read back from its JSON form. */
export function jobErrorOf(stored: StoredJobError): JobError {
  return { attempt: stored.attempt, message: stored.message, name: stored.name, at: new Date(stored.at) };
}

const DEFAULT_BACKOFF = JSON.stringify(JOB_DEFAULTS.backoff);

/** A job's backoff policy as stored: NULL for the default policy (most jobs use it, and rows stay small), else JSON. */
export function encodeBackoff(policy: BackoffPolicy): string | null {
  if (policy === JOB_DEFAULTS.backoff) return null;
  const text = JSON.stringify(policy);
  return text === DEFAULT_BACKOFF ? null : text;
}

/** The backoff policy stored by {@link encodeBackoff}. */
export function decodeBackoff(text: string | null): BackoffPolicy {
  return text === null ? JOB_DEFAULTS.backoff : (JSON.parse(text) as BackoffPolicy);
}
