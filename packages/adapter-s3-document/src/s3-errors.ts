import { type BerthError, ConflictError, ConnectionError, TimeoutError } from '@berth/core';
import { NETWORK_ERROR_CODES } from '@berth/core/adapter';

/** What the SDK's errors carry: a service error's name and HTTP status, or a socket error's code. */
interface SdkErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown } | undefined;
}

/** Errors S3 and S3-compatible stores answer when they want the client to slow down. */
const THROTTLING_NAMES: ReadonlySet<string> = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'InternalError',
]);

/** The HTTP status of an SDK error, when the store answered at all. */
function httpStatusOf(error: unknown): number | undefined {
  const status = (error as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** `true` for "no such object": 404, whatever name the store gives it. */
export function isNotFound(error: unknown): boolean {
  const name = (error as SdkErrorShape | undefined)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || httpStatusOf(error) === 404;
}

/**
 * Turns an SDK error into a Berth error. A failed precondition is `CONFLICT`:
 * 412 (also what Ceph's gateway answers for `If-Match` on a missing key), not
 * retryable, and AWS's 409 `ConditionalRequestConflict` (another conditional
 * write in flight), retryable.
 * Throttling, 5xx, timeouts and socket errors are retryable; anything else
 * (access denied, no such bucket, a bad request) is a `CONNECTION` error that
 * retrying will not fix.
 */
export function toBerthError(error: unknown, location: string, operation: 'read' | 'write'): BerthError {
  const shape = (error ?? {}) as SdkErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : '';
  const code = typeof shape.code === 'string' ? shape.code : '';
  const status = httpStatusOf(error);
  const detail = `${name || code || 'error'}${status === undefined ? '' : ` (HTTP ${status})`}: ${String(shape.message ?? '')}`;
  if (status === 412 || name === 'PreconditionFailed') {
    // The same write will never pass again: the caller must read first.
    return new ConflictError(`${location} changed since it was read (${detail})`, { cause: error, retryable: false });
  }
  if (name === 'ConditionalRequestConflict' || status === 409) {
    return new ConflictError(`${location} is being written by someone else (${detail})`, { cause: error });
  }
  if (name === 'TimeoutError' || code === 'ETIMEDOUT' || name === 'RequestTimeout') {
    return new TimeoutError(`${operation} of ${location} timed out: ${detail}`, { cause: error });
  }
  if (THROTTLING_NAMES.has(name) || (status !== undefined && status >= 500) || status === 429) {
    return new ConnectionError(`${operation} of ${location} failed, retryable: ${detail}`, { cause: error });
  }
  if (NETWORK_ERROR_CODES.has(code) || status === undefined) {
    return new ConnectionError(`cannot reach the S3 endpoint for ${location}: ${detail}`, { cause: error });
  }
  return new ConnectionError(`${operation} of ${location} was refused: ${detail}`, { cause: error, retryable: false });
}
