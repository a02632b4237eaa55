import type { SchemaError } from '@berth/core';
import { newerSchemaError, pendingMigrationsError } from '@berth/core/adapter';
import type { SqliteConnection } from './sqlite-connection.js';

/**
 * One step of the internal schema. Steps are append-only: never edit a released one.
 *
 * ### Examples
 * ```ts
 * import { MIGRATIONS, type SqliteMigration } from '@berth/adapter-sqlite';
 *
 * const latest: SqliteMigration | undefined = MIGRATIONS.at(-1);
 * console.log(`schema version ${latest?.version}: ${latest?.name}`);
 * ```
 */
export interface SqliteMigration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

/**
 * Berth's own tables. Collection tables are created on first use, not here.
 *
 * ### Examples
 * ```ts
 * import { MIGRATIONS } from '@berth/adapter-sqlite';
 *
 * // The versions a database at this release's schema lists in `_berth_migrations`.
 * const versions = MIGRATIONS.map((migration) => migration.version);
 * ```
 */
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
  {
    version: 2,
    name: 'job queues',
    statements: [
      // seq is the rowid: enqueue order, and the last key of every index, so
      // the claim index also breaks ties first in, first out. Times are epoch
      // milliseconds; payload, result, backoff (NULL: the default policy) and
      // errors are JSON text. \`leases\` counts the job's leases: with seq it
      // makes the fencing token, so a claim grows the row by a few bytes only.
      `CREATE TABLE IF NOT EXISTS _berth_jobs (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        queue TEXT NOT NULL,
        state TEXT NOT NULL,
        priority INTEGER NOT NULL,
        run_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        lease_ms INTEGER NOT NULL,
        backoff TEXT,
        dedupe_key TEXT,
        payload TEXT NOT NULL,
        errors TEXT NOT NULL,
        result TEXT,
        leases INTEGER NOT NULL DEFAULT 0,
        lease_expires_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        finished_at INTEGER
      )`,
      // Claims walk this index in delivery order (priority, due time, seq).
      // Partial indexes keep each small: a job is in the one of its state.
      `CREATE INDEX IF NOT EXISTS _berth_jobs_claim ON _berth_jobs (queue, priority DESC, run_at) WHERE state = 'waiting'`,
      // Expired leases are found without a scan.
      `CREATE INDEX IF NOT EXISTS _berth_jobs_lease ON _berth_jobs (queue, lease_expires_at) WHERE state = 'active'`,
      // Purge finds finished jobs by state and finish time.
      `CREATE INDEX IF NOT EXISTS _berth_jobs_finished ON _berth_jobs (queue, state, finished_at)
        WHERE finished_at IS NOT NULL`,
      // At most one live job per dedupe key, whatever the number of processes.
      `CREATE UNIQUE INDEX IF NOT EXISTS _berth_jobs_dedupe ON _berth_jobs (queue, dedupe_key)
        WHERE dedupe_key IS NOT NULL AND state IN ('waiting', 'active')`,
      // Jobs per queue and state, kept by triggers, so stats never scan.
      `CREATE TABLE IF NOT EXISTS _berth_job_counts (
        queue TEXT NOT NULL,
        state TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (queue, state)
      ) WITHOUT ROWID`,
      `CREATE TRIGGER IF NOT EXISTS _berth_jobs_counted_insert AFTER INSERT ON _berth_jobs BEGIN
        INSERT INTO _berth_job_counts (queue, state, count) VALUES (new.queue, new.state, 1)
          ON CONFLICT (queue, state) DO UPDATE SET count = count + 1;
      END`,
      `CREATE TRIGGER IF NOT EXISTS _berth_jobs_counted_delete AFTER DELETE ON _berth_jobs BEGIN
        UPDATE _berth_job_counts SET count = count - 1 WHERE queue = old.queue AND state = old.state;
      END`,
      `CREATE TRIGGER IF NOT EXISTS _berth_jobs_counted_update AFTER UPDATE OF state ON _berth_jobs
        WHEN old.state <> new.state BEGIN
        UPDATE _berth_job_counts SET count = count - 1 WHERE queue = old.queue AND state = old.state;
        INSERT INTO _berth_job_counts (queue, state, count) VALUES (new.queue, new.state, 1)
          ON CONFLICT (queue, state) DO UPDATE SET count = count + 1;
      END`,
    ],
  },
  {
    version: 3,
    name: 'health probe',
    statements: [
      // health() writes its one row, so a full disk or a read-only file shows.
      `CREATE TABLE IF NOT EXISTS _berth_health (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        checked_at INTEGER NOT NULL
      )`,
    ],
  },
  {
    version: 4,
    name: 'job queue admin and schedules',
    statements: [
      // Progress (JSON, NULL when none) and the job's own timeout (NULL: the worker's).
      'ALTER TABLE _berth_jobs ADD COLUMN progress TEXT',
      'ALTER TABLE _berth_jobs ADD COLUMN timeout_ms INTEGER',
      // Listing and bulk steps walk one state of a queue in enqueue order
      // (created_at, id), both ways, from a cursor; active jobs are also
      // found here for lease expiry (there are few: the ones being worked on).
      'CREATE INDEX IF NOT EXISTS _berth_jobs_state ON _berth_jobs (queue, state, created_at, id)',
      // Replaced by _berth_jobs_state: one index less to write on every claim and settlement.
      'DROP INDEX IF EXISTS _berth_jobs_lease',
      // Recurring schedules, per queue. spec, payload and job_options are JSON text.
      `CREATE TABLE IF NOT EXISTS _berth_schedules (
        queue TEXT NOT NULL,
        name TEXT NOT NULL,
        spec TEXT NOT NULL,
        payload TEXT NOT NULL,
        job_options TEXT NOT NULL,
        missed TEXT NOT NULL,
        overlap TEXT NOT NULL,
        paused INTEGER NOT NULL,
        next_run_at INTEGER,
        last_run_at INTEGER,
        last_job_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (queue, name)
      ) WITHOUT ROWID`,
    ],
  },
  {
    version: 5,
    name: 'job counts kept by the adapter',
    statements: [
      // The queue adds what each transaction moved to _berth_job_counts, in
      // that transaction, one statement per queue and state: a trigger ran
      // two statements per job and state change.
      'DROP TRIGGER IF EXISTS _berth_jobs_counted_insert',
      'DROP TRIGGER IF EXISTS _berth_jobs_counted_delete',
      'DROP TRIGGER IF EXISTS _berth_jobs_counted_update',
    ],
  },
  {
    version: 6,
    name: 'index declarations',
    statements: [
      // The indexes as repositories declared them (JSON of the IndexDefinition),
      // for backend.collections(): the SQL of an index does not tell its
      // declared types back. One row per SQLite index (\`name\`, as
      // sqlite-indexes.ts names it); rowid order is declaration order.
      `CREATE TABLE IF NOT EXISTS _berth_indexes (
        name TEXT NOT NULL UNIQUE,
        collection TEXT NOT NULL,
        declaration TEXT NOT NULL
      )`,
    ],
  },
  {
    version: 7,
    name: 'job event log',
    statements: [
      // The job events of each write transaction, one row per queue (a JSON
      // array), tagged with the backend that wrote them: backends of other
      // processes read them after the commit, in seq order (commit order: one
      // writer at a time). seq is the rowid; the log keeps its last rows only
      // (sqlite-queue-event-log.ts), deleted from the oldest.
      `CREATE TABLE IF NOT EXISTS _berth_job_events (
        seq INTEGER PRIMARY KEY,
        queue TEXT NOT NULL,
        origin TEXT NOT NULL,
        events TEXT NOT NULL
      )`,
      // The backends listening to the log (one row each, its heartbeat in
      // seen_at): writers add events only while a live one other than
      // themselves is listed, so a file nobody watches pays nothing.
      `CREATE TABLE IF NOT EXISTS _berth_event_listeners (
        origin TEXT PRIMARY KEY,
        seen_at INTEGER NOT NULL
      ) WITHOUT ROWID`,
    ],
  },
];

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS _berth_migrations (
  version INTEGER PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  applied_at INTEGER NOT NULL
)`;

/** How a migration is listed by `backend.migrate()` and in SCHEMA errors: `"3 health probe"`. */
function label(migration: Pick<SqliteMigration, 'version' | 'name'>): string {
  return `${migration.version} ${migration.name}`;
}

/** The versions recorded in `_berth_migrations` (none when the table is missing: a new file). */
function appliedVersions(connection: SqliteConnection): number[] {
  const table = connection.get("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_berth_migrations'");
  if (table === undefined) return [];
  return connection.all<{ version: number }>('SELECT version FROM _berth_migrations').map((row) => row.version);
}

/**
 * What the database's schema lacks, and what it has that this release does
 * not know (versions applied by a newer Berth).
 */
function schemaState(
  connection: SqliteConnection,
  migrations: readonly SqliteMigration[],
): { readonly pending: SqliteMigration[]; readonly unknown: number[] } {
  const applied = new Set(appliedVersions(connection));
  const known = new Set(migrations.map((migration) => migration.version));
  return {
    pending: [...migrations].sort((a, b) => a.version - b.version).filter((m) => !applied.has(m.version)),
    unknown: [...applied].filter((version) => !known.has(version)).sort((a, b) => a - b),
  };
}

function newerSchema(
  location: string,
  unknown: readonly number[],
  migrations: readonly SqliteMigration[],
): SchemaError {
  const known = Math.max(0, ...migrations.map((migration) => migration.version));
  return newerSchemaError(location, Math.max(...unknown), known);
}

/**
 * Throws `SCHEMA` unless the database's schema is exactly this release's:
 * what a backend configured with `migrate: false` checks on connect instead of
 * migrating. Reads only. `location` names the database in the message.
 */
export function checkSchema(
  connection: SqliteConnection,
  location: string,
  migrations: readonly SqliteMigration[] = MIGRATIONS,
): void {
  const { pending, unknown } = schemaState(connection, migrations);
  if (unknown.length > 0) throw newerSchema(location, unknown, migrations);
  if (pending.length > 0) {
    throw pendingMigrationsError(location, pending.map(label), { noneApplied: pending.length === migrations.length });
  }
}

/**
 * Applies the migrations not applied yet, in order, in one IMMEDIATE
 * transaction (the migration lock: a second process waits for it, then finds
 * nothing left to do), and lists them as `"<version> <name>"`. With
 * `refuseNewer` (naming the database), a database migrated by a newer release is refused with
 * `SCHEMA` (what `backend.migrate()` does); `connect()` goes on with it, as
 * releases before `migrate()` did.
 */
export function applyMigrations(
  connection: SqliteConnection,
  migrations: readonly SqliteMigration[] = MIGRATIONS,
  refuseNewer?: { readonly location: string },
): string[] {
  return connection.immediate(() => {
    connection.run(CREATE_MIGRATIONS_TABLE);
    const { pending, unknown } = schemaState(connection, migrations);
    if (refuseNewer !== undefined && unknown.length > 0) throw newerSchema(refuseNewer.location, unknown, migrations);
    for (const migration of pending) {
      for (const statement of migration.statements) connection.run(statement);
      connection.run('INSERT INTO _berth_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        migration.version,
        migration.name,
        Date.now(),
      ]);
    }
    return pending.map(label);
  });
}

/**
 * Applies the migrations not applied yet, in order, in one IMMEDIATE
 * transaction: idempotent, and safe when two processes start at once (the
 * second waits for the write lock, then finds nothing left to do). Returns
 * how many it applied (`backend.migrate()` names them).
 *
 * ### Examples
 * ```ts
 * import { MIGRATIONS, runMigrations } from '@berth/adapter-sqlite';
 *
 * // `connect()` runs every migration; a test of an upgrade starts from the first ones only.
 * declare const connection: Parameters<typeof runMigrations>[0];
 * const applied = runMigrations(connection, MIGRATIONS.slice(0, 1));
 * ```
 */
export function runMigrations(
  connection: SqliteConnection,
  migrations: readonly SqliteMigration[] = MIGRATIONS,
): number {
  return applyMigrations(connection, migrations).length;
}
