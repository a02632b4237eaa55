import type { DocumentScalar } from '@berth/core';
import type { FieldPath } from '@berth/core/adapter';
import {
  checkedPath,
  type Expression,
  type SortParameter,
  type SqlCompiler,
  type SqlDialect,
  sqlCompiler,
} from '@berth/sql';
import { sql } from 'kysely';

/**
 * The SQLite dialect of `@berth/sql`, which compiles core's validated
 * filter and sort trees to SQL over the JSON text in the `doc` column,
 * reproducing the reference evaluator:
 * type-strict comparisons (`json_type` guards every comparison), code-point
 * string order (BINARY collation compares UTF-8 bytes), numbers as the
 * doubles JavaScript holds (see `integerOf`), null and missing alike for
 * equality, and the cross-type sort order.
 *
 * Field paths are inlined as JSON path literals: core has already limited
 * their segments to letters, digits, `_` and `-`, and inlining is what lets
 * SQLite match a query to an expression index. Values are always bound.
 */

/** The JSON path literal for a field path: `$."stats"."level"`. */
function jsonPath(path: FieldPath): string {
  return `$${checkedPath(path)
    .map((segment) => `."${segment}"`)
    .join('')}`;
}

/** `json_type(doc, path)`: NULL when missing, 'null', 'true', 'false', 'integer', 'real', 'text', 'array', 'object'. */
export function typeOf(path: FieldPath): Expression {
  return sql`json_type(doc, ${sql.lit(jsonPath(path))})`;
}

/**
 * `json_extract(doc, path)`: the SQL value at the path, as SQLite reads it;
 * for numbers it is only an approximation (see `integerOf`).
 */
function jsonValueOf(path: FieldPath): Expression {
  return sql`json_extract(doc, ${sql.lit(jsonPath(path))})`;
}

/**
 * `doc -> path`: the field's JSON text, verbatim. Written once by
 * `JSON.stringify`, so two values are equal exactly when their texts are.
 */
function jsonTextOf(path: FieldPath): Expression {
  return sql`doc -> ${sql.lit(jsonPath(path))}`;
}

/** Integers SQLite reads exactly and JavaScript holds exactly: |n| <= 2^53. */
const SAFE = sql.raw('BETWEEN -9007199254740992 AND 9007199254740992');

/**
 * The value at the path, numbers as JavaScript's doubles (NULL when missing;
 * JSON text for arrays and objects). What `countBy` groups by.
 */
export function groupValueOf(path: FieldPath): Expression {
  return sql`(CASE ${typeOf(path)} WHEN 'integer' THEN ${integerOf(path)} WHEN 'real' THEN ${realOf(path)} ELSE ${jsonValueOf(path)} END)`;
}

/**
 * The double JavaScript holds for a field whose json_type is 'integer'.
 * SQLite's reading of the JSON text differs from it: `4611686018427388000`
 * (2^62 as JSON.stringify writes it) becomes that 64-bit integer, which is
 * not 2^62, and its text-to-double conversion is off by up to a few ulps
 * for large exponents (it merges or swaps neighbours near 1e-300). An
 * integer literal within 2^53 is read exactly (one past int64 reads as a
 * real outside the range); any other number is parsed by JavaScript
 * (`berth_number`, see sqlite-json.ts) from the field's JSON text, which
 * `->` returns verbatim.
 */
function integerOf(path: FieldPath): Expression {
  const value = jsonValueOf(path);
  return sql`(CASE WHEN ${value} ${SAFE} THEN ${value} ELSE berth_number(${jsonTextOf(path)}) END)`;
}

/** The double JavaScript holds for a field whose json_type is known to be 'real' (see `integerOf`). */
function realOf(path: FieldPath): Expression {
  return sql`berth_number(${jsonTextOf(path)})`;
}

function dateTextOf(path: FieldPath): Expression {
  return sql`json_extract(doc, ${sql.lit(`${jsonPath(path)}."$date"`)})`;
}

/** The JSON text SQLite returns for an encoded Date. */
function encodedDate(date: Date): string {
  return JSON.stringify({ $date: date.toISOString() });
}

/**
 * Rank of a value's type in the cross-type order, as SQL. Declared indexes
 * hold this very expression (then `sortValueOf`), so ORDER BY, ranges and
 * equality on an indexed field are index searches.
 */
