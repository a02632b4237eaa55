import { ValidationError } from '../errors.js';
import type { DocumentMeta } from '../values/document.js';
import { isMetadataPath } from '../values/names.js';
import { isPlainObject } from '../values/values.js';
import { type CursorPosition, decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import { type FilterNode, matchesNode, parseFilter } from './filter.js';
import type { Page, Query } from './query.js';
import { compareSortTuples, normalizeOrderBy, type SortSpec, sortValues } from './sort.js';

/**
 * A validated query, ready for an adapter to compile or for the reference to evaluate.
 *
 * ### Examples
 * ```ts
 * import { type PreparedQuery, prepareQuery } from '@berth/core/adapter';
 *
 * const prepared: PreparedQuery = prepareQuery({ where: { guild: 'north' }, orderBy: 'name', limit: 20 });
 * console.log(prepared.filter, prepared.sort, prepared.limit, prepared.offset);
 * ```
 */
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

/**
 * Validates a query: filter, sort, limit, offset and cursor.
 *
 * ### Examples
 * ```ts
 * import { evaluateQuery, prepareQuery } from '@berth/core/adapter';
 *
 * const prepared = prepareQuery({ where: { level: { $gte: 2 } }, orderBy: 'level' });
 * evaluateQuery([{ id: 'a', level: 3 }, { id: 'b', level: 1 }], prepared).items; // [{ id: 'a', level: 3 }]
 * ```
 */
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
    // Metadata is always a Date: a cursor holding anything else there was not made by a page of this query.
    if (sort.some((key, index) => isMetadataPath(key.path) && !(after?.values[index] instanceof Date))) {
      throw new ValidationError('cursor is not valid: pass the nextCursor of a previous page unchanged', 'cursor');
    }
  }
  return { filter, sort, limit, offset, after, fingerprint };
}

/**
 * The cursor that continues after `document` (whose `meta` a sort by `$createdAt` or `$updatedAt` reads).
 *
 * ### Examples
 * ```ts
 * import { cursorAfter, prepareQuery } from '@berth/core/adapter';
 *
 * const prepared = prepareQuery({ orderBy: 'name', limit: 2 });
 * const rows = [{ id: 'u1', name: 'Ada' }, { id: 'u2', name: 'Bo' }];
 * const last = rows.at(-1);
 * const nextCursor = rows.length === prepared.limit && last ? cursorAfter(prepared, last) : null;
 * ```
 */
export function cursorAfter(prepared: PreparedQuery, document: { id: string }, meta?: DocumentMeta): string {
  return encodeCursor(prepared.fingerprint, { values: sortValues(document, prepared.sort, meta), id: document.id });
}

/**
 * Runs a prepared query over documents in memory: the reference result every
 * adapter must reproduce, in the same order. Returned items are the given
 * objects (not copies). A query on `$createdAt` or `$updatedAt` needs the
 * metadata: use {@link evaluateEntries}.
 *
 * ### Examples
 * ```ts
 * import { evaluateQuery, prepareQuery } from '@berth/core/adapter';
 *
 * const documents = new Map([['a', { id: 'a', name: 'Zed' }], ['b', { id: 'b', name: 'Amy' }]]);
 * const page = evaluateQuery(documents.values(), prepareQuery({ orderBy: 'name', limit: 1 }));
 * // page.items: [{ id: 'b', name: 'Amy' }], page.nextCursor: a cursor for the rest
 * ```
 */
export function evaluateQuery<T extends { id: string }>(documents: Iterable<T>, prepared: PreparedQuery): Page<T> {
  return evaluate(documents, prepared, (document) => document, noMeta);
}

/**
 * {@link evaluateQuery} over entries (document and metadata), so filters and
 * sorts may use `$createdAt` and `$updatedAt`. Returned items are the given
 * entries (not copies).
 *
 * ### Examples
 * ```ts
 * import { evaluateEntries, prepareQuery } from '@berth/core/adapter';
 *
 * const at = (iso: string) => new Date(iso);
 * const entries = [
 *   { document: { id: 'a' }, meta: { version: 1, createdAt: at('2026-01-02'), updatedAt: at('2026-01-02') } },
 *   { document: { id: 'b' }, meta: { version: 1, createdAt: at('2026-01-01'), updatedAt: at('2026-01-01') } },
 * ];
 * evaluateEntries(entries, prepareQuery({ orderBy: '$createdAt' })).items.map((e) => e.document.id); // ['b', 'a']
 * ```
 */
export function evaluateEntries<E extends { readonly document: { readonly id: string }; readonly meta: DocumentMeta }>(
  entries: Iterable<E>,
  prepared: PreparedQuery,
): Page<E> {
  return evaluate(entries, prepared, documentOf, metaOf);
}

const noMeta = (): undefined => undefined;
const documentOf = (entry: { readonly document: { readonly id: string } }) => entry.document;
const metaOf = (entry: { readonly meta: DocumentMeta }) => entry.meta;

function evaluate<E>(
  items: Iterable<E>,
  prepared: PreparedQuery,
  document: (item: E) => { readonly id: string },
  meta: (item: E) => DocumentMeta | undefined,
): Page<E> {
  const { sort, after } = prepared;
  const keyed: { item: E; id: string; values: unknown[] }[] = [];
  for (const item of items) {
    const found = document(item);
    const foundMeta = meta(item);
    if (!matchesNode(found, prepared.filter, foundMeta)) continue;
    const values = sortValues(found, sort, foundMeta);
    if (after !== undefined && compareSortTuples(values, found.id, after.values, after.id, sort) <= 0) continue;
    keyed.push({ item, id: found.id, values });
  }
  keyed.sort((a, b) => compareSortTuples(a.values, a.id, b.values, b.id, sort));
  const start = prepared.offset;
  const end = prepared.limit === undefined ? keyed.length : start + prepared.limit;
  const page = keyed.slice(start, end);
  const last = page.at(-1);
  const nextCursor =
    end < keyed.length && last !== undefined
      ? encodeCursor(prepared.fingerprint, { values: last.values, id: last.id })
      : null;
  return { items: page.map((entry) => entry.item), nextCursor };
}
