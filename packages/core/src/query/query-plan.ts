import { ValidationError } from '../errors.js';
import { isPlainObject } from '../values/values.js';
import { type CursorPosition, decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import { type FilterNode, matchesNode, parseFilter } from './filter.js';
import type { Page, Query } from './query.js';
import { compareSortTuples, normalizeOrderBy, type SortSpec, sortValues } from './sort.js';

/** A validated query, ready for an adapter to compile or for the reference to evaluate. */
export interface PreparedQuery {
  readonly filter: FilterNode;
  readonly sort: readonly SortSpec[];
  readonly limit: number | undefined;
  readonly offset: number;
  /** Where the page starts (exclusive), from `query.cursor`. */
  readonly after: CursorPosition | undefined;
  /** Ties cursors to this query's where and orderBy. */
  readonly fingerprint: string;
}

function checkCount(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(`${name} must be an integer >= 0, got ${String(value)}`, name);
  }
  return value;
}

/** Validates a query: filter, sort, limit, offset and cursor. */
export function prepareQuery(query: Query | undefined): PreparedQuery {
  if (query !== undefined && !isPlainObject(query as unknown)) {
    throw new ValidationError('a query must be a plain object', '');
  }
  const filter = parseFilter(query?.where);
  const sort = normalizeOrderBy(query?.orderBy);
  const limit = checkCount('limit', query?.limit);
  const offset = checkCount('offset', query?.offset) ?? 0;
  const fingerprint = queryFingerprint(query?.where, sort);
  let after: CursorPosition | undefined;
  if (query?.cursor !== undefined) {
    if (offset !== 0) throw new ValidationError('cursor and offset cannot be combined', 'offset');
    after = decodeCursor(query.cursor, fingerprint, sort.length);
  }
  return { filter, sort, limit, offset, after, fingerprint };
}

/** The cursor that continues after `document`. */
export function cursorAfter(prepared: PreparedQuery, document: { id: string }): string {
  return encodeCursor(prepared.fingerprint, { values: sortValues(document, prepared.sort), id: document.id });
}

/**
 * Runs a prepared query over documents in memory: the reference result every
 * adapter must reproduce, in the same order. Returned items are the given
 * objects (not copies).
 */
export function evaluateQuery<T extends { id: string }>(documents: Iterable<T>, prepared: PreparedQuery): Page<T> {
  const { sort, after } = prepared;
  const keyed: { document: T; values: unknown[] }[] = [];
  for (const document of documents) {
    if (!matchesNode(document, prepared.filter)) continue;
    const values = sortValues(document, sort);
    if (after !== undefined && compareSortTuples(values, document.id, after.values, after.id, sort) <= 0) continue;
    keyed.push({ document, values });
  }
  keyed.sort((a, b) => compareSortTuples(a.values, a.document.id, b.values, b.document.id, sort));
  const start = prepared.offset;
  const end = prepared.limit === undefined ? keyed.length : start + prepared.limit;
  const items = keyed.slice(start, end).map((entry) => entry.document);
  const last = items.at(-1);
  const nextCursor = end < keyed.length && last !== undefined ? cursorAfter(prepared, last) : null;
  return { items, nextCursor };
}
