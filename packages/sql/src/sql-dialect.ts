import type { DocumentScalar } from '@berth/core';
import type { FieldPath } from '@berth/core/adapter';
import type { RawBuilder } from 'kysely';

/** A piece of SQL built with kysely's `sql` tag: its values are bound parameters. */
export type Expression = RawBuilder<unknown>;

/** A bound value a sort column is compared with: `null` where the column is NULL. */
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
