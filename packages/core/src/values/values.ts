import { ValidationError } from '../errors.js';
import type { DocumentObject, DocumentScalar, DocumentValue } from './document.js';

/**
 * Earliest and latest Date a document may hold: years 0 to 9999 (UTC).
 *
 * ### Examples
 * ```ts
 * import { MAX_DATE_MS, MIN_DATE_MS } from '@berth/core/adapter';
 *
 * const storable = (date: Date): boolean => date.getTime() >= MIN_DATE_MS && date.getTime() <= MAX_DATE_MS;
 * ```
 */
export const MIN_DATE_MS: number = -62_167_219_200_000;
/**
 * The latest Date a document may hold: the end of year 9999 (UTC).
 *
 * ### Examples
 * ```ts
 * import { MAX_DATE_MS } from '@berth/core/adapter';
 *
 * console.log(new Date(MAX_DATE_MS).toISOString()); // 9999-12-31T23:59:59.999Z
 * ```
 */
export const MAX_DATE_MS: number = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Longest id, in UTF-16 code units.
 *
 * ### Examples
 * ```ts
 * import { MAX_ID_LENGTH } from '@berth/core/adapter';
 *
 * // An adapter sizes its id column for the longest id.
 * const idColumn = `id VARCHAR(${MAX_ID_LENGTH}) PRIMARY KEY`;
 * ```
 */
export const MAX_ID_LENGTH = 256;

/**
 * Deepest nesting a value may have: every object or array counts one level
 * (a document is level 1, `{ a: { b: 1 } }` is 2 deep), scalars and Dates
 * count none. Kept well under the JSON depth limits of engines (SQLite: 1000)
 * so that every stored document stays readable by every filter.
 *
 * ### Examples
 * ```ts
 * import { MAX_NESTING_DEPTH } from '@berth/core/adapter';
 *
 * // SQLite reads JSON up to 1000 levels deep: every stored document stays queryable.
 * console.log(MAX_NESTING_DEPTH < 1000); // true
 * ```
 */
export const MAX_NESTING_DEPTH = 64;

/**
 * Whether `value` is a plain object (`{}` or `Object.create(null)`), not a class instance.
 *
 * ### Examples
 * ```ts
 * import { isPlainObject } from '@berth/core/adapter';
 *
 * isPlainObject({ a: 1 }); // true
 * isPlainObject(new Date()); // false
 * isPlainObject([1, 2]); // false
 * ```
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Whether `value` is a scalar document value (null, boolean, finite number, string, valid Date).
 *
 * ### Examples
 * ```ts
 * import { isScalar } from '@berth/core/adapter';
 *
 * isScalar('text'); // true
 * isScalar(Number.NaN); // false
 * isScalar({ a: 1 }); // false
 * ```
 */
export function isScalar(value: unknown): value is DocumentScalar {
  return (
    value === null ||
    typeof value === 'boolean' ||
    typeof value === 'string' ||
    (typeof value === 'number' && Number.isFinite(value)) ||
    (value instanceof Date && !Number.isNaN(value.getTime()))
  );
}

function joinPath(path: string, key: string | number): string {
  return path === '' ? String(key) : `${path}.${key}`;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `a ${name}` : 'an object with a custom prototype';
  }
  if (typeof value === 'number') return String(value);
  return `a ${typeof value}`;
}

/**
 * Checks a string against the rules every engine can honour: well-formed
 * Unicode (no lone surrogate) and no U+0000.
 *
 * ### Examples
 * ```ts
 * import { checkString } from '@berth/core/adapter';
 *
 * checkString('hello', 'name'); // passes
 * try {
 *   checkString('a\u0000b', 'name');
 * } catch (error) {
 *   console.log(error); // ValidationError at path `name`
 * }
 * ```
 */
export function checkString(value: string, path: string, what = 'string'): void {
  if (value.includes('\u0000')) {
    throw new ValidationError(`${what} at "${path}" contains U+0000, which cannot be stored`, path);
  }
  if (!value.isWellFormed()) {
    throw new ValidationError(`${what} at "${path}" contains a lone surrogate (not well-formed Unicode)`, path);
  }
}

