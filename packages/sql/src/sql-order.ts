import { type CursorPosition, type FilterNode, isMetadataPath, type SortSpec, typeRank } from '@berth/core/adapter';
import { sql } from 'kysely';
import type { Expression, SortParameter, SqlDialect } from './sql-dialect.js';
import { isIdPath, joinConditions } from './sql-filter.js';

/**
 * The sort up to its first `id` key: the id is unique, so nothing after it
 * can reorder anything, and without those terms a planner sees that the
 * primary key alone delivers the order.
 */
function keysThroughId(sort: readonly SortSpec[]): readonly SortSpec[] {
  const idAt = sort.findIndex((key) => isIdPath(key.path));
  return idAt === -1 ? sort : sort.slice(0, idAt + 1);
}

/**
 * The fields whose type the filter fixes: a top-level AND term compares
 * them with a non-null scalar, so every match has that one rank.
 */
function fixedRanks(filter: FilterNode | undefined): Set<string> {
  const fixed = new Set<string>();
  if (filter === undefined) return fixed;
  for (const term of filter.kind === 'and' ? filter.nodes : [filter]) {
    const ranked = ['eq', 'gt', 'gte', 'lt', 'lte'].includes(term.kind);
    if (ranked && 'value' in term && 'path' in term && term.value !== null) fixed.add(term.path.join('.'));
  }
  return fixed;
}

/**
 * The ORDER BY terms of a sort: the sort key (rank, then sort values) per
 * key, then id ascending. A key on `id` is the id column itself (always a
 * string, so one rank), and ends the terms: the primary key then serves the
 * order instead of a sort of every row. A rank the filter fixes is left out: it changes
 * nothing, and a planner would not see that an index searched on that rank
 * is already in order, and sort every match (a range plus a sort).
 *
 * ### Examples
 * ```ts
 * import { prepareQuery } from '@berth/core/adapter';
 * import { compileOrderBy, type SqlDialect } from '@berth/sql';
 *
 * declare const dialect: SqlDialect;
 * const query = prepareQuery({ where: { team: 'red' }, orderBy: { field: 'score', direction: 'desc' } });
 * const orderBy = compileOrderBy(dialect, query.sort, query.filter);
 * // sql`SELECT doc FROM players WHERE … ORDER BY ${orderBy}`
 * ```
 */
export function compileOrderBy(dialect: SqlDialect, sort: readonly SortSpec[], filter?: FilterNode): Expression {
  const terms: Expression[] = [];
  const fixed = fixedRanks(filter);
  const keys = keysThroughId(sort);
  for (const key of keys) {
    const direction = sql.raw(key.direction === 'desc' ? 'DESC' : 'ASC');
    if (isIdPath(key.path)) {
      terms.push(sql`${dialect.id} ${direction}`);
      return sql.join(terms);
    }
    // Metadata is always a Date: one rank, so the column alone orders it.
    if (isMetadataPath(key.path)) {
      terms.push(sql`${dialect.metadataColumn(key.path)} ${direction}`);
      continue;
    }
    if (!fixed.has(key.path.join('.'))) terms.push(sql`${dialect.rankOf(key.path)} ${direction}`);
    for (const value of dialect.sortValuesOf(key.path)) terms.push(sql`${value} ${direction}`);
  }
  terms.push(sql`${dialect.id} ASC`);
  return sql.join(terms);
}

/**
 * The keyset condition "after this position" for a sort: the row's tuple
 * (rank and sort values per key, then id) is beyond the cursor's in sort
 * order. `after.values` are the cursor's sort values, as core's
 * `sortValues` reads them (a Date where a metadata key is). A key on `id`
 * compares the id column with `after.id` and ends the tuple, as in
 * `compileOrderBy`, so a primary-key range serves the cursor.
 *
 * ### Examples
 * ```ts
 * import { prepareQuery } from '@berth/core/adapter';
 * import { compileAfter, type SqlDialect } from '@berth/sql';
 *
 * declare const dialect: SqlDialect;
 * declare const cursor: string; // nextCursor of the previous page
 * const query = prepareQuery({ orderBy: 'name', cursor, limit: 50 });
 * const after = query.after === undefined ? dialect.true : compileAfter(dialect, query.sort, query.after);
 * ```
 */
export function compileAfter(dialect: SqlDialect, sort: readonly SortSpec[], after: CursorPosition): Expression {
  const elements: { expression: Expression; value: SortParameter; descending: boolean }[] = [];
  const keys = keysThroughId(sort);
  keys.forEach((key, index) => {
    const value = after.values[index] ?? null;
    const descending = key.direction === 'desc';
    if (isIdPath(key.path)) {
      elements.push({ expression: dialect.id, value: after.id, descending });
      return;
    }
    if (isMetadataPath(key.path)) {
      // prepareQuery has checked that the cursor holds a Date here.
      elements.push({
        expression: dialect.metadataColumn(key.path),
        value: dialect.metadataParameter(value),
        descending,
      });
      return;
    }
    elements.push({ expression: dialect.rankOf(key.path), value: typeRank(value), descending });
    const parameters = dialect.sortParameters(value);
    dialect.sortValuesOf(key.path).forEach((expression, column) => {
      elements.push({ expression, value: parameters[column] ?? null, descending });
    });
  });
  if (!keys.some((key) => isIdPath(key.path)))
    elements.push({ expression: dialect.id, value: after.id, descending: false });
  const alternatives: Expression[] = [];
  for (let index = 0; index < elements.length; index++) {
    const element = elements[index] as (typeof elements)[number];
    // Within its rank a column is NULL for every row or for none: nothing sorts beyond NULL.
    if (element.value === null) continue;
    const earlier = elements.slice(0, index).map((previous) => dialect.same(previous.expression, previous.value));
    const beyond = element.descending
      ? sql`${element.expression} < ${element.value}`
      : sql`${element.expression} > ${element.value}`;
    alternatives.push(joinConditions(dialect, [...earlier, beyond], 'AND'));
  }
  return joinConditions(dialect, alternatives, 'OR');
}
