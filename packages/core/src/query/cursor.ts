import { ValidationError } from '../errors.js';
import { isPlainObject } from '../values/values.js';
import type { SortSpec } from './sort.js';

/**
 * What a keyset cursor holds: the last item's sort values and id, and the query it belongs to.
 *
 * ### Examples
 * ```ts
 * import { type CursorPosition, decodeCursor, encodeCursor } from '@berth/core/adapter';
 *
 * const position: CursorPosition = { values: ['Ada'], id: 'u7' };
 * const cursor = encodeCursor('f1', position);
 * decodeCursor(cursor, 'f1', 1); // { values: ['Ada'], id: 'u7' }
 * ```
 */
export interface CursorPosition {
  readonly values: readonly unknown[];
  readonly id: string;
}

function toJson(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.toISOString() };
  return value;
}

function fromJson(value: unknown): unknown {
  if (isPlainObject(value) && typeof value.$date === 'string') return new Date(value.$date);
  return value;
}

function base64UrlEncode(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '');
}

function base64UrlDecode(text: string): string {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/**
 * FNV-1a over the query's shape: ties a cursor to the query that made it.
 *
 * ### Examples
 * ```ts
 * import { normalizeOrderBy, queryFingerprint } from '@berth/core/adapter';
 *
 * const fingerprint = queryFingerprint({ guild: 'north' }, normalizeOrderBy('name'));
 * ```
 */
export function queryFingerprint(filter: unknown, sort: readonly SortSpec[]): string {
  const text = JSON.stringify([filter ?? null, sort.map((key) => [key.field, key.direction])], (_key, value) =>
    value instanceof Date ? { $date: value.toISOString() } : value,
  );
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

/**
 * Encodes a cursor for the position after `position` in the query `fingerprint`.
 *
 * ### Examples
 * ```ts
 * import { encodeCursor, normalizeOrderBy, queryFingerprint } from '@berth/core/adapter';
 *
 * const sort = normalizeOrderBy('name');
 * const nextCursor = encodeCursor(queryFingerprint({}, sort), { values: ['Ada'], id: 'u7' });
 * ```
 */
export function encodeCursor(fingerprint: string, position: CursorPosition): string {
  return base64UrlEncode(JSON.stringify({ q: fingerprint, v: position.values.map(toJson), i: position.id }));
}

/**
 * Decodes a cursor, checking it belongs to the query `fingerprint`.
 *
 * ### Examples
 * ```ts
 * import { decodeCursor, encodeCursor } from '@berth/core/adapter';
 *
 * const cursor = encodeCursor('f1', { values: [3], id: 'p9' });
 * const after = decodeCursor(cursor, 'f1', 1); // a cursor of another query is a VALIDATION error
 * ```
 */
export function decodeCursor(cursor: unknown, fingerprint: string, sortLength: number): CursorPosition {
  let parsed: unknown;
  try {
    if (typeof cursor !== 'string' || cursor.length === 0) throw new Error('not a string');
    parsed = JSON.parse(base64UrlDecode(cursor));
  } catch {
    throw new ValidationError('cursor is not valid: pass the nextCursor of a previous page unchanged', 'cursor');
  }
  if (
    !isPlainObject(parsed) ||
    typeof parsed.i !== 'string' ||
    !Array.isArray(parsed.v) ||
    parsed.v.length !== sortLength
  ) {
    throw new ValidationError('cursor is not valid: pass the nextCursor of a previous page unchanged', 'cursor');
  }
  if (parsed.q !== fingerprint) {
    throw new ValidationError('cursor belongs to a query with another where or orderBy', 'cursor');
  }
  return { values: parsed.v.map(fromJson), id: parsed.i };
}
