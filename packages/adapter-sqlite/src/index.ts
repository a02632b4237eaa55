export { createBackendFromUrl, SqliteBackend, type SqliteBackendConfig } from './sqlite-backend.js';
export type { SqliteDatabase } from './sqlite-connection.js';
export { SqliteJobQueue } from './sqlite-job-queue.js';
export { MIGRATIONS, runMigrations, type SqliteMigration } from './sqlite-migrations.js';
export { SqliteRepository } from './sqlite-repository.js';

/**
 * The URL schemes `createBackendFromUrl` handles, so this module can be passed to `createBackend(url, { adapters
 * })`.
 *
 * ### Examples
 * ```ts
 * import * as sqlite from '@berth/adapter-sqlite';
 * import { createBackend } from '@berth/core';
 *
 * // Passing the module keeps the adapter in a bundle that would drop a package only named at run time.
 * const backend = await createBackend('sqlite:./data/app.db', { adapters: [sqlite] });
 * ```
 */
export const schemes: readonly string[] = ['sqlite'];
