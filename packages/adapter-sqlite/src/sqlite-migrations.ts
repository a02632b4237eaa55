import type { SqliteConnection } from './sqlite-connection.js';

/** One step of the internal schema. Steps are append-only: never edit a released one. */
export interface SqliteMigration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

/** Berth's own tables. Collection tables are created on first use, not here. */
export const MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'collections registry',
    statements: [
      `CREATE TABLE IF NOT EXISTS _berth_collections (
        name TEXT PRIMARY KEY NOT NULL,
        created_at INTEGER NOT NULL
      )`,
    ],
  },
];

/**
 * Applies the migrations not applied yet, in order, in one IMMEDIATE
 * transaction: idempotent, and safe when two processes start at once (the
 * second waits for the write lock, then finds nothing left to do).
 */
export function runMigrations(
  connection: SqliteConnection,
  migrations: readonly SqliteMigration[] = MIGRATIONS,
): number {
  return connection.immediate(() => {
    connection.run(`CREATE TABLE IF NOT EXISTS _berth_migrations (
      version INTEGER PRIMARY KEY NOT NULL,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const applied = new Set(
      connection.all<{ version: number }>('SELECT version FROM _berth_migrations').map((row) => row.version),
    );
    let count = 0;
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.statements) connection.run(statement);
      connection.run('INSERT INTO _berth_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        migration.version,
        migration.name,
        Date.now(),
      ]);
      count += 1;
    }
    return count;
  });
}
