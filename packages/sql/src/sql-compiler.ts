import type { CursorPosition, FilterNode, SortSpec } from '@berth/core/adapter';
import type { Expression, SqlDialect } from './sql-dialect.js';
import { compileFilter } from './sql-filter.js';
import { compileAfter, compileOrderBy } from './sql-order.js';

/**
 * The compilers bound to one dialect: what an adapter's repository calls.
 *
 * ### Examples
 * ```ts
 * import { prepareQuery } from '@berth/core/adapter';
 * import type { SqlCompiler } from '@berth/sql';
 *
 * declare const compiler: SqlCompiler; // sqlCompiler(myDialect), made once per adapter
 * const query = prepareQuery({ where: { level: { $gte: 10 } }, orderBy: 'name', limit: 20 });
 * const where = compiler.compileFilter(query.filter);
 * const orderBy = compiler.compileOrderBy(query.sort, query.filter);
 * const after = query.after === undefined ? undefined : compiler.compileAfter(query.sort, query.after);
 * // sql`SELECT doc FROM players WHERE ${where} ORDER BY ${orderBy} LIMIT ${query.limit}`
 * ```
 */
export interface SqlCompiler {
  /** A filter tree as a boolean SQL expression that is never NULL. */
  readonly compileFilter: (node: FilterNode) => Expression;
  /** The ORDER BY terms of a sort, ties by id; `filter` lets a rank it fixes be left out. */
  readonly compileOrderBy: (sort: readonly SortSpec[], filter?: FilterNode) => Expression;
  /** The keyset condition "after this position" for a sort. */
  readonly compileAfter: (sort: readonly SortSpec[], after: CursorPosition) => Expression;
}

/**
 * Binds `compileFilter`, `compileOrderBy` and `compileAfter` to a dialect.
 *
 * ### Examples
 * ```ts
 * import { parseFilter } from '@berth/core/adapter';
 * import { type SqlDialect, sqlCompiler } from '@berth/sql';
 *
 * declare const myDialect: SqlDialect;
 * const { compileFilter } = sqlCompiler(myDialect);
 * const where = compileFilter(parseFilter({ status: { $in: ['open', 'waiting'] } }));
 * ```
 */
export function sqlCompiler(dialect: SqlDialect): SqlCompiler {
  return {
    compileFilter: (node) => compileFilter(dialect, node),
    compileOrderBy: (sort, filter) => compileOrderBy(dialect, sort, filter),
    compileAfter: (sort, after) => compileAfter(dialect, sort, after),
  };
}
