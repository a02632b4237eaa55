import { getQueryValue, type IndexSpec, normalizeIndexes } from '@berth/core/adapter';
import type { RedisCollectionKeys } from './redis-keys.js';
import type { RedisRecord } from './redis-record.js';

/**
 * The key of a scalar in an index: type-strict, so `1`, `"1"` and `true`
 * never share a key, and equal exactly when core's `scalarsEqual` says so
 * (`-0` and `0` both give `n:0`; Dates by instant). Null, missing, arrays and
 * objects are not indexed.
 */
export function valueKey(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return `s:${value}`;
    case 'number':
      return `n:${value}`;
    case 'boolean':
      return `b:${value}`;
    default:
      return value instanceof Date ? `d:${value.getTime()}` : undefined;
  }
}

/**
 * The key of a record in an index (each field's key, joined by NUL for a
 * compound index), or `undefined` when a field holds null, nothing, an array
 * or an object: such a record is neither found through the index nor checked
 * by a unique one, as on every other adapter.
 */
export function recordKey(spec: IndexSpec, record: RedisRecord): string | undefined {
  if (!spec.compound) return valueKey(getQueryValue(record.document, spec.path, record.meta));
  const keys: string[] = [];
  for (const field of spec.fields) {
    const key = valueKey(getQueryValue(record.document, field.path, record.meta));
    if (key === undefined) return undefined;
    keys.push(key);
  }
  return keys.join('\u0000');
}

/** One entry a record has in an index: a unique hash's field, or membership of an equality set. */
export interface IndexEntry {
  readonly spec: IndexSpec;
  readonly unique: boolean;
  /** The Redis key: the unique hash, or the equality set. */
  readonly key: string;
  /** The value key (the unique hash's field); the set's member is the id. */
  readonly member: string;
}

/** The entries of `record` in every index of `specs`. */
export function indexEntries(
  keys: RedisCollectionKeys,
  specs: readonly IndexSpec[],
  record: RedisRecord,
): IndexEntry[] {
  const entries: IndexEntry[] = [];
  for (const spec of specs) {
    const member = recordKey(spec, record);
    if (member === undefined) continue;
    entries.push(
      spec.unique
        ? { spec, unique: true, key: keys.unique(spec.key), member }
        : { spec, unique: false, key: keys.equality(spec.key, member), member },
    );
  }
  return entries;
}

/** One entry a record has in the range index of a single-field index. */
export interface RangeEntry {
  readonly key: string;
  readonly score: string;
  readonly member: string;
}

/**
 * The entries of `record` in the range indexes of the single-field indexes
 * of `specs`: a number or Date by its exact double (every JavaScript number
 * is one, as Redis scores are; -0 is 0, as core compares it), a string as
 * `value NUL id` (core refuses U+0000 in strings, so NUL sorts first and the
 * member orders by value, then id). Other values (missing, null, booleans,
 * arrays, objects) go to the `o` set by {@link otherScore}: range filters are
 * type-strict and never read it, sorted walks do.
 */
export function rangeEntries(
  keys: RedisCollectionKeys,
  specs: readonly IndexSpec[],
  record: RedisRecord,
): RangeEntry[] {
  const entries: RangeEntry[] = [];
  const id = record.document.id;
  for (const spec of specs) {
    if (spec.compound) continue;
    const value = getQueryValue(record.document, spec.path, record.meta);
    if (typeof value === 'number') entries.push({ key: keys.range(spec.key, 'n'), score: scoreOf(value), member: id });
    else if (value instanceof Date) {
      entries.push({ key: keys.range(spec.key, 'd'), score: scoreOf(value.getTime()), member: id });
    } else if (typeof value === 'string') {
      entries.push({ key: keys.range(spec.key, 's'), score: '0', member: `${value}\u0000${id}` });
    } else {
      entries.push({ key: keys.range(spec.key, 'o'), score: String(otherScore(value)), member: id });
    }
  }
  return entries;
}

/**
 * The place of a value that is not a number, string or Date in core's
 * cross-type order: missing and null 0, false 1, true 2 (numbers, strings and
 * Dates come between, in their own sets), arrays 5, objects 6. Arrays and
 * objects compare equal among themselves, as in core.
 */
export function otherScore(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'boolean') return value ? 2 : 1;
  return Array.isArray(value) ? 5 : 6;
}

/** A double as Redis reads a score: JavaScript's shortest round-trip text, which strtod parses back exactly. */
export function scoreOf(value: number): string {
  return Object.is(value, -0) ? '0' : String(value);
}

/** The declaration of an index, as stored in the collection's meta hash (JSON) and given back to core to check. */
export function definitionOf(spec: IndexSpec): Record<string, unknown> {
  if (!spec.compound) return { field: spec.field, type: spec.type, unique: spec.unique };
  const fields = spec.fields.map((field) => ({ field: field.field, type: field.type }));
  const name = spec.key.slice(1, -1);
  return name === spec.field ? { fields, unique: spec.unique } : { fields, unique: spec.unique, name };
}

/** The indexes a stored declaration list describes (validated again by core, as if declared by hand). */
export function specsOf(collection: string, stored: string | null | undefined): IndexSpec[] {
  if (stored === null || stored === undefined || stored === '') return [];
  return normalizeIndexes(collection, { indexes: JSON.parse(stored) } as never, true);
}

/**
 * The stored indexes with the declared ones added: declarations add up, and
 * a field declared unique anywhere stays unique. Returns `undefined` when the
 * declared ones add nothing. An index declared again with another type keeps
 * its stored type: the entries in Redis were made with it.
 */
export function mergeSpecs(stored: readonly IndexSpec[], declared: readonly IndexSpec[]): IndexSpec[] | undefined {
  const merged = [...stored];
  let changed = false;
  for (const spec of declared) {
    const at = merged.findIndex((known) => known.key === spec.key);
    if (at === -1) {
      merged.push(spec);
      changed = true;
    } else if (spec.unique && !(merged[at] as IndexSpec).unique) {
      merged[at] = { ...(merged[at] as IndexSpec), unique: true };
      changed = true;
    }
  }
  return changed ? merged : undefined;
}
