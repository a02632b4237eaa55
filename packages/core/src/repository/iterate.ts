import { ValidationError } from '../errors.js';
import { throwIfAborted } from '../operation/abort.js';
import { checkOptions, checkQueryArgument } from '../operation/arguments.js';
import type { Page, Query } from '../query/query.js';
import type { IterateOptions } from './repository.js';

/**
 * Default number of documents `iterate` fetches per round trip.
 *
 * ### Examples
 * ```ts
 * import { DEFAULT_BATCH_SIZE } from '@berth/core/adapter';
 *
 * const batchSize = (requested: number | undefined): number => requested ?? DEFAULT_BATCH_SIZE;
 * ```
 */
export const DEFAULT_BATCH_SIZE = 100;

/**
 * Streams every match of `query` by walking keyset pages of `batchSize`.
 * Adapters implement `iterate` with it, so only one page is in memory at a
 * time and documents written during the walk never repeat.
 *
 * ### Examples
 * ```ts
 * import type { IterateOptions, Page, Query } from '@berth/core';
 * import { iterateByPages } from '@berth/core/adapter';
 *
 * function iterate<T>(findPage: (query: Query) => Promise<Page<T>>, query?: Query, options?: IterateOptions) {
 *   return iterateByPages(findPage, query, options);
 * }
 * ```
 */
export async function* iterateByPages<T>(
  findPage: (query: Query) => Promise<Page<T>>,
  query: Query | undefined,
  options: IterateOptions | undefined,
): AsyncIterableIterator<T> {
  checkQueryArgument(query, 'iterate');
  checkOptions(options, 'iterate');
  const batchSize = options?.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new ValidationError(`batchSize must be an integer >= 1, got ${String(batchSize)}`, 'batchSize');
  }
  let remaining = query?.limit ?? Number.POSITIVE_INFINITY;
  let page: Query = { ...query, limit: Math.min(batchSize, remaining) };
  while (remaining > 0) {
    throwIfAborted(options?.signal, 'iterate');
    const { items, nextCursor } = await findPage(page);
    for (const item of items) yield item;
    remaining -= items.length;
    if (nextCursor === null || items.length === 0) return;
    page = { where: query?.where, orderBy: query?.orderBy, cursor: nextCursor, limit: Math.min(batchSize, remaining) };
  }
}
