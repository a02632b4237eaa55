import { SchemaError } from '@berth/core';
import { pendingMigrationsError } from '@berth/core/adapter';
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
  const applied = await applyMigrations(session, schema, migrations, false);
  return applied.map((migration) => migration.version);
}

/**
 * {@link runMigrations} for a backend's own schema, which only this
 * release's migrations write: a version it does not know means a newer
 * release migrated the schema, and it refuses (SCHEMA) before applying
 * anything. Returns the migrations applied, oldest first.
 */
export async function applyMigrations(
  session: PgSession,
  schema: string,
  migrations: readonly PgMigration[],
  refuseUnknown = true,
): Promise<PgMigration[]> {
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
    const rows = await client.query<{ version: number; name: string }>(
      `SELECT version, name FROM ${quoted}._berth_migrations ORDER BY version`,
    );
    if (refuseUnknown) refuseNewerRelease(schema, rows, migrations);
    const applied = new Set(rows.map((row) => row.version));
    const done: PgMigration[] = [];
    for (const migration of ordered) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.statements(quoted)) await client.query(statement);
      await client.query(`INSERT INTO ${quoted}._berth_migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
      done.push(migration);
    }
    return done;
  });
}

/** SCHEMA when the schema holds a migration this release does not know: a newer release migrated it. */
function refuseNewerRelease(
  schema: string,
  rows: readonly { readonly version: number; readonly name: string }[],
  migrations: readonly PgMigration[],
): void {
  const known = new Set(migrations.map((migration) => migration.version));
  const unknown = rows.filter((row) => !known.has(row.version));
  const newest = unknown[unknown.length - 1];
  if (newest === undefined) return;
  throw new SchemaError(
    `the PostgreSQL schema ${JSON.stringify(schema)} was migrated by a newer release of Berth (migration ${newest.version} ${JSON.stringify(newest.name)} is unknown to this one): upgrade Berth`,
  );
}

/** How a migration is named in reports: `"<version> <name>"` (`"3 health probe"`). */
export function migrationLabel(migration: PgMigration): string {
  return `${migration.version} ${migration.name}`;
}

/**
 * Checks, without changing anything, that the schema has every migration
 * applied and none this release does not know: a `SchemaError` (code
 * `SCHEMA`) otherwise, saying how many are pending and to run
 * `berth migrate <url>`, or that a newer release migrated the schema.
 * What a backend configured with `migrate: false` runs instead of
 * {@link runMigrations}.
 */
export async function checkMigrations(
  session: PgSession,
  schema: string,
  migrations: readonly PgMigration[],
): Promise<void> {
  const quoted = quoteIdent(schema);
  const [table] = await session.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
    `${quoted}._berth_migrations`,
  ]);
  const rows =
    table?.present === true
      ? await session.query<{ version: number; name: string }>(
          `SELECT version, name FROM ${quoted}._berth_migrations ORDER BY version`,
        )
      : [];
  refuseNewerRelease(schema, rows, migrations);
  const applied = new Set(rows.map((row) => row.version));
  const pending = migrations.filter((migration) => !applied.has(migration.version));
  if (pending.length > 0) {
    throw pendingMigrationsError(`PostgreSQL schema ${JSON.stringify(schema)}`, pending.map(migrationLabel), {
      noneApplied: rows.length === 0,
    });
  }
}
