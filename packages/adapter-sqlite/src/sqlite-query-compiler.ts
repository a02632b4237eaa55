import type { DocumentScalar } from '@berth/core';
import {
  type CursorPosition,
  type FieldNode,
  type FieldPath,
  type FilterNode,
  isMetadataPath,
  type SortSpec,
  typeRank,
} from '@berth/core/adapter';
import { type RawBuilder, sql } from 'kysely';

/**
 * Compiles core's validated filter and sort trees to SQLite SQL over the
 * JSON text in the `doc` column, reproducing the reference evaluator:
 * type-strict comparisons (`json_type` guards every comparison), code-point
 * string order (BINARY collation compares UTF-8 bytes), numbers as the
 * doubles JavaScript holds (see `numberOf`), null and missing alike for
 * equality, and the cross-type sort order.
 *
 * Field paths are inlined as JSON path literals: core has already limited
 * their segments to letters, digits, `_` and `-`, and inlining is what lets
 * SQLite match a query to an expression index. Values are always bound.
 */

type Expression = RawBuilder<unknown>;

/** The JSON path literal for a field path: `$."stats"."level"`. */
export function jsonPath(path: FieldPath): string {
  return `$${path.map((segment) => `."${segment}"`).join('')}`;
}

/** `json_type(doc, path)`: NULL when missing, 'null', 'true', 'false', 'integer', 'real', 'text', 'array', 'object'. */
export function typeOf(path: FieldPath): Expression {
  return sql`json_type(doc, ${sql.lit(jsonPath(path))})`;
}

/**
 * `json_extract(doc, path)`: the SQL value at the path, as SQLite reads it.
 * Declared indexes hold exactly this expression, so conditions that should
 * use an index compare it; for numbers it is only an approximation (see
 * `numberOf`).
 */
export function jsonValueOf(path: FieldPath): Expression {
  return sql`json_extract(doc, ${sql.lit(jsonPath(path))})`;
}

/**
 * `doc -> path`: the field's JSON text, verbatim. Written once by
 * `JSON.stringify`, so two values are equal exactly when their texts are.
 */
export function jsonTextOf(path: FieldPath): Expression {
  return sql`doc -> ${sql.lit(jsonPath(path))}`;
}

/** Integers SQLite reads exactly and JavaScript holds exactly: |n| <= 2^53. */
const SAFE = sql.raw('BETWEEN -9007199254740992 AND 9007199254740992');

/**
 * The double JavaScript holds for a number-typed field. SQLite's reading of
 * the JSON text differs: `4611686018427388000` (2^62 as JSON.stringify
 * writes it) becomes that 64-bit integer, which is not 2^62, and its
 * text-to-double conversion is off by up to a few ulps for large exponents
 * (it merges or swaps neighbours near 1e-300). Safe integers are taken as
 * SQLite reads them; any other number is parsed by JavaScript
 * (`berth_number`, see sqlite-json.ts) from the field's JSON text, which
 * `->` returns verbatim. (`typeof` of the extracted value is cheaper than
 * `json_type`; callers have already checked that the field is a number.)
 */
function numberOf(path: FieldPath): Expression {
  const value = jsonValueOf(path);
  return sql`(CASE WHEN typeof(${value}) = 'integer' AND ${value} ${SAFE} THEN ${value} ELSE berth_number(${jsonTextOf(path)}) END)`;
}

/**
 * The value at the path, numbers as JavaScript's doubles (NULL when missing;
 * JSON text for arrays and objects). What `countBy` groups by.
 */
export function groupValueOf(path: FieldPath): Expression {
  return sql`(CASE ${typeOf(path)} WHEN 'integer' THEN ${integerOf(path)} WHEN 'real' THEN ${realOf(path)} ELSE ${jsonValueOf(path)} END)`;
}

/**
 * numberOf for a field whose json_type is known to be 'integer': such a
 * literal within 2^53 is read exactly (one past int64 reads as a real
 * outside the range).
 */
function integerOf(path: FieldPath): Expression {
  const value = jsonValueOf(path);
  return sql`(CASE WHEN ${value} ${SAFE} THEN ${value} ELSE berth_number(${jsonTextOf(path)}) END)`;
}

