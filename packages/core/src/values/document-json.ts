import { ValidationError } from '../errors.js';
import { isPlainObject } from './values.js';

/**
 * The one JSON encoding of document values every text-storing adapter uses:
 * a Date becomes `{ "$date": "<ISO-8601 UTC with milliseconds>" }`. Document
 * keys cannot start with `$`, so the encoding is never ambiguous.
 *
 * ### Examples
 * ```ts
 * import { fromJsonValue, toJsonValue } from '@berth/core/adapter';
 *
 * const json = toJsonValue({ at: new Date(0) }); // { at: { $date: '1970-01-01T00:00:00.000Z' } }
 * const back = fromJsonValue(json); // { at: Date(0) }
 * ```
 */
export function toJsonValue(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (isPlainObject(value)) {
    const encoded: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const inner = value[key];
      if (inner !== undefined) encoded[key] = toJsonValue(inner);
    }
    return encoded;
  }
  return value;
}

/**
 * Reverses {@link toJsonValue}.
 *
 * ### Examples
 * ```ts
 * import { fromJsonValue } from '@berth/core/adapter';
 *
 * // A driver that parsed JSONB already gives objects: turn the Date encoding back into Dates.
 * const document = fromJsonValue({ id: 'e1', at: { $date: '2026-01-01T00:00:00.000Z' } });
 * ```
 */
export function fromJsonValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonValue);
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '$date') {
      const date = new Date(value.$date as string);
      if (typeof value.$date !== 'string' || Number.isNaN(date.getTime())) {
        throw new ValidationError(`stored value ${JSON.stringify(value)} is not a valid encoded Date`, '');
      }
      return date;
    }
    const decoded: Record<string, unknown> = {};
    for (const key of keys) {
      // Assigning it would set the prototype (or be ignored): the key would vanish without a word.
      if (key === '__proto__') throw new ValidationError('stored key "__proto__" is not allowed', key);
      decoded[key] = fromJsonValue(value[key]);
    }
    return decoded;
  }
  return value;
}

/** Whether a Date is anywhere in `value` (a walk that copies nothing). */
function holdsDate(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (value instanceof Date) return true;
  return (Array.isArray(value) ? value : Object.values(value)).some(holdsDate);
}

/**
 * Serializes a document value to JSON text with the Date encoding.
 *
 * ### Examples
 * ```ts
 * import { parseDocument, stringifyDocument } from '@berth/core/adapter';
 *
 * const text = stringifyDocument({ id: 'e1', at: new Date(0) }); // '{"id":"e1","at":{"$date":"1970-01-01T00:00:00.000Z"}}'
 * const document = parseDocument<{ id: string; at: Date }>(text);
 * ```
 */
export function stringifyDocument(value: unknown): string {
  // Without a Date, JSON.stringify writes the same text from the value itself: no encoded copy first.
  return JSON.stringify(holdsDate(value) ? toJsonValue(value) : value);
}

/**
 * Parses JSON text written by {@link stringifyDocument}.
 *
 * ### Examples
 * ```ts
 * import { parseDocument } from '@berth/core/adapter';
 *
 * const event = parseDocument<{ id: string; at: Date }>('{"id":"e1","at":{"$date":"2026-01-01T00:00:00.000Z"}}');
 * console.log(event.at instanceof Date); // true
 * ```
 */
export function parseDocument<T>(text: string): T {
  return fromJsonValue(JSON.parse(text)) as T;
}