export function rankOf(path: FieldPath): Expression {
  // CASE with a base expression evaluates it once: one JSON lookup, not four.
  const date = sql`json_type(doc, ${sql.lit(`${jsonPath(path)}."$date"`)})`;
  return sql`(CASE ${typeOf(path)} WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 2 WHEN 'real' THEN 2 WHEN 'text' THEN 3 WHEN 'array' THEN 5 WHEN 'object' THEN (CASE WHEN ${date} IS 'text' THEN 4 ELSE 6 END) ELSE 0 END)`;
}

/**
 * The value a field sorts by within its type (NULL for null, arrays and
 * objects, which tie): numbers as JavaScript's doubles, strings, Dates as
 * their ISO text, booleans as 0 and 1.
 */
export function sortValueOf(path: FieldPath): Expression {
  const value = jsonValueOf(path);
  const date = sql`json_type(doc, ${sql.lit(`${jsonPath(path)}."$date"`)})`;
  return sql`(CASE ${typeOf(path)} WHEN 'true' THEN ${value} WHEN 'false' THEN ${value} WHEN 'text' THEN ${value} WHEN 'integer' THEN ${integerOf(path)} WHEN 'real' THEN ${realOf(path)} WHEN 'object' THEN (CASE WHEN ${date} IS 'text' THEN ${dateTextOf(path)} ELSE NULL END) ELSE NULL END)`;
}

/**
 * `$contains`: an element of the array equal to the operand, type-strict;
 * `json_each` names each element's type, value and full path.
 */
function elementEquals(operand: DocumentScalar): Expression {
  if (operand === null) return sql`element.type IS 'null'`;
  if (operand === true) return sql`element.type IS 'true'`;
  if (operand === false) return sql`element.type IS 'false'`;
  if (typeof operand === 'number') {
    // As integerOf, for an array element: its JSON text is at its full key.
    return sql`(element.type IN ('integer', 'real') AND (CASE WHEN element.type IS 'integer' AND element.value ${SAFE} THEN element.value ELSE berth_number(doc -> element.fullkey) END) = ${operand})`;
  }
  if (typeof operand === 'string') return sql`(element.type IS 'text' AND element.value = ${operand})`;
  return sql`(element.type IS 'object' AND element.value = ${encodedDate(operand)})`;
}

/**
 * What a JS value sorts by in SQL, matching `sortValueOf`: numbers and
 * strings as they are, booleans as 0 and 1, Dates as their ISO text.
 */
function sortValueParameter(value: unknown): SortParameter {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' || typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  return null;
}

/**
 * SQLite for `@berth/sql`. A field's sort key is two columns, `rankOf`
 * and `sortValueOf` (SQLite compares values of mixed storage classes in
 * one column); metadata columns hold epoch milliseconds as INTEGERs, whose
 * order is the chronological order of the Dates, ties included.
 */
const SQLITE_DIALECT: SqlDialect = {
  true: sql`1`,
  false: sql`0`,
  id: sql`id`,
  rankOf,
  sortValuesOf: (path) => [sortValueOf(path)],
  sortParameters: (value) => [sortValueParameter(value)],
  metadataColumn: (path) => sql.raw(path[0] === '$createdAt' ? 'created_at' : 'updated_at'),
  metadataParameter: (value) => (value instanceof Date ? value.getTime() : null),
  exists: (path, present) => (present ? sql`(${typeOf(path)} IS NOT NULL)` : sql`(${typeOf(path)} IS NULL)`),
  // substr/length count characters (code points), and nothing in the
  // operand is a pattern: unlike LIKE or GLOB, every character is literal.
  startsWith: (path, prefix) =>
    sql`(${typeOf(path)} IS 'text' AND substr(${jsonValueOf(path)}, 1, length(${prefix})) = ${prefix})`,
  contains: (path, element) =>
    sql`(${typeOf(path)} IS 'array' AND EXISTS (SELECT 1 FROM json_each(doc, ${sql.lit(jsonPath(path))}) AS element WHERE ${elementEquals(element)}))`,
  same: (expression, value) => sql`${expression} IS ${value}`,
};

const COMPILER: SqlCompiler = sqlCompiler(SQLITE_DIALECT);
/** Compiles a filter tree to a boolean SQL expression that is never NULL. */
export const compileFilter: SqlCompiler['compileFilter'] = COMPILER.compileFilter;
/** The ORDER BY terms of a sort, ties by id. */
export const compileOrderBy: SqlCompiler['compileOrderBy'] = COMPILER.compileOrderBy;
/** The keyset condition "after this position" for a sort. */
export const compileAfter: SqlCompiler['compileAfter'] = COMPILER.compileAfter;