/** numberOf for a field whose json_type is known to be 'real'. */
function realOf(path: FieldPath): Expression {
  return sql`berth_number(${jsonTextOf(path)})`;
}

/**
 * Bounds within which SQLite's reading of a number's JSON text must lie
 * when the number itself is `x`: its error is a few ulps (2^-50 relative,
 * or a few subnormal steps), far inside these. A condition on the indexed
 * `jsonValueOf` value between them lets an index narrow the rows; `numberOf`
 * then decides exactly.
 */
function near(x: number): { readonly low: number; readonly high: number } {
  const margin = Math.abs(x) * 2 ** -40 + 2 ** -1000;
  return { low: x - margin, high: x + margin };
}

function dateTextOf(path: FieldPath): Expression {
  return sql`json_extract(doc, ${sql.lit(`${jsonPath(path)}."$date"`)})`;
}

function isDate(path: FieldPath): Expression {
  return sql`(${typeOf(path)} IS 'object' AND json_type(doc, ${sql.lit(`${jsonPath(path)}."$date"`)}) IS 'text')`;
}

/** The JSON text SQLite returns for an encoded Date. */
export function encodedDate(date: Date): string {
  return JSON.stringify({ $date: date.toISOString() });
}

/**
 * Redundant for a value already known to be a number, string or Date, but
 * it is the WHERE clause of the partial unique indexes (which leave out null
 * and missing values), and SQLite only uses a partial index when every term
 * of its WHERE appears in the query's WHERE.
 */
function present(path: FieldPath): Expression {
  const type = typeOf(path);
  return sql`${type} IS NOT NULL AND ${type} != 'null'`;
}

/**
 * `IN` rather than two `IS` alternatives, so the planner searches one index
 * range per type instead of planning an OR (which cannot use a partial
 * index). Alone it is NULL for a missing field: use it only beside
 * `present`, which makes the conjunction false instead.
 */
function isNumber(path: FieldPath): Expression {
  return sql`${typeOf(path)} IN ('integer', 'real')`;
}

const TRUE: Expression = sql`1`;
const FALSE: Expression = sql`0`;

/**
 * Type-strict equality of the field with a scalar. Type checks use `IS`,
 * never `=` or `IN`, so a missing field (json_type NULL) gives false, not
 * NULL, and `NOT` stays plain negation.
 */
function equals(path: FieldPath, operand: DocumentScalar): Expression {
  const type = typeOf(path);
  if (operand === null) return sql`(${type} IS NULL OR ${type} IS 'null')`;
  if (operand === true) return sql`(${type} IS 'true')`;
  if (operand === false) return sql`(${type} IS 'false')`;
  if (typeof operand === 'number') {
    // A safe integer's text is read exactly, so the index can look it up.
    const { low, high } = near(operand);
    const candidates = Number.isSafeInteger(operand)
      ? sql`${jsonValueOf(path)} = ${operand}`
      : sql`${jsonValueOf(path)} BETWEEN ${low} AND ${high}`;
    return sql`(${isNumber(path)} AND ${present(path)} AND ${candidates} AND ${numberOf(path)} = ${operand})`;
  }
  if (typeof operand === 'string') {
    return sql`(${type} IS 'text' AND ${present(path)} AND ${jsonValueOf(path)} = ${operand})`;
  }
  return sql`(${type} IS 'object' AND ${present(path)} AND ${jsonValueOf(path)} = ${encodedDate(operand)})`;
}

/**
 * Range conditions compare the indexed expression itself so an index on the
 * field serves them. A Date compares as its encoding, `{"$date":"<ISO>"}`:
 * the ISO text is fixed-width behind a fixed prefix, so the text order is
 * the chronological order, and the `$date` check keeps other objects out.
 */
