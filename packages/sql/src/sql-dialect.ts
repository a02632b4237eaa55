import type { DocumentScalar } from '@berth/core';
import type { FieldPath } from '@berth/core/adapter';
import type { RawBuilder } from 'kysely';

/**
 * A piece of SQL built with kysely's `sql` tag: its values are bound parameters.
 *
 * ### Examples
 * ```ts
 * import { parseFilter } from '@berth/core/adapter';
 * import { compileFilter, type Expression, joinConditions, type SqlDialect } from '@berth/sql';
 *
 * declare const dialect: SqlDialect; // your engine's
 * declare const tenantOnly: Expression; // sql`tenant = ${tenant}`, with kysely's `sql` tag
 * const where: Expression = joinConditions(dialect, [tenantOnly, compileFilter(dialect, parseFilter({ done: false }))], 'AND');
 * ```
 */
export type Expression = RawBuilder<unknown>;

/**
 * A bound value a sort column is compared with: `null` where the column is NULL.
 *
 * ### Examples
 * ```ts
 * import { parseFieldPath } from '@berth/core/adapter';
 * import { joinConditions, type SortParameter, type SqlDialect } from '@berth/sql';
 *
 * declare const dialect: SqlDialect;
 * // "the field sorts exactly where 42 sorts": each sort column against its parameter.
 * const path = parseFieldPath('stats.level');
 * const parameters: readonly SortParameter[] = dialect.sortParameters(42);
 * const columns = dialect.sortValuesOf(path);
 * const samePosition = joinConditions(
 *   dialect,
 *   columns.map((column, index) => dialect.same(column, parameters[index] ?? null)),
 *   'AND',
 * );
 * ```
 */
export type SortParameter = number | string | null;

/**
 * What one SQL engine does differently when it compiles core's filter, sort
 * and cursor trees over a table of documents: how a field is read, typed
 * and ordered, and how the id and metadata columns are named. The walk over
 * the trees (`compileFilter`, `compileOrderBy`, `compileAfter`) is shared.
 *
 * A field sorts by its sort key: `rankOf` (core's `typeRank`, never NULL),
 * then the `sortValuesOf` columns, whose order within a rank is the
 * reference order. Every value of one rank is non-NULL in the same one
 * column and NULL in the others (null, arrays and objects are NULL in all:
 * they tie), and `sortParameters` gives a JavaScript value's key the same
 * shape, so equality, ranges, `$in`, ORDER BY and keyset cursors are all
 * comparisons of these columns. An expression index on the key serves them.
 *
 * Field paths reach a dialect as core validated them (`parseFieldPath`);
 * the dialect still checks them (`checkedPath`) before writing them into
 * SQL text. Metadata paths (`isMetadataPath`) and `id` never reach the
 * field methods: the walk reads their columns.
 *
 * ### Examples
 * ```ts
 * import type { FieldPath } from '@berth/core/adapter';
 * import { checkedPath, type Expression, type SqlDialect } from '@berth/sql';
 *
 * // kysely's tag in a real adapter: import { sql } from 'kysely'
 * declare const sql: ((strings: TemplateStringsArray, ...values: unknown[]) => Expression) & { lit(value: string): unknown };
 * declare const rest: Omit<SqlDialect, 'true' | 'false' | 'id' | 'exists'>;
 *
 * const jsonPath = (path: FieldPath): string => `$.${checkedPath(path).join('.')}`;
 * const myDialect: SqlDialect = {
 *   true: sql`1`,
 *   false: sql`0`,
 *   id: sql`id`,
 *   exists: (path, present) =>
 *     present ? sql`json_type(doc, ${sql.lit(jsonPath(path))}) IS NOT NULL` : sql`json_type(doc, ${sql.lit(jsonPath(path))}) IS NULL`,
 *   ...rest, // rankOf, sortValuesOf, sortParameters, metadataColumn, …
 * };
 * ```
 */
export interface SqlDialect {
  /** A boolean expression that always holds (`1` on SQLite, `TRUE` on PostgreSQL). */
  readonly true: Expression;
  /** A boolean expression that never holds. */
  readonly false: Expression;
  /** The primary-key column holding the document's id, compared by code point. */
  readonly id: Expression;
  /** The rank of the field's type in the cross-type order, as an integer (0 when missing or null). */
  rankOf(path: FieldPath): Expression;
  /** The field's within-type sort values, in ORDER BY order (see the interface). */
  sortValuesOf(path: FieldPath): readonly Expression[];
  /** A JavaScript value's counterpart of `sortValuesOf`: one parameter per column. */
  sortParameters(value: unknown): readonly SortParameter[];
  /** The column holding `$createdAt` or `$updatedAt`: never NULL, ordered chronologically. */
  metadataColumn(path: FieldPath): Expression;
  /** A Date as the metadata columns hold it; `null` for anything else. */
  metadataParameter(value: unknown): SortParameter;
  /** Whether the field is present (`true`, a null value included) or absent (`false`). */
  exists(path: FieldPath, present: boolean): Expression;
  /** The field is a string starting with `prefix`, every character literal; never NULL. */
  startsWith(path: FieldPath, prefix: string): Expression;
  /** The field is an array with an element type-strictly equal to `element`; never NULL. */
  contains(path: FieldPath, element: DocumentScalar): Expression;
  /** `expression` equals `value`, NULL equal to NULL: the keyset's "same position so far". */
  same(expression: Expression, value: SortParameter): Expression;
}
