import type { PgMigration } from '../pg-migrations.js';

/** Counter shards per queue and state: a connection writes the shard of its backend pid (see `_berth_count_jobs`). */
export const COUNT_SHARDS = 64;

/**
 * The columns both job tables share. Times are epoch milliseconds from the
 * server's clock (bigint); the payload, result and progress are Berth's JSON
 * text, kept as `text` so they come back exactly as written (jsonb would
 * reorder keys and rewrite numbers); errors are jsonb, appended to in SQL.
 */
const JOB_COLUMNS = `
  seq bigint NOT NULL,
  id text COLLATE "C" NOT NULL PRIMARY KEY,
  queue text COLLATE "C" NOT NULL,
  state text COLLATE "C" NOT NULL,
  priority integer NOT NULL,
  run_at bigint NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  lease_ms bigint NOT NULL,
  backoff text,
  dedupe_key text COLLATE "C",
  payload text NOT NULL,
  errors jsonb NOT NULL DEFAULT '[]',
  result text,
  progress text,
  leases bigint NOT NULL DEFAULT 0,
  lease_expires_at bigint,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  finished_at bigint,
  timeout_ms bigint`;

/**
 * Keeps `_berth_job_counts` in step with both job tables, once per statement
 * (transition tables), into the shard of the writing connection: two
 * connections contend on a counter row only when their pids fall in one
 * shard, never all workers on one row.
 */
function countFunction(schema: string): string {
  return `CREATE FUNCTION ${schema}._berth_count_jobs() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO ${schema}._berth_job_counts AS c (queue, state, shard, count)
      SELECT queue, state, pg_backend_pid() % ${COUNT_SHARDS}, count(*) FROM new_rows
      GROUP BY queue, state ORDER BY queue, state
      ON CONFLICT (queue, state, shard) DO UPDATE SET count = c.count + excluded.count;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO ${schema}._berth_job_counts AS c (queue, state, shard, count)
      SELECT queue, state, pg_backend_pid() % ${COUNT_SHARDS}, -count(*) FROM old_rows
      GROUP BY queue, state ORDER BY queue, state
      ON CONFLICT (queue, state, shard) DO UPDATE SET count = c.count + excluded.count;
  ELSE
    INSERT INTO ${schema}._berth_job_counts AS c (queue, state, shard, count)
      SELECT queue, state, pg_backend_pid() % ${COUNT_SHARDS}, sum(delta) FROM (
        SELECT queue, state, 1 AS delta FROM new_rows
        UNION ALL SELECT queue, state, -1 FROM old_rows) AS changes
      GROUP BY queue, state HAVING sum(delta) <> 0 ORDER BY queue, state
      ON CONFLICT (queue, state, shard) DO UPDATE SET count = c.count + excluded.count;
  END IF;
  RETURN NULL;
END
$fn$`;
}

function countTriggers(schema: string, table: string, withUpdate: boolean): string[] {
  const name = (event: string) => `_berth_count_${event}`;
  const run = `FOR EACH STATEMENT EXECUTE FUNCTION ${schema}._berth_count_jobs()`;
  return [
    `CREATE TRIGGER ${name('insert')} AFTER INSERT ON ${schema}.${table} REFERENCING NEW TABLE AS new_rows ${run}`,
    `CREATE TRIGGER ${name('delete')} AFTER DELETE ON ${schema}.${table} REFERENCING OLD TABLE AS old_rows ${run}`,
    ...(withUpdate
      ? [
          `CREATE TRIGGER ${name('update')} AFTER UPDATE ON ${schema}.${table}
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows ${run}`,
        ]
      : []),
  ];
}

/**
 * lz4 compresses large payloads several times faster than the default
 * pglz (a finished job's row is copied once, into `_berth_jobs_done`).
 * Servers built without lz4 (or before PostgreSQL 14) keep the default.
 */
