import { type CleanupInfo, queueConformance } from '@berth/conformance-tests';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from '../fixtures/pg-test-database.js';
import { PostgresBackend } from '../pg-backend.js';

// Every backend gets a schema of its own (migrated on first use); all are dropped at the end.
const schemas: string[] = [];
const schemaOf = new WeakMap<object, string>();
const open = (schema: string): PostgresBackend => {
  const backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema, maxConnections: 5 });
  schemaOf.set(backend, schema);
  return backend;
};
const createBackend = (): PostgresBackend => {
  const schema = uniqueSchema('queue');
  schemas.push(schema);
  return open(schema);
};
const { capabilities } = createBackend();

beforeAll(requirePostgres);
// One schema per test: dropping a few hundred takes a while on a loaded machine.
afterAll(() => dropSchemas(schemas), 180_000);

/** A second backend on the test's schema: its own pool and listening connection, as another process would have. */
const openSameStorage = (first: object): PostgresBackend => open(schemaOf.get(first) as string);

/**
 * Deletes the test's queues through a connection of its own (the test may
 * have closed its backend), then checks that nothing else is left in the
 * schema: the suite must name every queue it used.
 */
async function cleanup({ backend, queues }: CleanupInfo<object>): Promise<void> {
  const schema = `"${schemaOf.get(backend) as string}"`;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schemaOf.get(backend)]);
    const migrated = await client.query('SELECT to_regclass($1) AS t', [`${schema}._berth_jobs`]);
    if (exists.rows.length === 0 || migrated.rows[0]?.t === null) return;
    for (const table of ['_berth_jobs', '_berth_jobs_done', '_berth_schedules', '_berth_job_counts']) {
      await client.query(`DELETE FROM ${schema}.${table} WHERE queue = ANY($1::text[])`, [queues]);
    }
    const left = await client.query(
      `SELECT 'job of ' || queue AS what FROM ${schema}._berth_jobs
       UNION ALL SELECT 'finished job of ' || queue FROM ${schema}._berth_jobs_done
       UNION ALL SELECT 'schedule ' || name || ' of ' || queue FROM ${schema}._berth_schedules`,
    );
    if (left.rows.length > 0) throw new Error(`the test left behind: ${left.rows.map((row) => row.what).join(', ')}`);
  } finally {
    await client.end();
  }
}

queueConformance({ name: 'postgres', createBackend, capabilities, cleanup, openSameStorage });
