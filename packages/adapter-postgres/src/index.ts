export { createBackendFromUrl, PostgresBackend, type PostgresBackendConfig } from './pg-backend.js';
export type { PgBackendContext, PgTransactionContext } from './pg-context.js';
export { type PgErrorContext, toBerthError } from './pg-errors.js';
export { type PgMigration, runMigrations } from './pg-migrations.js';
export { checkSchemaName, quoteIdent } from './pg-names.js';
export { type PgIsolation, type PgQueryable, PgSession, type PgTransactionOptions } from './pg-session.js';

/**
 * The URL schemes `createBackendFromUrl` handles, so this module can be passed to `createBackend(url, { adapters
 * })`.
 *
 * ### Examples
 * ```ts
 * import * as postgres from '@berth/adapter-postgres';
 * import { createBackend } from '@berth/core';
 *
 * // Passing the module keeps the adapter in a bundle that would drop a package only named at run time.
 * const backend = await createBackend('postgres://postgres@127.0.0.1:5432/test', { adapters: [postgres] });
 * ```
 */
export const schemes: readonly string[] = ['postgres', 'postgresql'];
