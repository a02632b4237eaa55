import { type IndexSpec, isMetadataPath } from '@berth/core/adapter';
import { queryBuilder, type SqliteConnection } from './sqlite-connection.js';
import { jsonPath, jsonTextOf, jsonValueOf, typeOf } from './sqlite-query-compiler.js';

/** The name of a declared index: readable, and unique per collection and field. */
export function indexName(collection: string, spec: IndexSpec): string {
  return `${collection}.${spec.field}${spec.unique ? ' unique' : ''}`;
}

/**
 * The fields of the unique indexes stored for a table, oldest first: those
 * declared by earlier backends hold too, whether or not a repository
 * declares them again.
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

/** The field's JSON type and value, written as the query compiler writes them so queries can use the index. */
function keyParts(spec: IndexSpec): { readonly type: string; readonly value: string; readonly text: string } {
  return {
    type: typeOf(spec.path).compile(queryBuilder).sql,
    value: jsonValueOf(spec.path).compile(queryBuilder).sql,
    // SQLite's reading of a number is not exact (it merges neighbours one ulp
    // apart near 1e-300), so uniqueness also compares the JSON text.
    text: jsonTextOf(spec.path).compile(queryBuilder).sql,
  };
}

/**
 * NULL for an array or an object other than an encoded Date, 0 otherwise.
 * As the last column of a unique index it keeps such values from colliding
 * (NULLs are distinct), since unique indexes ignore them like `countBy` does,
 * while lookups by type and value still use the index's first two columns.
 */
function comparable(spec: IndexSpec): string {
  const { type } = keyParts(spec);
  const date = `json_type(doc, '${jsonPath(spec.path)}."$date"')`;
  return `CASE WHEN ${type} = 'array' OR (${type} = 'object' AND ${date} IS NOT 'text') THEN NULL ELSE 0 END`;
}

/**
 * The CREATE INDEX statement of a declared index, exactly as SQLite keeps it
 * in `sqlite_schema`, so a stored index of another definition is recognized.
 * (type, value) keeps unique indexes type-strict: true and 1 differ. A
 * unique index leaves out null and missing values (its WHERE is the one the
 * query compiler repeats, so queries can use it) and arrays and objects.
 */
export function indexDefinition(table: string, spec: IndexSpec): string {
  const name = `"${indexName(table, spec)}"`;
  // Metadata lives in INTEGER columns (epoch milliseconds), which the query compiler compares directly.
  if (isMetadataPath(spec.path)) {
    return `CREATE INDEX ${name} ON "${table}" (${spec.path[0] === '$createdAt' ? 'created_at' : 'updated_at'})`;
  }
  const { type, value, text } = keyParts(spec);
  if (!spec.unique) return `CREATE INDEX ${name} ON "${table}" (${type}, ${value})`;
  return `CREATE UNIQUE INDEX ${name} ON "${table}" (${type}, ${value}, ${text}, ${comparable(spec)}) WHERE ${type} IS NOT NULL AND ${type} != 'null'`;
}

/**
 * Finds another document holding the unique value that a document holds,
 * compared as the unique index compares them. Parameters: the document's
 * JSON text, then its id. Written so the unique index serves it.
 */
export function takenQuery(table: string, spec: IndexSpec): string {
  const { type, value, text } = keyParts(spec);
  const present = `${type} IS NOT NULL AND ${type} != 'null'`;
  const mine = (expression: string) => `(SELECT ${expression} FROM mine)`;
  return `WITH mine(doc) AS (SELECT ?) SELECT 1 FROM "${table}" WHERE ${type} = ${mine(type)} AND ${value} = ${mine(value)} AND ${text} = ${mine(text)} AND ${present} AND ${comparable(spec)} IS NOT NULL AND ${mine(comparable(spec))} IS NOT NULL AND id != ? LIMIT 1`;
}
