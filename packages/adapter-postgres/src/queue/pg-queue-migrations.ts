import type { PgMigration } from '../pg-migrations.js';

/** The job queue's schema steps (versions 101 and up; the repository's are 1 to 100). */
export const QUEUE_MIGRATIONS: readonly PgMigration[] = [];
