export { type PgErrorContext, toBerthError } from './pg-errors.js';
export { type PgMigration, runMigrations } from './pg-migrations.js';
export { checkSchemaName, quoteIdent } from './pg-names.js';
export { type PgIsolation, type PgQueryable, PgSession, type PgTransactionOptions } from './pg-session.js';
