import { createHash } from 'node:crypto';
import type { IndexDefinition } from '@berth/core';
import { type IndexSpec, isMetadataPath } from '@berth/core/adapter';
import { quoteIdent } from './pg-names.js';
import { indexColumns } from './pg-query-compiler.js';

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

/** The key columns of an index: the metadata column, or the expressions the query compiler writes for each field. */
function keyColumns(spec: IndexSpec): string[] {
  if (isMetadataPath(spec.path)) return [spec.path[0] === '$createdAt' ? 'created_at' : 'updated_at'];
  return spec.fields.flatMap((field) => indexColumns(field.path, field.type));
}

/**
 * The CREATE INDEX statement of a declared index on `table` (schema-qualified
 * and quoted). The key columns are the expressions the query compiler
 * writes, so the planner matches filters and sorts to them. A unique index
 * needs no WHERE: its value columns are NULL for null, missing, arrays and
 * objects, and NULLs are distinct in a unique index, so such documents are
 * never checked, as the memory engine does.
 */
export function indexDefinition(table: string, collection: string, spec: IndexSpec): string {
  const unique = spec.unique ? 'UNIQUE ' : '';
  return `CREATE ${unique}INDEX IF NOT EXISTS ${quoteIdent(indexName(collection, spec))} ON ${table} (${keyColumns(spec).join(', ')})`;
}

/**
 * Finds another document holding the unique value (or tuple) that a
 * document holds, compared as the unique index compares them.
 * Parameters: the document's JSON text, then its id. The inner `data` is
 * the document's (the nearest scope), the outer one the table's.
 */
export function takenQuery(table: string, spec: IndexSpec): string {
  const columns = keyColumns(spec).join(', ');
  return `SELECT 1 FROM ${table} WHERE (${columns}) = (SELECT ${columns} FROM (SELECT $1::jsonb AS data) AS mine) AND id <> $2 LIMIT 1`;
}