function checkKey(key: string, path: string): void {
  const keyPath = joinPath(path, key);
  if (key.startsWith('$')) {
    throw new ValidationError(`key "${keyPath}" starts with "$", which is reserved for operators`, keyPath);
  }
  if (key === '__proto__') {
    throw new ValidationError(`key "${keyPath}" is not allowed`, keyPath);
  }
  checkString(key, keyPath, 'key');
}

/**
 * Largest document, job payload or job result, as bytes of UTF-8 JSON text in
 * Berth's encoding (a Date as `{"$date":"…"}`): 16 MiB. An adapter may declare
 * less in its capabilities, never more.
 *
 * ### Examples
 * ```ts
 * import { MAX_DOCUMENT_BYTES } from '@berth/core/adapter';
 *
 * // A backend whose engine holds at most 512 KiB per value declares less, never more.
 * const maxDocumentBytes = Math.min(512 * 1024, MAX_DOCUMENT_BYTES);
 * ```
 */
export const MAX_DOCUMENT_BYTES: number = 16 * 1024 * 1024;

/**
 * Validates a document value and returns a deep copy of it in canonical form:
 * `undefined` properties dropped, `-0` turned into `0`, Dates copied. Throws a
 * `ValidationError` naming the path of the first value that is not allowed,
 * of a value nested deeper than {@link MAX_NESTING_DEPTH}, or when the JSON
 * text of the whole value would exceed `maxBytes`.
 *
 * ### Examples
 * ```ts
 * import { copyValue } from '@berth/core/adapter';
 *
 * const copy = copyValue({ at: new Date(0), n: -0, gone: undefined }, 'payload');
 * // { at: 1970-01-01T00:00:00.000Z, n: 0 }: a new object, `undefined` dropped, -0 made 0
 * ```
 */
export function copyValue(value: unknown, path: string, maxBytes: number = MAX_DOCUMENT_BYTES): DocumentValue {
  // Most input is valid: copy it on a fast path that builds no path strings,
  // and walk again with paths only to describe what is wrong.
  const walk: Walk = { ancestors: [], bytes: 0 };
  const fast = fastCopy(value, walk);
  const copy = fast === INVALID ? checkedCopy(value, path, new Set()) : fast;
  // The walk counts a cheap upper bound of the JSON size; only a value that
  // may be near the limit is measured exactly.
  if (fast === INVALID || walk.bytes > maxBytes) checkSize(copy, path, maxBytes);
  return copy;
}

const INVALID: unique symbol = Symbol('invalid');

/** State of the fast copy: the containers above the current value, and the size bound so far. */
interface Walk {
  readonly ancestors: object[];
  bytes: number;
}

/** Most bytes one UTF-16 code unit can take in JSON text (a control character as `\u001f`). */
const MAX_BYTES_PER_CODE_UNIT = 6;
/** Longest JSON text of a finite number (`-2.2250738585072014e-308`). */
const MAX_NUMBER_BYTES = 24;
/** `{"$date":"2026-11-25T21:40:00.000Z"}`: fixed for the years 0–9999. */
const DATE_JSON_BYTES = 36;

function isPlainString(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed();
}

/** Copies a valid value, or returns INVALID at the first thing that is not allowed. */
function fastCopy(value: unknown, walk: Walk): DocumentValue | typeof INVALID {
  switch (typeof value) {
    case 'string':
      walk.bytes += value.length * MAX_BYTES_PER_CODE_UNIT + 2;
      return isPlainString(value) ? value : INVALID;
    case 'boolean':
      walk.bytes += 5;
      return value;
    case 'number':
      walk.bytes += MAX_NUMBER_BYTES;
      return Number.isFinite(value) ? (value === 0 ? 0 : value) : INVALID;
    case 'object': {
      if (value === null) {
        walk.bytes += 4;
        return null;
      }
      if (value instanceof Date) {
        walk.bytes += DATE_JSON_BYTES;
        const time = value.getTime();
        return time >= MIN_DATE_MS && time <= MAX_DATE_MS ? new Date(time) : INVALID;
      }
      const ancestors = walk.ancestors;
      if (ancestors.length >= MAX_NESTING_DEPTH || ancestors.includes(value)) return INVALID;
      ancestors.push(value);
      walk.bytes += 2;
      try {
        if (Array.isArray(value)) {
          walk.bytes += value.length;
          const copy: DocumentValue[] = new Array(value.length);
          for (let index = 0; index < value.length; index++) {
            if (!(index in value)) return INVALID;
            const element = fastCopy(value[index], walk);
            if (element === INVALID || value[index] === undefined) return INVALID;
            copy[index] = element;
          }
          return copy;
        }
        if (!isPlainObject(value) || Object.getOwnPropertySymbols(value).length > 0) return INVALID;
        const copy: Record<string, DocumentValue> = {};
        for (const key in value) {
          if (!Object.hasOwn(value, key)) continue;
          const property = value[key];
          if (property === undefined) continue;
          if (key.charCodeAt(0) === 36 /* $ */ || key === '__proto__' || !isPlainString(key)) return INVALID;
          walk.bytes += key.length * MAX_BYTES_PER_CODE_UNIT + 4;
          const inner = fastCopy(property, walk);
          if (inner === INVALID) return INVALID;
          copy[key] = inner;
        }
        return copy;
      } finally {
        ancestors.pop();
      }
    }
    default:
      return INVALID;
  }
}

