export { createBackendFromUrl, PostgresBackend, type PostgresBackendConfig } from './pg-backend.js';
export type { PgBackendContext, PgTransactionContext } from './pg-context.js';
export { type PgErrorContext, toBerthError } from './pg-errors.js';
export { type PgMigration, runMigrations } from './pg-migrations.js';
export { checkSchemaName, quoteIdent } from './pg-names.js';
export { type PgIsolation, type PgQueryable, PgSession, type PgTransactionOptions } from './pg-session.js';

/** The URL schemes `createBackendFromUrl` handles, so this module can be passed to `createBackend(url, { adapters })`. */
export const schemes: readonly string[] = ['postgres', 'postgresql'];
