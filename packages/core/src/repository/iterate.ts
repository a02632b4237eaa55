import { ValidationError } from '../errors.js';
import { throwIfAborted } from '../operation/abort.js';
import { checkOptions, checkQueryArgument } from '../operation/arguments.js';
import type { Page, Query } from '../query/query.js';
import type { IterateOptions } from './repository.js';

/** Default number of documents `iterate` fetches per round trip. */
export const DEFAULT_BATCH_SIZE = 100;

/**
 * Streams every match of `query` by walking keyset pages of `batchSize`.
 * Adapters implement `iterate` with it, so only one page is in memory at a
 * time and documents written during the walk never repeat.
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