function compare(path: FieldPath, operator: '>' | '>=' | '<' | '<=', operand: number | string | Date): Expression {
  const op = sql.raw(operator);
  const type = typeOf(path);
  if (typeof operand === 'number') {
    const { low, high } = near(operand);
    const candidates = operator.startsWith('>')
      ? sql`${jsonValueOf(path)} >= ${low}`
      : sql`${jsonValueOf(path)} <= ${high}`;
    // Beyond the margin SQLite's reading decides alone; only values near the operand need numberOf.
    const decided = operator.startsWith('>') ? sql`${jsonValueOf(path)} > ${high}` : sql`${jsonValueOf(path)} < ${low}`;
    return sql`(${isNumber(path)} AND ${present(path)} AND ${candidates} AND (${decided} OR ${numberOf(path)} ${op} ${operand}))`;
  }
  if (typeof operand === 'string') {
    return sql`(${type} IS 'text' AND ${present(path)} AND ${jsonValueOf(path)} ${op} ${operand})`;
  }
  return sql`(${isDate(path)} AND ${present(path)} AND ${jsonValueOf(path)} ${op} ${encodedDate(operand)})`;
}

function elementEquals(operand: DocumentScalar): Expression {
  if (operand === null) return sql`element.type IS 'null'`;
  if (operand === true) return sql`element.type IS 'true'`;
  if (operand === false) return sql`element.type IS 'false'`;
  if (typeof operand === 'number') {
    // As numberOf, for an array element: its JSON text is at its full key.
    return sql`(element.type IN ('integer', 'real') AND (CASE WHEN element.type IS 'integer' AND element.value ${SAFE} THEN element.value ELSE berth_number(doc -> element.fullkey) END) = ${operand})`;
  }
  if (typeof operand === 'string') return sql`(element.type IS 'text' AND element.value = ${operand})`;
  return sql`(element.type IS 'object' AND element.value = ${encodedDate(operand)})`;
}

/**
 * `$in` as at most one term per type, each a SQL `IN` list: a flat OR of
 * 1000 equalities would exceed SQLite's expression depth.
 */
function isIn(path: FieldPath, values: readonly DocumentScalar[]): Expression {
  const type = typeOf(path);
  const numbers = values.filter((value): value is number => typeof value === 'number');
  const strings = values.filter((value): value is string => typeof value === 'string');
  const dates = values.filter((value): value is Date => value instanceof Date).map(encodedDate);
  const terms: Expression[] = [];
  if (values.includes(null)) terms.push(equals(path, null));
  if (values.includes(true)) terms.push(equals(path, true));
  if (values.includes(false)) terms.push(equals(path, false));
  if (numbers.length > 0) {
    terms.push(
      sql`(${isNumber(path)} AND ${present(path)} AND ${numberCandidates(path, numbers)} AND ${numberOf(path)} IN (${sql.join(numbers)}))`,
    );
  }
  if (strings.length > 0) {
    terms.push(sql`(${type} IS 'text' AND ${present(path)} AND ${jsonValueOf(path)} IN (${sql.join(strings)}))`);
  }
  if (dates.length > 0) {
    terms.push(sql`(${type} IS 'object' AND ${present(path)} AND ${jsonValueOf(path)} IN (${sql.join(dates)}))`);
  }
  return join(terms, 'OR');
}

/**
 * The index-friendly part of a numeric `$in`: safe integers in one `IN`
 * list, a range around every other number. The ranges are ORed as a
 * balanced tree: a flat chain of up to 1000 would exceed SQLite's
 * expression depth.
 */
function numberCandidates(path: FieldPath, numbers: readonly number[]): Expression {
  const safe = numbers.filter((number) => Number.isSafeInteger(number));
  const ranges = numbers
    .filter((number) => !Number.isSafeInteger(number))
    .map((number) => {
      const { low, high } = near(number);
      return sql`${jsonValueOf(path)} BETWEEN ${low} AND ${high}`;
    });
  return anyOf(safe.length === 0 ? ranges : [sql`${jsonValueOf(path)} IN (${sql.join(safe)})`, ...ranges]);
}

function anyOf(parts: readonly Expression[]): Expression {
  if (parts.length <= 1) return parts[0] ?? FALSE;
  const middle = Math.ceil(parts.length / 2);
  return sql`(${anyOf(parts.slice(0, middle))} OR ${anyOf(parts.slice(middle))})`;
}

function join(parts: readonly Expression[], separator: 'AND' | 'OR'): Expression {
  if (parts.length === 0) return separator === 'AND' ? TRUE : FALSE;
  return sql`(${sql.join(parts, sql.raw(` ${separator} `))})`;
}

