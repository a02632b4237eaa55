import { createHash } from 'node:crypto';
import type { IndexDefinition } from '@berth/core';
import { type IndexSpec, isMetadataPath } from '@berth/core/adapter';
import { quoteIdent } from './pg-names.js';
import { indexExpressions } from './pg-query-compiler.js';

/** PostgreSQL truncates identifiers past 63 bytes (NAMEDATALEN - 1); Berth never lets it. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * The name of a declared index: readable and unique per collection and
 * index (`heroes.level`, `heroes.email!unique`, `revisions(sessionId+at)`).
 * A name longer than PostgreSQL's 63 bytes keeps its first bytes and ends
 * with a hash of the whole name (`~` and 12 hex digits), so two indexes never
 * share a name and PostgreSQL never truncates one. Index names share the
 * schema's namespace with tables; collection and Berth table names hold
 * neither `.` nor `(`, so they cannot clash.
 */
export function indexName(collection: string, spec: Pick<IndexSpec, 'key' | 'compound' | 'unique'>): string {
  const full = `${collection}${spec.compound ? spec.key : `.${spec.key}`}${spec.unique ? '!unique' : ''}`;
  if (Buffer.byteLength(full) <= MAX_IDENTIFIER_BYTES) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 12);
  // Names are ASCII (collection names and field paths are), so slicing by characters slices by bytes.
  return `${full.slice(0, MAX_IDENTIFIER_BYTES - 13)}~${hash}`;
}

/** The declaration to store for an index, from which `normalizeIndexes` rebuilds its spec. */
export function storedDefinition(spec: IndexSpec): IndexDefinition {
  if (!spec.compound) return { field: spec.field, type: spec.type, unique: spec.unique } as IndexDefinition;
  const fields = spec.fields.map((field) => ({ field: field.field, type: field.type }));
  const name = spec.key.slice(1, -1);
  return {
    fields,
    unique: spec.unique,
    ...(name === fields.map((field) => field.field).join('+') ? {} : { name }),
  } as IndexDefinition;
}

/**
 * The key columns of an index: the metadata column, or for each field the
 * expressions the query compiler writes (its type rank, then its value as
 * float8 and as text), so the planner matches filters and sorts to them.
 * A declared type changes nothing: it never filters what is indexed.
 */
function keyColumns(spec: IndexSpec): string[] {
  if (isMetadataPath(spec.path)) return [spec.path[0] === '$createdAt' ? 'created_at' : 'updated_at'];
  return spec.fields.flatMap((field) => indexExpressions(field.path));
}

/** Ranks of the values a unique index checks: booleans, numbers, strings and Dates (see core's typeRank). */
const UNIQUE_RANKS = 'BETWEEN 1 AND 4';

/** Each field's rank expression (the first key column of each field). */
function rankColumns(spec: IndexSpec): string[] {
  return spec.fields.map((field) => indexExpressions(field.path)[0] as string);
}

/**
 * The CREATE INDEX statement of a declared index on `table` (schema-qualified
 * and quoted), on the expressions the query compiler writes.
 *
 * A plain index ends with `id`, the tie-break of every sort. A unique
 * index cannot (every tuple would be unique) and is partial: it holds only documents whose indexed fields
 * are all scalars (boolean, number, string, Date), so null, missing, arrays
 * and objects are never checked, as the memory engine does. Its NULLs are
 * not distinct (PostgreSQL 15): of a field's two value columns one is always
 * NULL (a number has no text value), and two equal numbers must collide.
 * The planner uses it for a filter that implies the fields' types (an
 * equality or a range on a value), not for a sort over every type.
 */
export function indexDefinition(table: string, collection: string, spec: IndexSpec): string {
  const name = quoteIdent(indexName(collection, spec));
  const columns = keyColumns(spec).join(', ');
  // Ending with id, a plain index also holds every sort's tie-break: a sorted top-N reads it in order and stops.
  if (!spec.unique) return `CREATE INDEX IF NOT EXISTS ${name} ON ${table} (${columns}, id)`;
  const scalars = rankColumns(spec).map((rank) => `${rank} ${UNIQUE_RANKS}`);
  return `CREATE UNIQUE INDEX IF NOT EXISTS ${name} ON ${table} (${columns}) NULLS NOT DISTINCT WHERE ${scalars.join(' AND ')}`;
}

/**
 * Finds another document holding the unique value (or tuple) that a
 * document holds, compared as the unique index compares them.
 * Parameters: the document's JSON text, then its id. Inside `mine`, `data`
 * is the document's (the nearest scope); outside, the table's.
 */
export function takenQuery(table: string, spec: IndexSpec): string {
  const columns = keyColumns(spec);
  const ranks = rankColumns(spec);
  const mine = [...columns.map((column, n) => `${column} AS k${n}`), ...ranks.map((rank, n) => `${rank} AS r${n}`)];
  const same = columns.map((column, n) => `${column} IS NOT DISTINCT FROM mine.k${n}`);
  const scalars = ranks.map((_, n) => `mine.r${n} ${UNIQUE_RANKS}`);
  return `SELECT 1 FROM ${table}, (SELECT ${mine.join(', ')} FROM (SELECT $1::jsonb AS data) AS document) AS mine
    WHERE ${[...scalars, ...same].join(' AND ')} AND id <> $2 LIMIT 1`;
}
