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
 * doubles JavaScript holds (see `integerOf`), null and missing alike for
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
 * `json_extract(doc, path)`: the SQL value at the path, as SQLite reads it;
 * for numbers it is only an approximation (see `integerOf`).
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
export function encodedDate(date: Date): string {
  return JSON.stringify({ $date: date.toISOString() });
}

const TRUE: Expression = sql`1`;
const FALSE: Expression = sql`0`;

/**
 * The rank and within-type value a JS scalar sorts by in SQL (see
 * `rankOf` and `sortValueOf`): rank 0 for null, 1 with 0/1 for booleans,
 * 2 for numbers, 3 for strings, 4 with the ISO text for Dates.
 */
function sortKeyOf(operand: DocumentScalar): { readonly rank: number; readonly value: number | string | null } {
  return { rank: typeRank(operand), value: sortValueParameter(operand) };
}

/**
 * Type-strict equality of the field with a scalar: the field's sort rank
 * and sort value (exact: numbers as JavaScript's doubles) equal the
 * operand's. These are the very expressions declared indexes hold, so an
 * index serves the condition. Neither is ever NULL for a present scalar,
 * and a rank never is, so `NOT` stays plain negation.
 */
function equals(path: FieldPath, operand: DocumentScalar): Expression {
  const { rank, value } = sortKeyOf(operand);
  if (operand === null) return sql`(${rankOf(path)} = 0)`;
  return sql`(${rankOf(path)} = ${sql.lit(rank)} AND ${sortValueOf(path)} = ${value})`;
}

/**
 * Range conditions compare the field's sort rank and value, the expressions
 * declared indexes hold, so an index serves them (and a count of them).
 * Matching the rank keeps them type-strict; a Date compares as its ISO
 * text, which is fixed-width, so the text order is the chronological order.
 */
function compare(path: FieldPath, operator: '>' | '>=' | '<' | '<=', operand: number | string | Date): Expression {
  const { rank, value } = sortKeyOf(operand);
  return sql`(${rankOf(path)} = ${sql.lit(rank)} AND ${sortValueOf(path)} ${sql.raw(operator)} ${value})`;
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
 * `$in` as at most one term per type, each a SQL `IN` list over the sort
 * value (a flat OR of 1000 equalities would exceed SQLite's expression depth).
 */
function isIn(path: FieldPath, values: readonly DocumentScalar[]): Expression {
  const byRank = new Map<number, (number | string)[]>();
  for (const operand of values) {
    if (operand === null) continue;
    const { rank, value } = sortKeyOf(operand);
    const list = byRank.get(rank) ?? [];
    list.push(value as number | string);
    byRank.set(rank, list);
  }
  const terms: Expression[] = [];
  if (values.includes(null)) terms.push(equals(path, null));
  for (const [rank, list] of [...byRank].sort((a, b) => a[0] - b[0])) {
    terms.push(sql`(${rankOf(path)} = ${sql.lit(rank)} AND ${sortValueOf(path)} IN (${sql.join(list)}))`);
  }
  return join(terms, 'OR');
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
 * The ORDER BY terms of a sort: rank and value per key, then id ascending.
 * A rank the filter fixes is left out: it changes nothing, and SQLite
 * would not see that an index searched on that rank is already in order,
 * and sort every match (a range plus a sort).
 */
export function compileOrderBy(sort: readonly SortSpec[], filter?: FilterNode): Expression {
  const terms: Expression[] = [];
  const fixed = fixedRanks(filter);
  for (const key of sort) {
    const direction = sql.raw(key.direction === 'desc' ? 'DESC' : 'ASC');
    // Metadata is always a Date: one rank, so the column alone orders it.
    if (isMetadataPath(key.path)) {
      terms.push(sql`${metadataColumn(key.path)} ${direction}`);
      continue;
    }
    if (!fixed.has(key.path.join('.'))) terms.push(sql`${rankOf(key.path)} ${direction}`);
    terms.push(sql`${sortValueOf(key.path)} ${direction}`);
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