/**
 * Conditions on `id` read the primary-key column, which always holds the
 * document's id (a string, never missing), so an id lookup is an index
 * search rather than a scan. `undefined` leaves the rest to the JSON path.
 */
function onId(node: FieldNode): Expression | undefined {
  switch (node.kind) {
    case 'eq':
      return typeof node.value === 'string' ? sql`(id = ${node.value})` : FALSE;
    case 'ne':
      return typeof node.value === 'string' ? sql`(id != ${node.value})` : TRUE;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const operator = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[node.kind];
      return typeof node.value === 'string' ? sql`(id ${sql.raw(operator)} ${node.value})` : FALSE;
    }
    case 'in':
    case 'nin': {
      const ids = node.values.filter((value): value is string => typeof value === 'string');
      const found = ids.length === 0 ? FALSE : sql`(id IN (${sql.join(ids)}))`;
      return node.kind === 'in' ? found : sql`(NOT ${found})`;
    }
    case 'exists':
      return node.value ? TRUE : FALSE;
    default:
      return undefined;
  }
}

/**
 * The column of a metadata path: epoch milliseconds as an INTEGER, never
 * NULL. Integer order is the chronological order of the Dates, ties and
 * milliseconds included, so the columns compare and sort directly.
 */
function metadataColumn(path: FieldPath): Expression {
  return sql.raw(path[0] === '$createdAt' ? 'created_at' : 'updated_at');
}

/** Epoch milliseconds of a metadata operand (core only lets Dates through). */
function millisecondsOf(value: unknown): number | undefined {
  return value instanceof Date ? value.getTime() : undefined;
}

/** Conditions on `$createdAt` / `$updatedAt` read the metadata columns, which an index on them can serve. */
function onMetadata(node: FieldNode): Expression {
  const column = metadataColumn(node.path);
  switch (node.kind) {
    case 'eq':
    case 'ne':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const at = millisecondsOf(node.value);
      const operator = { eq: '=', ne: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=' }[node.kind];
      if (at === undefined) return node.kind === 'ne' ? TRUE : FALSE;
      return sql`(${column} ${sql.raw(operator)} ${at})`;
    }
    case 'in':
    case 'nin': {
      const times = node.values.map(millisecondsOf).filter((at): at is number => at !== undefined);
      const found = times.length === 0 ? FALSE : sql`(${column} IN (${sql.join(times)}))`;
      return node.kind === 'in' ? found : sql`(NOT ${found})`;
    }
    case 'exists':
      return node.value ? TRUE : FALSE;
    default:
      return FALSE;
  }
}

/** Compiles a filter tree to a boolean SQL expression that is never NULL. */
export function compileFilter(node: FilterNode): Expression {
  if ('path' in node && node.path.length === 1 && node.path[0] === 'id') {
    const compiled = onId(node);
    if (compiled !== undefined) return compiled;
  }
  if ('path' in node && isMetadataPath(node.path)) return onMetadata(node);
  switch (node.kind) {
    case 'and':
      return join(node.nodes.map(compileFilter), 'AND');
    case 'or':
      return join(node.nodes.map(compileFilter), 'OR');
    case 'not':
      return sql`(NOT ${compileFilter(node.node)})`;
    case 'eq':
      return equals(node.path, node.value);
    case 'ne':
      return sql`(NOT ${equals(node.path, node.value)})`;
    case 'gt':
      return compare(node.path, '>', node.value);
    case 'gte':
      return compare(node.path, '>=', node.value);
    case 'lt':
      return compare(node.path, '<', node.value);
    case 'lte':
      return compare(node.path, '<=', node.value);
    case 'in':
      return isIn(node.path, node.values);
    case 'nin':
      return sql`(NOT ${isIn(node.path, node.values)})`;
    case 'exists':
      return node.value ? sql`(${typeOf(node.path)} IS NOT NULL)` : sql`(${typeOf(node.path)} IS NULL)`;
    case 'startsWith':
      // substr/length count characters (code points), and nothing in the
      // operand is a pattern: unlike LIKE or GLOB, every character is literal.
      return sql`(${typeOf(node.path)} IS 'text' AND substr(${jsonValueOf(node.path)}, 1, length(${node.value})) = ${node.value})`;
    case 'contains':
      return sql`(${typeOf(node.path)} IS 'array' AND EXISTS (SELECT 1 FROM json_each(doc, ${sql.lit(jsonPath(node.path))}) AS element WHERE ${elementEquals(node.value)}))`;
  }
}

