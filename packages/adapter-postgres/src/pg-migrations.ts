import { quoteIdent } from './pg-names.js';
import type { PgSession } from './pg-session.js';

/**
 * One step of Berth's schema. Steps are append-only: never edit a released one.
 *
 * ### Examples
 * ```ts
 * import type { PgMigration } from '@berth/adapter-postgres';
 *
 * const addAuditTable: PgMigration = {
 *   version: 1,
 *   name: 'audit table',
 *   statements: (schema) => [`CREATE TABLE IF NOT EXISTS ${schema}.audit (id text PRIMARY KEY, at timestamptz NOT NULL)`],
 * };
 * ```
 */
export interface PgMigration {
  readonly version: number;
  readonly name: string;
  /** The statements, for the schema's quoted name (`"berth"`). */
  readonly statements: (schema: string) => readonly string[];
}

/**
 * Applies the migrations not applied yet, in version order, in one
 * transaction under a transaction-level advisory lock keyed by the schema:
 * two processes starting at once do not both migrate (the second waits, then
 * finds nothing left to do), and a failed step leaves nothing half-applied.
 * Returns the versions it applied.
 *
 * ### Examples
 * ```ts
 * import { type PgMigration, PgSession, runMigrations } from '@berth/adapter-postgres';
 *
 * declare const session: PgSession; // new PgSession(pool, false) on your application's pool
 * declare const migrations: readonly PgMigration[];
 * const applied = await runMigrations(session, 'app_audit', migrations);
 * console.log(applied.length === 0 ? 'schema up to date' : `applied ${applied.join(', ')}`);
 * ```
 */
export async function runMigrations(
  session: PgSession,
  schema: string,
  migrations: readonly PgMigration[],
): Promise<number[]> {
  const quoted = quoteIdent(schema);
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  return session.transaction(async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`berth.migrate.${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${quoted}._berth_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const rows = await client.query<{ version: number }>(`SELECT version FROM ${quoted}._berth_migrations`);
    const applied = new Set(rows.map((row) => row.version));
    const done: number[] = [];
    for (const migration of ordered) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.statements(quoted)) await client.query(statement);
      await client.query(`INSERT INTO ${quoted}._berth_migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
      done.push(migration.version);
    }
    return done;
  });
}
