import { ValidationError } from '@berth/core';

/** Schema names Berth accepts: lower-case letters, digits and `_`, starting with a letter or `_`; at most 63 bytes. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks a schema name before it is ever written into SQL text.
 *
 * ### Examples
 * ```ts
 * import { checkSchemaName, quoteIdent } from '@berth/adapter-postgres';
 *
 * const schema = checkSchemaName(process.env.BERTH_SCHEMA ?? 'berth'); // VALIDATION for anything else
 * const table = `${quoteIdent(schema)}._berth_jobs`;
 * ```
 */
export function checkSchemaName(schema: unknown): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema) || schema.startsWith('pg_')) {
    throw new ValidationError(
      `schema must be 1 to 63 lower-case letters, digits or _, not starting with a digit or pg_, got ${JSON.stringify(schema)}`,
      'schema',
    );
  }
  return schema;
}

/**
 * A double-quoted SQL identifier. Only for names already checked (schema,
 * collection and queue names, index names Berth derives): the quoting is
 * the second wall, not the first.
 *
 * ### Examples
 * ```ts
 * import { checkSchemaName, quoteIdent } from '@berth/adapter-postgres';
 *
 * const sql = `SELECT count(*) FROM ${quoteIdent(checkSchemaName('app'))}._berth_jobs`; // "app"._berth_jobs
 * ```
 */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new ValidationError('an SQL identifier cannot contain NUL', 'name');
  return `"${name.replaceAll('"', '""')}"`;
}
