/**
 * Error codes Node gives a socket that could not reach its server or lost
 * it: whatever the driver, a retryable CONNECTION failure.
 *
 * ### Examples
 * ```ts
 * import { ConnectionError } from '@berth/core';
 * import { NETWORK_ERROR_CODES } from '@berth/core/adapter';
 *
 * function translate(error: unknown): unknown {
 *   const code = (error as { code?: unknown }).code;
 *   return typeof code === 'string' && NETWORK_ERROR_CODES.has(code)
 *     ? new ConnectionError('the server is unreachable', { cause: error })
 *     : error;
 * }
 * ```
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
