import { type IndexSpec, isMetadataPath } from '@berth/core/adapter';
import { queryBuilder, type SqliteConnection } from './sqlite-connection.js';
import { rankOf, sortValueOf } from './sqlite-query-compiler.js';

/**
 * The name of a declared index: readable, and unique per collection and
 * field (`heroes.level`), or per compound index (`revisions(sessionId+at)`,
 * `revisions(byTime)` when named).
 */
export function indexName(collection: string, spec: IndexSpec): string {
  return `${collection}${spec.compound ? spec.key : `.${spec.field}`}${spec.unique ? ' unique' : ''}`;
}

/**
 * The fields of the single-field unique indexes stored for a table, oldest
 * first: those declared by earlier backends hold too, whether or not a
 * repository declares them again.
 */
export function storedUniqueFields(connection: SqliteConnection, table: string): string[] {
  const prefix = `${table}.`;
  const suffix = ' unique';
  return connection
    .all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? ORDER BY rowid", [
      table,
    ])
    .map((row) => row.name)
    .filter((name) => name.startsWith(prefix) && name.endsWith(suffix))
    .map((name) => name.slice(prefix.length, -suffix.length));
}

/**
 * Each field's sort rank and sort value, written as the query compiler
 * writes them (ORDER BY, equality, ranges, `$in`), so SQLite matches the
 * queries to the index: it serves the cross-type order itself, numbers
 * past 2^53 and Dates included.
 */
function keyColumns(spec: IndexSpec): string[] {
  return spec.fields.flatMap((field) => [
    rankOf(field.path).compile(queryBuilder).sql,
    sortValueOf(field.path).compile(queryBuilder).sql,
  ]);
}

/**
 * The CREATE INDEX statement of a declared index, exactly as SQLite keeps it
 * in `sqlite_schema`, so a stored index of another definition (an older
 * Berth's) is recognized and rebuilt. A unique index needs no WHERE: the
 * sort value is NULL for null, missing, arrays and objects, and NULLs are
 * distinct in a unique index, so such documents are never checked, as
 * the memory engine does.
 */
export function indexDefinition(table: string, spec: IndexSpec): string {
  const name = `"${indexName(table, spec)}"`;
  // Metadata lives in INTEGER columns (epoch milliseconds), which the query compiler compares directly.
  if (isMetadataPath(spec.path)) {
    return `CREATE INDEX ${name} ON "${table}" (${spec.path[0] === '$createdAt' ? 'created_at' : 'updated_at'})`;
  }
  return `CREATE ${spec.unique ? 'UNIQUE ' : ''}INDEX ${name} ON "${table}" (${keyColumns(spec).join(', ')})`;
}

/**
 * Finds another document holding the unique value (or tuple) that a
 * document holds, compared as the unique index compares them. Parameters:
 * the document's JSON text, then its id. Written so the unique index serves it.
 */
export function takenQuery(table: string, spec: IndexSpec): string {
  const mine = (expression: string) => `(SELECT ${expression} FROM mine)`;
  const equal = keyColumns(spec).map((column) => `${column} = ${mine(column)}`);
  return `WITH mine(doc) AS (SELECT ?) SELECT 1 FROM "${table}" WHERE ${equal.join(' AND ')} AND id != ? LIMIT 1`;
}
