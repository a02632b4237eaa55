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
 *
 * ### Examples
 * ```ts
 * import { type CheckedSettlement, checkSettlement } from '@berth/core/adapter';
 *
 * const lease = { job: { id: 'j1' }, token: 't1' };
 * const checked: CheckedSettlement = checkSettlement({ lease, outcome: 'complete', result: 42 }, 0);
 * ```
 */
export type CheckedSettlement = CheckedCompletion | CheckedFailure;

/**
 * A checked completion: the lease and the copied result.
 *
 * ### Examples
 * ```ts
 * import { type CheckedCompletion, checkCompletion } from '@berth/core/adapter';
 *
 * const completion: CheckedCompletion = checkCompletion({ job: { id: 'j1' }, token: 't1' }, { sent: true });
 * ```
 */
export interface CheckedCompletion {
  readonly outcome: 'complete';
  readonly id: string;
  readonly token: string;
  readonly result: DocumentValue | undefined;
}

/**
 * A checked failure: the lease, the error read from what was thrown, and how to retry.
 *
 * ### Examples
 * ```ts
 * import { type CheckedFailure, checkFailure } from '@berth/core/adapter';
 *
 * const failure: CheckedFailure = checkFailure({ job: { id: 'j1' }, token: 't1' }, new Error('boom'), false, undefined);
 * console.log(failure.noRetry); // true
 * ```
 */
export interface CheckedFailure {
  readonly outcome: 'fail';
  readonly id: string;
  readonly token: string;
  readonly error: JobError;
  readonly noRetry: boolean;
  readonly retryAfterMs: number | undefined;
}

/**
 * Checks a completion: the lease reference and the result (VALIDATION past `maxBytes`).
 *
 * ### Examples
 * ```ts
 * import { checkCompletion } from '@berth/core/adapter';
 *
 * const { id, token, result } = checkCompletion({ job: { id: 'j1' }, token: 't1' }, 'done', 1024);
 * ```
 */
export function checkCompletion(
  lease: LeaseRef,
  result: unknown,
  maxBytes: number = MAX_DOCUMENT_BYTES,
): CheckedCompletion {
  const { id, token } = checkLeaseRef(lease);
  return { outcome: 'complete', id, token, result: copyResult(result, maxBytes) };
}

/**
 * Checks a failure and reads the error now.
 *
 * ### Examples
 * ```ts
 * import { checkFailure } from '@berth/core/adapter';
 *
 * const failure = checkFailure({ job: { id: 'j1' }, token: 't1' }, new Error('429'), undefined, 30_000);
 * console.log(failure.error.message, failure.retryAfterMs); // '429' 30000
 * ```
 */
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

/**
 * Checks settlement `index` of `settleAndClaim`.
 *
 * ### Examples
 * ```ts
 * import { checkSettlement } from '@berth/core/adapter';
 *
 * const settlements = [{ lease: { job: { id: 'j1' }, token: 't1' }, outcome: 'fail', error: new Error('x') }];
 * const checked = settlements.map((settlement, index) => checkSettlement(settlement, index));
 * ```
 */
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
 *
 * ### Examples
 * ```ts
 * import { isBerthError } from '@berth/core';
 * import { checkSettlement, refused } from '@berth/core/adapter';
 *
 * // A bad settlement is refused on its own; the others still apply.
 * const outcome = refused(() => checkSettlement({ outcome: 'complete' }, 0));
 * if (isBerthError(outcome)) console.log('refused:', outcome.message);
 * ```
 */
export function refused<R>(attempt: () => R): R | BerthError {
  try {
    return attempt();
  } catch (error) {
    if (isBerthError(error, 'CONFLICT') || isBerthError(error, 'VALIDATION')) return error;
    throw error;
  }
}
