import { ValidationError } from '../errors.js';
import type { AnyDocument, Document } from '../values/document.js';
import type { Query } from './query.js';

/**
 * What `findOne` takes: a query without `limit` or `cursor`, which would contradict "the first match".
 *
 * ### Examples
 * ```ts
 * import type { FindOneQuery, Repository } from '@berth/core';
 *
 * interface Job { id: string; status: string; priority: number }
 *
 * async function next(jobs: Repository<Job>) {
 *   const query: FindOneQuery<Job> = { where: { status: 'ready' }, orderBy: { field: 'priority', direction: 'desc' } };
 *   return jobs.findOne(query);
 * }
 * ```
 */
export type FindOneQuery<T extends Document = AnyDocument> = Omit<Query<T>, 'limit' | 'cursor'>;

/**
 * The `find` query that serves `findOne(query)`: `limit` 1, after refusing a
 * `limit` or `cursor` with `VALIDATION` naming it. Every adapter calls it, so
 * none ignores one silently (or lets it change which document comes first).
 *
 * ### Examples
 * ```ts
 * import type { FindOneQuery, Page, Query } from '@berth/core';
 * import { findOneQuery } from '@berth/core/adapter';
 *
 * async function findOne<T>(findPage: (query: Query) => Promise<Page<T>>, query?: FindOneQuery): Promise<T | null> {
 *   return (await findPage(findOneQuery(query))).items[0] ?? null;
 * }
 * ```
 */
export function findOneQuery(query: FindOneQuery | undefined): Query {
  for (const key of ['limit', 'cursor'] as const) {
    if ((query as Query | undefined)?.[key] !== undefined) {
      throw new ValidationError(
        `findOne takes no ${key}: it returns the first match (use find({ limit }) or findPage({ cursor }))`,
        key,
      );
    }
  }
  return { ...query, limit: 1 };
}
