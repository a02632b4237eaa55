import type { CursorPosition, FilterNode, SortSpec } from '@berth/core/adapter';
import type { Expression, SqlDialect } from './sql-dialect.js';
import { compileFilter } from './sql-filter.js';
import { compileAfter, compileOrderBy } from './sql-order.js';

/** The compilers bound to one dialect: what an adapter's repository calls. */
export interface SqlCompiler {
  /** A filter tree as a boolean SQL expression that is never NULL. */
  readonly compileFilter: (node: FilterNode) => Expression;
  /** The ORDER BY terms of a sort, ties by id; `filter` lets a rank it fixes be left out. */
  readonly compileOrderBy: (sort: readonly SortSpec[], filter?: FilterNode) => Expression;
  /** The keyset condition "after this position" for a sort. */
  readonly compileAfter: (sort: readonly SortSpec[], after: CursorPosition) => Expression;
}

/** Binds `compileFilter`, `compileOrderBy` and `compileAfter` to a dialect. */
export function sqlCompiler(dialect: SqlDialect): SqlCompiler {
  return {
    compileFilter: (node) => compileFilter(dialect, node),
    compileOrderBy: (sort, filter) => compileOrderBy(dialect, sort, filter),
    compileAfter: (sort, after) => compileAfter(dialect, sort, after),
  };
}
