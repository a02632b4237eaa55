import type { DocumentScalar } from '@berth/core';
import { type FieldNode, type FieldPath, type FilterNode, isMetadataPath, typeRank } from '@berth/core/adapter';
import { sql } from 'kysely';
import type { Expression, SortParameter, SqlDialect } from './sql-dialect.js';

/** The operator of a comparison node, as SQL. */
const OPERATORS = { eq: '=', ne: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

/**
 * `parts` joined by AND or OR, in parentheses; the empty AND holds, the empty OR does not.
 *
 * ### Examples
 * ```ts
 * import { parseFilter } from '@berth/core/adapter';
 * import { compileFilter, joinConditions, type SqlDialect } from '@berth/sql';
 *
 * declare const dialect: SqlDialect;
 * const either = joinConditions(
 *   dialect,
 *   [compileFilter(dialect, parseFilter({ role: 'admin' })), compileFilter(dialect, parseFilter({ owner: 'ada' }))],
 *   'OR',
 * );
 * const nothing = joinConditions(dialect, [], 'OR'); // never holds
 * ```
 */
export function joinConditions(dialect: SqlDialect, parts: readonly Expression[], separator: 'AND' | 'OR'): Expression {
  if (parts.length === 0) return separator === 'AND' ? dialect.true : dialect.false;
  return sql`(${sql.join(parts, sql.raw(` ${separator} `))})`;
}

/**
 * The field's sort key compared with a scalar's: the rank is the operand's
 * (an inlined literal, which an index on the rank can match), and the one
 * sort value that rank holds compares by `operator`. Equality and ranges are
 * both this, so they are type-strict and an index on the key serves them.
 * Neither side is ever NULL for a present scalar, and a rank never is, so
 * `NOT` stays plain negation.
 */
function compareKey(dialect: SqlDialect, path: FieldPath, operator: string, operand: DocumentScalar): Expression {
  const rank = sql`${dialect.rankOf(path)} = ${sql.lit(typeRank(operand))}`;
  const columns = dialect.sortValuesOf(path);
  const terms = dialect
    .sortParameters(operand)
    .flatMap((value, index) => (value === null ? [] : [sql`${columns[index]} ${sql.raw(operator)} ${value}`]));
  return sql`(${sql.join([rank, ...terms], sql.raw(' AND '))})`;
}

/**
 * `$in` as at most one term per type, each an SQL `IN` list over that
 * type's sort value (a flat OR of 1000 equalities would exceed SQLite's
 * expression depth), null first, then by rank.
 */
function isIn(dialect: SqlDialect, path: FieldPath, values: readonly DocumentScalar[]): Expression {
  const byRank = new Map<number, { column: number; list: SortParameter[] }>();
  for (const operand of values) {
    if (operand === null) continue;
    const parameters = dialect.sortParameters(operand);
    const column = parameters.findIndex((value) => value !== null);
    const group = byRank.get(typeRank(operand)) ?? { column, list: [] };
    group.list.push(parameters[column] ?? null);
    byRank.set(typeRank(operand), group);
  }
  const terms: Expression[] = [];
  if (values.includes(null)) terms.push(compareKey(dialect, path, '=', null));
  const columns = dialect.sortValuesOf(path);
  for (const [rank, { column, list }] of [...byRank].sort((a, b) => a[0] - b[0])) {
    terms.push(sql`(${dialect.rankOf(path)} = ${sql.lit(rank)} AND ${columns[column]} IN (${sql.join(list)}))`);
  }
  return joinConditions(dialect, terms, 'OR');
}

/**
 * A condition on a column that holds one type and is never NULL: `id`
 * (the primary key, always the document's id, so an id lookup is an index
 * search rather than a scan) or a metadata column (which an index on it can
 * serve). `parameterOf` is an operand as the column holds it, `null` for
 * operands of another type, which never match. `undefined` leaves the
 * condition to the field walk.
 */
function onColumn(
  dialect: SqlDialect,
  node: FieldNode,
  column: Expression,
  parameterOf: (value: unknown) => SortParameter,
): Expression | undefined {
  switch (node.kind) {
    case 'eq':
    case 'ne':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const value = parameterOf(node.value);
      if (value === null) return node.kind === 'ne' ? dialect.true : dialect.false;
      return sql`(${column} ${sql.raw(OPERATORS[node.kind])} ${value})`;
    }
    case 'in':
    case 'nin': {
      const values = node.values.map(parameterOf).filter((value) => value !== null);
      const found = values.length === 0 ? dialect.false : sql`(${column} IN (${sql.join(values)}))`;
      return node.kind === 'in' ? found : sql`(NOT ${found})`;
    }
    case 'exists':
      return node.value ? dialect.true : dialect.false;
    default:
      return undefined;
  }
}

