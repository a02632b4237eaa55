import { ValidationError } from '../errors.js';
import { checkString } from '../values/values.js';

/**
 * Checks a cache key or key prefix: a string every engine can store
 * (well-formed Unicode, no U+0000). `what` names the argument in the error.
 *
 * ### Examples
 * ```ts
 * import { checkCacheKey, checkCacheTtl } from '@berth/core/adapter';
 *
 * function setArguments(key: unknown, ttlMs: unknown): { key: string; ttlMs: number | undefined } {
 *   checkCacheKey(key, 'key');
 *   return { key, ttlMs: checkCacheTtl(ttlMs, 'ttlMs') };
 * }
 * ```
 */
export function checkCacheKey(key: unknown, what: string): asserts key is string {
  if (typeof key !== 'string') throw new ValidationError(`${what} must be a string`, what);
  checkString(key, what, what);
}

/**
 * Checks a TTL in milliseconds: `undefined` (none) or a positive finite number.
 *
 * ### Examples
 * ```ts
 * import { checkCacheTtl } from '@berth/core/adapter';
 *
 * checkCacheTtl(undefined, 'ttlMs'); // undefined: no expiry
 * checkCacheTtl(60_000, 'ttlMs'); // 60000
 * ```
 */
export function checkCacheTtl(ttlMs: unknown, path: string): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new ValidationError(`${path} must be a positive number of milliseconds, got ${String(ttlMs)}`, path);
  }
  return ttlMs;
}
