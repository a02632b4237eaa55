export { createBackendFromUrl, SqliteBackend, type SqliteBackendConfig } from './sqlite-backend.js';
export type { SqliteDatabase } from './sqlite-connection.js';
export { SqliteJobQueue } from './sqlite-job-queue.js';
export { MIGRATIONS, runMigrations, type SqliteMigration } from './sqlite-migrations.js';
export { SqliteRepository } from './sqlite-repository.js';

/** The URL schemes `createBackendFromUrl` handles, so this module can be passed to `createBackend(url, { adapters })`. */
export const schemes: readonly string[] = ['sqlite'];