/** The careful copy: same result as the fast one, but names the path of what it rejects. */
function checkedCopy(value: unknown, path: string, ancestors: Set<object>): DocumentValue {
  switch (typeof value) {
    case 'string':
      checkString(value, path);
      return value;
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) {
        throw new ValidationError(`value at "${path}" is ${value}; only finite numbers are allowed`, path);
      }
      return value === 0 ? 0 : value;
    case 'object': {
      if (value === null) return null;
      if (value instanceof Date) {
        const time = value.getTime();
        if (Number.isNaN(time)) throw new ValidationError(`value at "${path}" is an invalid Date`, path);
        // Years 0–9999 keep the ISO-8601 encoding fixed-width, so engines that
        // store it as text order Dates chronologically.
        if (time < MIN_DATE_MS || time > MAX_DATE_MS) {
          throw new ValidationError(`Date at "${path}" is outside the years 0–9999`, path);
        }
        return new Date(time);
      }
      if (ancestors.has(value)) throw new ValidationError(`value at "${path}" is a circular reference`, path);
      // Checked before going one level down, so no input can exhaust the stack.
      if (ancestors.size >= MAX_NESTING_DEPTH) {
        throw new ValidationError(
          `value at "${path}" is nested deeper than ${MAX_NESTING_DEPTH} levels of objects and arrays`,
          path,
        );
      }
      ancestors.add(value);
      try {
        if (Array.isArray(value)) return copyArray(value, path, ancestors);
        if (isPlainObject(value)) return copyObject(value, path, ancestors);
      } finally {
        ancestors.delete(value);
      }
      throw new ValidationError(
        `value at "${path}" is ${describeType(value)}; only JSON values and Date are allowed`,
        path,
      );
    }
    default:
      throw new ValidationError(
        `value at "${path}" is ${describeType(value)}; only JSON values and Date are allowed`,
        path,
      );
  }
}

function copyArray(value: readonly unknown[], path: string, ancestors: Set<object>): DocumentValue[] {
  const copy: DocumentValue[] = new Array(value.length);
  for (let index = 0; index < value.length; index++) {
    const elementPath = joinPath(path, index);
    if (!(index in value) || value[index] === undefined) {
      throw new ValidationError(`array element "${elementPath}" is undefined; use null`, elementPath);
    }
    copy[index] = checkedCopy(value[index], elementPath, ancestors);
  }
  return copy;
}

function copyObject(value: Record<string, unknown>, path: string, ancestors: Set<object>): DocumentObject {
  const copy: Record<string, DocumentValue> = {};
  for (const key of Object.keys(value)) {
    const property = value[key];
    if (property === undefined) continue;
    checkKey(key, path);
    copy[key] = checkedCopy(property, joinPath(path, key), ancestors);
  }
  if (Object.getOwnPropertySymbols(value).length > 0) {
    throw new ValidationError(`object at "${path || '(document)'}" has symbol keys`, path);
  }
  return copy;
}

