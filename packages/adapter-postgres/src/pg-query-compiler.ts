import type { DocumentScalar } from '@berth/core';
import { type FieldPath, toJsonValue } from '@berth/core/adapter';
import {
  checkedPath,
  type Expression,
  type SortParameter,
  type SqlCompiler,
  type SqlDialect,
  sqlCompiler,
} from '@berth/sql';
import {
  type CompiledQuery,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
} from 'kysely';

/**
 * The PostgreSQL dialect of `@berth/sql`: core's validated filter, sort and
 * cursor trees compiled to SQL over the JSONB of a collection table
 *
 *     id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL,
 *     version integer NOT NULL,
 *     created_at timestamptz(3) NOT NULL, updated_at timestamptz(3) NOT NULL
 *
 * where `data` holds the whole document (its `id` too) with Dates encoded
 * as core's `toJsonValue` encodes them (`{"$date": "<ISO text>"}`).
 *
 * It reproduces the reference evaluator: every read of a field is guarded by
 * `jsonb_typeof` inside a CASE (PostgreSQL may evaluate the terms of an AND
 * in any order, so only a CASE keeps a cast from seeing a string); numbers
 * compare as float8, which is the double JavaScript holds (JSONB keeps
 * `4611686018427388000` as an exact numeric, 2^62 is 4611686018427387904;
 * float8's input rounds the decimal text correctly, as JSON.parse does);
 * strings and Date texts compare `COLLATE "C"`, by code point, whatever the
 * database's locale.
 *
 * A field's sort key is three columns: `rankOf` (the cross-type rank), then
 * `numberOf` (float8: numbers, and booleans as 0 and 1) and `stringOf`
 * (text: strings, and Dates as their fixed-width ISO text), NULL where the
 * rank has no such value. PostgreSQL needs one type per column, so the one
 * mixed "value" column SQLite has is split in two.
 */

/**
 * The JSONB value at a path: `data -> 'stats' -> 'level'`, NULL when missing.
 *
 * Each segment is an inlined string literal, after `checkedPath` (letters,
 * digits, `_`, `-`): inlined rather than bound so a query's expression is
 * the very expression an index is built on, which the planner must see to
 * use it. It is a chain of `->`, not `#> '{stats,level}'`: `#>` reads a
 * numeric segment of an array as an index (`{tags,0}` is the first tag,
 * `{tags,-1}` the last) and an unquoted `NULL` segment as an SQL NULL, and
 * core's paths walk objects only; `->` with a text key is NULL on an array.
 */
function jsonbOf(path: FieldPath, last = '->'): Expression {
  const segments = checkedPath(path);
  return sql`data${sql.join(
    segments.map(
      (segment, index) => sql`${sql.raw(` ${index === segments.length - 1 ? last : '->'} `)}${sql.lit(segment)}`,
    ),
    sql.raw(''),
  )}`;
}

/** The field's scalar as text (`->>`): a string unescaped, a number as its decimal text, `true`/`false`. */
function textOf(path: FieldPath): Expression {
  return jsonbOf(path, '->>');
}

/** The encoded Date's ISO text at a path, NULL for anything else. */
function dateTextOf(path: FieldPath): Expression {
  return sql`(CASE WHEN jsonb_typeof(${jsonbOf(path)} -> '$date') = 'string' THEN ${jsonbOf(path)} ->> '$date' END)`;
}

/**
 * `jsonb_typeof` of the field: NULL when missing, else 'null', 'boolean',
 * 'number', 'string', 'array' or 'object' (a Date is an object).
 */
export function typeOf(path: FieldPath): Expression {
  return sql`jsonb_typeof(${jsonbOf(path)})`;
}

/** Rank of the field's type in the cross-type order (core's `typeRank`): never NULL. */
function rankOf(path: FieldPath): Expression {
  return sql`(CASE ${typeOf(path)} WHEN 'boolean' THEN 1 WHEN 'number' THEN 2 WHEN 'string' THEN 3 WHEN 'array' THEN 5 WHEN 'object' THEN (CASE WHEN jsonb_typeof(${jsonbOf(path)} -> '$date') = 'string' THEN 4 ELSE 6 END) ELSE 0 END)`;
}

/** The field as float8: a number as the double JavaScript holds, a boolean as 0 or 1, else NULL. */
function numberOf(path: FieldPath): Expression {
  return sql`(CASE ${typeOf(path)} WHEN 'number' THEN (${textOf(path)})::float8 WHEN 'boolean' THEN (CASE ${textOf(path)} WHEN 'true' THEN 1 ELSE 0 END)::float8 END)`;
}

/** The field as text in code-point order: a string, a Date's ISO text, else NULL. */
export function stringOf(path: FieldPath): Expression {
  return sql`((CASE ${typeOf(path)} WHEN 'string' THEN ${textOf(path)} WHEN 'object' THEN ${dateTextOf(path)} END) COLLATE "C")`;
}

