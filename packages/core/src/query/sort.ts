import { ValidationError } from '../errors.js';
import { compareStrings, compareValues } from '../values/compare.js';
import type { DocumentMeta } from '../values/document.js';
import { type FieldPath, getQueryValue, parseQueryPath } from '../values/names.js';
import { isPlainObject } from '../values/values.js';
import type { OrderBy, SortDirection } from './query.js';

/**
 * A validated sort key.
 *
 * ### Examples
 * ```ts
 * import { normalizeOrderBy, type SortSpec } from '@berth/core/adapter';
 *
 * const sort: SortSpec[] = normalizeOrderBy(['name', { field: 'age', direction: 'desc' }]);
 * const sql = sort.map((key) => `${key.path.join('_')} ${key.direction.toUpperCase()}`).join(', ');
 * ```
 */
export interface SortSpec {
  readonly field: string;
  readonly path: FieldPath;
  readonly direction: SortDirection;
}

/**
 * Validates `orderBy` and returns its keys (without the implicit `id` tie-breaker).
 *
 * ### Examples
 * ```ts
 * import { normalizeOrderBy } from '@berth/core/adapter';
 *
 * normalizeOrderBy('name'); // [{ field: 'name', path: ['name'], direction: 'asc' }]
 * ```
 */
export function normalizeOrderBy(orderBy: OrderBy | undefined): SortSpec[] {
  if (orderBy === undefined) return [];
  const keys = Array.isArray(orderBy) ? orderBy : [orderBy];
  return keys.map((key: unknown) => {
    if (typeof key === 'string') return { field: key, path: parseQueryPath(key), direction: 'asc' as const };
    if (isPlainObject(key)) {
      const direction = key.direction ?? 'asc';
      if (direction !== 'asc' && direction !== 'desc') {
        throw new ValidationError(`sort direction must be "asc" or "desc", got ${JSON.stringify(direction)}`, '');
      }
      return { field: String(key.field), path: parseQueryPath(key.field), direction };
    }
    throw new ValidationError('orderBy takes a field name, { field, direction } or an array of them', '');
  });
}

/**
 * The values a document sorts by, in key order (missing as `null`). `meta`
 * is the document's metadata, which `$createdAt` and `$updatedAt` keys read.
 *
 * ### Examples
 * ```ts
 * import { normalizeOrderBy, sortValues } from '@berth/core/adapter';
 *
 * sortValues({ id: 'p1', name: 'Ada' }, normalizeOrderBy(['name', 'age'])); // ['Ada', null]
 * ```
 */
export function sortValues(document: unknown, sort: readonly SortSpec[], meta?: DocumentMeta): unknown[] {
  return sort.map((key) => getQueryValue(document, key.path, meta) ?? null);
}

/**
 * Compares two sort-value tuples, then the ids.
 *
 * ### Examples
 * ```ts
 * import { compareSortTuples, normalizeOrderBy } from '@berth/core/adapter';
 *
 * const sort = normalizeOrderBy({ field: 'level', direction: 'desc' });
 * compareSortTuples([5], 'a', [3], 'b', sort); // negative: 5 comes first in descending order
 * ```
 */
export function compareSortTuples(
  a: readonly unknown[],
  aId: string,
  b: readonly unknown[],
  bId: string,
  sort: readonly SortSpec[],
): number {
  for (let index = 0; index < sort.length; index++) {
    const order = compareValues(a[index], b[index]);
    if (order !== 0) return sort[index]?.direction === 'desc' ? -order : order;
  }
  return compareStrings(aId, bId);
}

/**
 * Compares two documents by `sort`, ties broken by id ascending.
 *
 * ### Examples
 * ```ts
 * import { compareDocuments, normalizeOrderBy } from '@berth/core/adapter';
 *
 * const sort = normalizeOrderBy('name');
 * const people = [{ id: '2', name: 'Bo' }, { id: '1', name: 'Al' }].sort((a, b) => compareDocuments(a, b, sort));
 * ```
 */
export function compareDocuments(a: { id: string }, b: { id: string }, sort: readonly SortSpec[]): number {
  return compareSortTuples(sortValues(a, sort), a.id, sortValues(b, sort), b.id, sort);
}

/**
 * Sorts entries (a new array) in the reference order: like
 * {@link sortDocuments}, and `$createdAt` / `$updatedAt` keys read each
 * entry's metadata.
 *
 * ### Examples
 * ```ts
 * import { sortEntries } from '@berth/core/adapter';
 *
 * const at = (iso: string) => ({ version: 1, createdAt: new Date(iso), updatedAt: new Date(iso) });
 * sortEntries(
 *   [{ document: { id: 'b' }, meta: at('2026-02-01') }, { document: { id: 'a' }, meta: at('2026-03-01') }],
 *   { field: '$createdAt', direction: 'desc' },
 * ); // 'a' (March) first, then 'b'
 * ```
 */
export function sortEntries<E extends { readonly document: { readonly id: string }; readonly meta: DocumentMeta }>(
  entries: readonly E[],
  orderBy: OrderBy | undefined,
): E[] {
  const sort = normalizeOrderBy(orderBy);
  const keyed = entries.map((entry) => ({ entry, values: sortValues(entry.document, sort, entry.meta) }));
  keyed.sort((a, b) => compareSortTuples(a.values, a.entry.document.id, b.values, b.entry.document.id, sort));
  return keyed.map((item) => item.entry);
}

/**
 * Sorts documents (a new array) in the reference order.
 *
 * ### Examples
 * ```ts
 * import { sortDocuments } from '@berth/core/adapter';
 *
 * sortDocuments([{ id: 'b', n: 1 }, { id: 'a', n: 1 }, { id: 'c' }], { field: 'n', direction: 'desc' });
 * // [{ id: 'a', n: 1 }, { id: 'b', n: 1 }, { id: 'c' }]
 * ```
 */
export function sortDocuments<T extends { id: string }>(documents: readonly T[], orderBy: OrderBy | undefined): T[] {
  const sort = normalizeOrderBy(orderBy);
  const keyed = documents.map((document) => ({ document, values: sortValues(document, sort) }));
  keyed.sort((a, b) => compareSortTuples(a.values, a.document.id, b.values, b.document.id, sort));
  return keyed.map((entry) => entry.document);
}