const idParameter = (value: unknown): SortParameter => (typeof value === 'string' ? value : null);

/** Whether the path is the document's id, which the dialect's id column holds. */
export const isIdPath = (path: FieldPath): boolean => path.length === 1 && path[0] === 'id';

/**
 * The least string, in code-point order, above every string that starts
 * with `prefix`: its last code point incremented (skipping the surrogate
 * block, which no stored string holds), dropped first when it is the last
 * code point there is. `undefined` when there is no such string.
 */
function prefixSuccessor(prefix: string): string | undefined {
  const points = [...prefix].map((character) => character.codePointAt(0) as number);
  while (points.length > 0) {
    const last = (points.pop() as number) + 1;
    if (last <= 0x10ffff) return String.fromCodePoint(...points, last >= 0xd800 && last <= 0xdfff ? 0xe000 : last);
  }
  return undefined;
}

/**
 * `$startsWith` on the id: the strings with that prefix are a range of the
 * primary key, which an index search reads instead of every row; the
 * dialect's own check stays, so the result is exact whatever the range.
 */
function idStartsWith(dialect: SqlDialect, path: FieldPath, prefix: string): Expression {
  const upper = prefixSuccessor(prefix);
  const range = [sql`${dialect.id} >= ${prefix}`, ...(upper === undefined ? [] : [sql`${dialect.id} < ${upper}`])];
  return joinConditions(dialect, [...range, dialect.startsWith(path, prefix)], 'AND');
}

/**
 * Compiles a validated filter tree to a boolean SQL expression that is
 * never NULL and matches exactly the documents core's `matchesNode` does.
 *
 * ### Examples
 * ```ts
 * import { parseFilter } from '@berth/core/adapter';
 * import { compileFilter, type SqlDialect } from '@berth/sql';
 *
 * declare const dialect: SqlDialect;
 * const where = compileFilter(dialect, parseFilter({ 'stats.level': { $gte: 10 }, tags: { $contains: 'pro' } }));
 * // sql`SELECT doc FROM players WHERE ${where}`
 * ```
 */
export function compileFilter(dialect: SqlDialect, node: FilterNode): Expression {
  if ('path' in node && isIdPath(node.path)) {
    if (node.kind === 'startsWith') return idStartsWith(dialect, node.path, node.value);
    const compiled = onColumn(dialect, node, dialect.id, idParameter);
    if (compiled !== undefined) return compiled;
  }
  if ('path' in node && isMetadataPath(node.path)) {
    // Core refuses $startsWith and $contains on metadata: they could never match a Date.
    const column = dialect.metadataColumn(node.path);
    return onColumn(dialect, node, column, (value) => dialect.metadataParameter(value)) ?? dialect.false;
  }
  switch (node.kind) {
    case 'and':
    case 'or':
      return joinConditions(
        dialect,
        node.nodes.map((child) => compileFilter(dialect, child)),
        node.kind === 'and' ? 'AND' : 'OR',
      );
    case 'not':
      return sql`(NOT ${compileFilter(dialect, node.node)})`;
    case 'eq':
      return compareKey(dialect, node.path, '=', node.value);
    case 'ne':
      return sql`(NOT ${compareKey(dialect, node.path, '=', node.value)})`;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return compareKey(dialect, node.path, OPERATORS[node.kind], node.value);
    case 'in':
      return isIn(dialect, node.path, node.values);
    case 'nin':
      return sql`(NOT ${isIn(dialect, node.path, node.values)})`;
    case 'exists':
      return dialect.exists(node.path, node.value);
    case 'startsWith':
      return dialect.startsWith(node.path, node.value);
    case 'contains':
      return dialect.contains(node.path, node.value);
  }
}