/** Bytes of `text` as a JSON string literal in UTF-8, quotes and escapes included (one pass, no copy). */
function jsonStringBytes(text: string): number {
  let bytes = text.length + 2;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit >= 0x20 && unit < 0x80) {
      if (unit === 0x22 /* " */ || unit === 0x5c /* \ */) bytes += 1;
    } else if (unit < 0x20) {
      // \b \t \n \f \r take 2 bytes, every other control character \u00XX takes 6.
      bytes += unit === 0x08 || unit === 0x09 || unit === 0x0a || unit === 0x0c || unit === 0x0d ? 1 : 5;
    } else if (unit < 0x800) {
      bytes += 1;
    } else if (unit >= 0xd800 && unit <= 0xdbff) {
      // A high surrogate and its low one (validated strings are well-formed): 4 bytes for 2 code units.
      bytes += 2;
      index++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/**
 * Bytes of the UTF-8 JSON text of a validated value in Berth's encoding (what
 * `stringifyDocument` writes): the size every limit is measured in.
 *
 * ### Examples
 * ```ts
 * import { jsonByteLength } from '@berth/core/adapter';
 *
 * jsonByteLength({ name: 'Zoë' }); // 15: `{"name":"Zoë"}` in UTF-8
 * ```
 */
export function jsonByteLength(value: DocumentValue): number {
  if (typeof value === 'string') return jsonStringBytes(value);
  if (typeof value !== 'object' || value === null) return String(value).length;
  if (value instanceof Date) return DATE_JSON_BYTES;
  if (Array.isArray(value)) {
    let bytes = 1 + Math.max(value.length, 1);
    for (const element of value) bytes += jsonByteLength(element);
    return bytes;
  }
  const keys = Object.keys(value);
  let bytes = 1 + Math.max(keys.length, 1);
  for (const key of keys) {
    bytes += jsonStringBytes(key) + 1 + jsonByteLength((value as DocumentObject)[key] as DocumentValue);
  }
  return bytes;
}

function checkSize(value: DocumentValue, path: string, maxBytes: number): void {
  const bytes = jsonByteLength(value);
  if (bytes <= maxBytes) return;
  const what = path === '' ? 'the document' : `"${path}"`;
  throw new ValidationError(`${what} is ${bytes} bytes of JSON, more than the ${maxBytes} this backend stores`, path);
}

/**
 * Validates an id: a string of 1–256 characters following the string rules.
 *
 * ### Examples
 * ```ts
 * import { checkId } from '@berth/core/adapter';
 *
 * function rowKey(id: unknown): string {
 *   checkId(id, 'users'); // VALIDATION unless a string of 1–256 valid characters
 *   return `users:${id}`;
 * }
 * ```
 */
export function checkId(id: unknown, collection?: string): asserts id is string {
  if (typeof id !== 'string') {
    throw new ValidationError(`id must be a string, got ${describeType(id)}`, 'id', { collection });
  }
  if (id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new ValidationError(`id must be 1–${MAX_ID_LENGTH} characters long, got ${id.length}`, 'id', {
      collection,
    });
  }
  checkString(id, 'id', 'id');
}

/**
 * Validates a whole document and returns a canonical deep copy. The document
 * must be a plain object with a valid `id`.
 *
 * ### Examples
 * ```ts
 * import { copyDocument } from '@berth/core/adapter';
 *
 * interface User { id: string; name: string }
 *
 * const stored = copyDocument<User>({ id: 'u1', name: 'Ada' }, 'users', 1024 * 1024);
 * ```
 */
export function copyDocument<T>(document: unknown, collection?: string, maxBytes?: number): T {
  if (!isPlainObject(document)) {
    throw new ValidationError(`a document must be a plain object, got ${describeType(document)}`, '', {
      collection,
    });
  }
  checkId(document.id, collection);
  return copyValue(document, '', maxBytes) as T;
}

/**
 * Deep copy of an already validated value (fast path: no checks).
 *
 * ### Examples
 * ```ts
 * import { cloneValue } from '@berth/core/adapter';
 *
 * const stored = { id: 'u1', tags: ['a'], at: new Date() };
 * const returned = cloneValue(stored); // the caller may mutate it: `stored` does not change
 * returned.tags.push('b');
 * ```
 */
export function cloneValue<V>(value: V): V {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date) return new Date(value.getTime()) as V;
  if (Array.isArray(value)) return value.map(cloneValue) as V;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = cloneValue((value as Record<string, unknown>)[key]);
  return copy as V;
}