/** Rank of a value's type in the cross-type order, as SQL. */
function rankOf(path: FieldPath): Expression {
  // CASE with a base expression evaluates it once: one JSON lookup, not four.
  const date = sql`json_type(doc, ${sql.lit(`${jsonPath(path)}."$date"`)})`;
  return sql`(CASE ${typeOf(path)} WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 2 WHEN 'real' THEN 2 WHEN 'text' THEN 3 WHEN 'array' THEN 5 WHEN 'object' THEN (CASE WHEN ${date} IS 'text' THEN 4 ELSE 6 END) ELSE 0 END)`;
}

/** The value a field sorts by within its type (NULL for null, arrays and objects, which tie). */
function sortValueOf(path: FieldPath): Expression {
  const value = jsonValueOf(path);
  const date = sql`json_type(doc, ${sql.lit(`${jsonPath(path)}."$date"`)})`;
  return sql`(CASE ${typeOf(path)} WHEN 'true' THEN ${value} WHEN 'false' THEN ${value} WHEN 'text' THEN ${value} WHEN 'integer' THEN ${integerOf(path)} WHEN 'real' THEN ${realOf(path)} WHEN 'object' THEN (CASE WHEN ${date} IS 'text' THEN ${dateTextOf(path)} ELSE NULL END) ELSE NULL END)`;
}

/** The ORDER BY terms of a sort: rank and value per key, then id ascending. */
export function compileOrderBy(sort: readonly SortSpec[]): Expression {
  const terms: Expression[] = [];
  for (const key of sort) {
    const direction = sql.raw(key.direction === 'desc' ? 'DESC' : 'ASC');
    // Metadata is always a Date: one rank, so the column alone orders it.
    if (isMetadataPath(key.path)) terms.push(sql`${metadataColumn(key.path)} ${direction}`);
    else terms.push(sql`${rankOf(key.path)} ${direction}`, sql`${sortValueOf(key.path)} ${direction}`);
  }
  terms.push(sql`id ASC`);
  return sql.join(terms);
}

/** What a JS value sorts by in SQL, matching `sortValueOf`. */
function sortValueParameter(value: unknown): number | string | null {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' || typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  return null;
}

/**
 * The keyset condition "after this position" for a sort: the row's tuple of
 * (rank, value) per key, then id, is beyond the cursor's in sort order.
 */
export function compileAfter(sort: readonly SortSpec[], after: CursorPosition): Expression {
  const elements: { expression: Expression; value: unknown; descending: boolean }[] = [];
  sort.forEach((key, index) => {
    const value = after.values[index] ?? null;
    const descending = key.direction === 'desc';
    if (isMetadataPath(key.path)) {
      // prepareQuery has checked that the cursor holds a Date here.
      elements.push({ expression: metadataColumn(key.path), value: millisecondsOf(value) ?? null, descending });
      return;
    }
    elements.push({ expression: rankOf(key.path), value: typeRank(value), descending });
    elements.push({ expression: sortValueOf(key.path), value: sortValueParameter(value), descending });
  });
  elements.push({ expression: sql`id`, value: after.id, descending: false });
  const alternatives: Expression[] = [];
  for (let index = 0; index < elements.length; index++) {
    const element = elements[index] as (typeof elements)[number];
    if (element.value === null) continue; // nothing sorts beyond NULL within its rank
    const earlier = elements.slice(0, index).map((previous) => sql`${previous.expression} IS ${previous.value}`);
    const beyond = element.descending
      ? sql`${element.expression} < ${element.value}`
      : sql`${element.expression} > ${element.value}`;
    alternatives.push(join([...earlier, beyond], 'AND'));
  }
  return join(alternatives, 'OR');
}
