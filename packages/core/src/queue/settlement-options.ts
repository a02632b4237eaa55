import { type BerthError, isBerthError, ValidationError } from '../errors.js';
import type { DocumentValue } from '../values/document.js';
import { isPlainObject, MAX_DOCUMENT_BYTES } from '../values/values.js';
import type { JobError, LeaseRef } from './job.js';
import { checkDuration, checkLeaseRef, copyResult, toJobError } from './job-options.js';

/**
 * A completion or failure of `settleAndClaim` (or of `complete` and `fail`)
 * checked before anything is written: the lease reference, the copied
 * result, the failure read into a job error (its attempt and time are
 * filled in when it is stored).
 */
export type CheckedSettlement = CheckedCompletion | CheckedFailure;

/** A checked completion: the lease and the copied result. */
export interface CheckedCompletion {
  readonly outcome: 'complete';
  readonly id: string;
  readonly token: string;
  readonly result: DocumentValue | undefined;
}

/** A checked failure: the lease, the error read from what was thrown, and how to retry. */
export interface CheckedFailure {
  readonly outcome: 'fail';
  readonly id: string;
  readonly token: string;
  readonly error: JobError;
  readonly noRetry: boolean;
  readonly retryAfterMs: number | undefined;
}

/** Checks a completion: the lease reference and the result (VALIDATION past `maxBytes`). */
export function checkCompletion(
  lease: LeaseRef,
  result: unknown,
  maxBytes: number = MAX_DOCUMENT_BYTES,
): CheckedCompletion {
  const { id, token } = checkLeaseRef(lease);
  return { outcome: 'complete', id, token, result: copyResult(result, maxBytes) };
}

/** Checks a failure and reads the error now. */
export function checkFailure(lease: LeaseRef, error: unknown, retry: unknown, retryAfterMs: unknown): CheckedFailure {
  const { id, token } = checkLeaseRef(lease);
  return {
    outcome: 'fail',
    id,
    token,
    error: toJobError(error, 0, new Date()),
    noRetry: retry === false,
    retryAfterMs: retryAfterMs === undefined ? undefined : checkDuration('retryAfterMs', retryAfterMs),
  };
}

/** Checks settlement `index` of `settleAndClaim`. */
export function checkSettlement(settlement: unknown, index: number, maxBytes?: number): CheckedSettlement {
  if (!isPlainObject(settlement)) {
    throw new ValidationError(`settlement ${index}: { lease, outcome: "complete" | "fail", ... }`, String(index));
  }
  const lease = settlement.lease as LeaseRef;
  if (settlement.outcome === 'complete') return checkCompletion(lease, settlement.result, maxBytes);
  if (settlement.outcome === 'fail') {
    return checkFailure(lease, settlement.error, settlement.retry, settlement.retryAfterMs);
  }
  throw new ValidationError(`settlement ${index}: outcome must be "complete" or "fail"`, `${index}.outcome`);
}

/**
 * The value of `attempt`, or the CONFLICT or VALIDATION it threw (any other
 * error propagates): how one settlement is refused without failing the others.
 */
export function refused<R>(attempt: () => R): R | BerthError {
  try {
    return attempt();
  } catch (error) {
    if (isBerthError(error, 'CONFLICT') || isBerthError(error, 'VALIDATION')) return error;
    throw error;
  }
}