function lz4Columns(schema: string): string {
  const alters = ['_berth_jobs', '_berth_jobs_done'].flatMap((table) =>
    ['payload', 'result', 'progress'].map(
      (column) =>
        `EXECUTE 'ALTER TABLE ${schema.replaceAll("'", "''")}.${table} ALTER COLUMN ${column} SET COMPRESSION lz4';`,
    ),
  );
  return `DO $lz4$ BEGIN ${alters.join(' ')} EXCEPTION WHEN feature_not_supported OR syntax_error THEN NULL; END $lz4$`;
}

/**
 * Keeps the count of the hot table's jobs per queue (state `live`: waiting
 * and active together) in `_berth_job_counts`, on inserts and deletes only.
 * A claim (waiting to active) changes no count, so the hot table has no
 * UPDATE trigger: an update trigger with transition tables copied every
 * claimed row twice and cost a third of a small settle-and-claim statement.
 * Stats count the active jobs through the expiry index (as many as are
 * leased) and take them from `live`.
 */
function liveCountFunction(schema: string): string {
  const upsert = (
    rows: string,
    sign: string,
  ) => `INSERT INTO ${schema}._berth_job_counts AS c (queue, state, shard, count)
      SELECT queue, 'live', pg_backend_pid() % ${COUNT_SHARDS}, ${sign}count(*) FROM ${rows}
      GROUP BY queue ORDER BY queue
      ON CONFLICT (queue, state, shard) DO UPDATE SET count = c.count + excluded.count;`;
  return `CREATE FUNCTION ${schema}._berth_count_live_jobs() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    ${upsert('new_rows', '')}
  ELSE
    ${upsert('old_rows', '-')}
  END IF;
  RETURN NULL;
END
$fn$`;
}

/**
 * Counts the jobs a statement finishes, in one upsert: `_berth_jobs_done`
 * only ever receives rows that the same statement deletes from the hot
 * table (complete, fail for good, cancel, an expired last attempt), so each
 * row inserted here is one more job in its finished state and one fewer
 * `live` job. The hot table then needs no DELETE trigger: a completion
 * fires one trigger instead of two, which measured a fifth of a
 * settle-and-claim statement for 10 jobs.
 */
function finishedCountFunction(schema: string): string {
  return `CREATE FUNCTION ${schema}._berth_count_finished_jobs() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO ${schema}._berth_job_counts AS c (queue, state, shard, count)
    SELECT r.queue, m.state, pg_backend_pid() % ${COUNT_SHARDS}, sum(m.delta) FROM new_rows r
      CROSS JOIN LATERAL (VALUES (r.state, 1::bigint), ('live', -1::bigint)) AS m(state, delta)
    GROUP BY r.queue, m.state ORDER BY r.queue, m.state
    ON CONFLICT (queue, state, shard) DO UPDATE SET count = c.count + excluded.count;
  RETURN NULL;
END
$fn$`;
}