/**
 * The field's value as countBy groups it, as JSONB: numbers normalized to
 * the double JavaScript holds (`to_jsonb` of the float8), anything else as
 * stored (a Date as its `{"$date": …}`). Read it with `typeOf`: arrays and
 * objects other than Dates are in no group. `to_jsonb` writes the float8's
 * shortest exact text while `extra_float_digits` is above 0 (PostgreSQL's
 * default, 1); a session must not lower it.
 */
export function groupValueOf(path: FieldPath): Expression {
  return sql`(CASE ${typeOf(path)} WHEN 'number' THEN to_jsonb((${textOf(path)})::float8) ELSE ${jsonbOf(path)} END)`;
}

/** An element of `$contains`'s array equal to the operand: numbers as float8, anything else as JSONB (type and value). */
function elementEquals(operand: DocumentScalar): Expression {
  if (typeof operand === 'number') {
    return sql`(CASE WHEN jsonb_typeof(element.value) = 'number' THEN (element.value #>> '{}')::float8 = ${operand} ELSE FALSE END)`;
  }
  return sql`element.value = CAST(${JSON.stringify(toJsonValue(operand))} AS jsonb)`;
}

/** What a JavaScript value's sort key is, matching `numberOf` and `stringOf`. */
function sortParameters(value: unknown): readonly SortParameter[] {
  if (typeof value === 'boolean') return [value ? 1 : 0, null];
  if (typeof value === 'number') return [value, null];
  if (typeof value === 'string') return [null, value];
  if (value instanceof Date) return [null, value.toISOString()];
  return [null, null];
}

const STRING_RANK = 3;

/** PostgreSQL for `@berth/sql`. Metadata columns are `timestamptz(3)`, compared with a Date's ISO text. */
export const POSTGRES_DIALECT: SqlDialect = {
  true: sql`TRUE`,
  false: sql`FALSE`,
  id: sql`id`,
  rankOf,
  sortValuesOf: (path) => [numberOf(path), stringOf(path)],
  sortParameters,
  metadataColumn: (path) => sql.raw(path[0] === '$createdAt' ? 'created_at' : 'updated_at'),
  metadataParameter: (value) => (value instanceof Date ? value.toISOString() : null),
  exists: (path, present) => (present ? sql`(${jsonbOf(path)} IS NOT NULL)` : sql`(${jsonbOf(path)} IS NULL)`),
  // starts_with compares characters literally: nothing in the prefix is a pattern.
  startsWith: (path, prefix) =>
    sql`(${rankOf(path)} = ${sql.lit(STRING_RANK)} AND starts_with(${stringOf(path)}, ${prefix}))`,
  // A CASE, not an AND: jsonb_array_elements throws on anything but an array.
  contains: (path, element) =>
    sql`(CASE WHEN ${typeOf(path)} = 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(${jsonbOf(path)}) AS element(value) WHERE ${elementEquals(element)}) ELSE FALSE END)`,
  same: (expression, value) => (value === null ? sql`${expression} IS NULL` : sql`${expression} = ${value}`),
};

const COMPILER: SqlCompiler = sqlCompiler(POSTGRES_DIALECT);
/** Compiles a filter tree to a boolean SQL expression that is never NULL. */
export const compileFilter: SqlCompiler['compileFilter'] = COMPILER.compileFilter;
/** The ORDER BY terms of a sort, ties by id. */
export const compileOrderBy: SqlCompiler['compileOrderBy'] = COMPILER.compileOrderBy;
/** The keyset condition "after this position" for a sort. */
export const compileAfter: SqlCompiler['compileAfter'] = COMPILER.compileAfter;

/** A kysely instance that only compiles SQL: pg executes it. */
const compiler = new Kysely<Record<string, Record<string, unknown>>>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

/** The SQL text (`$1`, `$2`… placeholders) and parameters of an expression or query. */
export function compileSql(query: Expression): CompiledQuery<unknown> {
  return query.compile(compiler);
}

/**
 * The expressions an index on a field is built on, as SQL text: the field's
 * sort key (rank, float8 value, text value) exactly as the compiler writes
 * it in ORDER BY, equality, ranges and `$in`, so the planner matches those
 * to the index. An index's declared type changes nothing: it never filters
 * what is indexed. Pure literals, no parameters: ready for CREATE INDEX.
 * A non-unique index may end with `id` too, so the tie-break of ORDER BY
 * is read from it (no sort at all); a unique one must not, or every tuple
 * would be unique.
 */
export function indexExpressions(path: FieldPath): string[] {
  return [rankOf(path), numberOf(path), stringOf(path)].map((expression) => compileSql(expression).sql);
}
