import { ValidationError } from '../errors.js';
import { checkString } from '../values/values.js';

// Field checks that enqueue and importJobs share. Not re-exported from
// `@berth/core/adapter`: adapters call `normalizeEnqueueOptions` and
// `prepareImportJobs`, which use these.

/** An integer from `min` to `max`; VALIDATION at `name` otherwise. */
export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ValidationError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`, name);
  }
  return value;
}

/** A dedupe key: `undefined`, or a string of 1–256 characters. */
export function checkDedupeKey(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new ValidationError('dedupeKey must be a string of 1–256 characters', 'dedupeKey');
  }
  checkString(value, 'dedupeKey');
  return value;
}