/** The job queue's schema steps (versions 101 and up; the repository's are 1 to 100). */
export const QUEUE_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 101,
    name: 'job queue: hot and finished job tables, counters, schedules',
    statements: (schema) => [
      `CREATE SEQUENCE ${schema}._berth_jobs_seq`,
      // The hot table: waiting and active jobs only. Finished jobs move out.
      `CREATE TABLE ${schema}._berth_jobs (${JOB_COLUMNS},
        CHECK (state IN ('waiting', 'active')))`,
      `ALTER TABLE ${schema}._berth_jobs ALTER COLUMN seq SET DEFAULT nextval('${schema}._berth_jobs_seq')`,
      // Claims: the ready jobs in delivery order.
      `CREATE INDEX _berth_jobs_ready ON ${schema}._berth_jobs (queue, priority DESC, run_at, seq)
        WHERE state = 'waiting'`,
      // Reclaiming expired leases.
      `CREATE INDEX _berth_jobs_expiry ON ${schema}._berth_jobs (queue, lease_expires_at) WHERE state = 'active'`,
      // Race-free dedupe: one live job per key (every row of this table is live).
      `CREATE UNIQUE INDEX _berth_jobs_dedupe ON ${schema}._berth_jobs (queue, dedupe_key)
        WHERE dedupe_key IS NOT NULL`,
      // Listing and bulk steps: one range per state.
      `CREATE INDEX _berth_jobs_listing ON ${schema}._berth_jobs (queue, state, created_at, id)`,
      // Small and rewritten all the time: vacuum it early.
      `ALTER TABLE ${schema}._berth_jobs SET (autovacuum_vacuum_scale_factor = 0.01,
        autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.02, fillfactor = 80)`,
      `CREATE TABLE ${schema}._berth_jobs_done (${JOB_COLUMNS},
        CHECK (state IN ('completed', 'dead', 'cancelled')))`,
      `CREATE INDEX _berth_jobs_done_listing ON ${schema}._berth_jobs_done (queue, state, created_at, id)`,
      `CREATE INDEX _berth_jobs_done_finished ON ${schema}._berth_jobs_done (queue, state, finished_at)`,
      `CREATE TABLE ${schema}._berth_job_counts (
        queue text COLLATE "C" NOT NULL,
        state text COLLATE "C" NOT NULL,
        shard integer NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (queue, state, shard))`,
      `ALTER TABLE ${schema}._berth_job_counts SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0,
        autovacuum_vacuum_threshold = 500)`,
      lz4Columns(schema),
      countFunction(schema),
      ...countTriggers(schema, '_berth_jobs', true),
      ...countTriggers(schema, '_berth_jobs_done', false),
      `CREATE TABLE ${schema}._berth_schedules (
        queue text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        spec text NOT NULL,
        payload text NOT NULL,
        job_options text NOT NULL,
        missed text NOT NULL,
        overlap text NOT NULL,
        paused boolean NOT NULL,
        next_run_at bigint,
        last_run_at bigint,
        last_job_id text,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        version integer NOT NULL,
        PRIMARY KEY (queue, name))`,
    ],
  },
  {
    version: 102,
    name: 'job queue: the hot table counts live jobs (no UPDATE trigger); stats count active jobs by the expiry index',
    statements: (schema) => [
      liveCountFunction(schema),
      `DROP TRIGGER _berth_count_insert ON ${schema}._berth_jobs`,
      `DROP TRIGGER _berth_count_update ON ${schema}._berth_jobs`,
      `DROP TRIGGER _berth_count_delete ON ${schema}._berth_jobs`,
      `CREATE TRIGGER _berth_count_insert AFTER INSERT ON ${schema}._berth_jobs REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION ${schema}._berth_count_live_jobs()`,
      `CREATE TRIGGER _berth_count_delete AFTER DELETE ON ${schema}._berth_jobs REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION ${schema}._berth_count_live_jobs()`,
      // The counts kept so far: waiting and active become live (the hot
      // table is locked by the trigger changes until this commits).
      `INSERT INTO ${schema}._berth_job_counts AS c (queue, state, shard, count)
        SELECT queue, 'live', shard, sum(count) FROM ${schema}._berth_job_counts
        WHERE state IN ('waiting', 'active') GROUP BY queue, shard
        ON CONFLICT (queue, state, shard) DO UPDATE SET count = c.count + excluded.count`,
      `DELETE FROM ${schema}._berth_job_counts WHERE state IN ('waiting', 'active')`,
    ],
  },
  {
    version: 103,
    name: 'job queue: finishing a job fires one count trigger (the insert into _berth_jobs_done), not two',
    statements: (schema) => [
      finishedCountFunction(schema),
      `DROP TRIGGER _berth_count_delete ON ${schema}._berth_jobs`,
      `DROP TRIGGER _berth_count_insert ON ${schema}._berth_jobs_done`,
      `CREATE TRIGGER _berth_count_insert AFTER INSERT ON ${schema}._berth_jobs_done REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION ${schema}._berth_count_finished_jobs()`,
    ],
  },
];
