import type { PgMigration } from './pg-migrations.js';

/** The repository side's schema steps (versions 1 to 100; the queue's are 101 and up). */
export const REPOSITORY_MIGRATIONS: readonly PgMigration[] = [];
