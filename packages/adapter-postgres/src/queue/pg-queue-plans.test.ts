import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from '../fixtures/pg-test-database.js';
import { PostgresBackend } from '../pg-backend.js';
import { runMigrations } from '../pg-migrations.js';
import { REPOSITORY_MIGRATIONS } from '../pg-repository-migrations.js';
import { PgSession } from '../pg-session.js';
import { QUEUE_MIGRATIONS } from './pg-queue-migrations.js';
import { PgQueueSql, type SettleStatementInput } from './pg-queue-sql.js';

const schemas: string[] = [];
const opened: PostgresBackend[] = [];
const clients: pg.Client[] = [];

beforeAll(requirePostgres);
afterAll(async () => {
  await Promise.all(clients.map((client) => client.end()));
  await Promise.all(opened.map((backend) => backend.close()));
  await dropSchemas(schemas);
});

interface PlanNode {
  readonly 'Node Type'?: string;
  readonly 'Relation Name'?: string;
  readonly 'Index Name'?: string;
  readonly Plans?: readonly PlanNode[];
}

/** Every node of a plan, depth first. */
function nodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodes)];
}

/** A bound value as an SQL literal, for EXECUTE (PREPARE types it from the statement's casts). */
function literal(client: pg.Client, value: unknown): string {
  if (value === null) return 'NULL';
  if (!Array.isArray(value)) return client.escapeLiteral(String(value));
  const items = value.map((item) => (item === null ? 'NULL' : `"${String(item).replace(/["\\]/g, '\\$&')}"`));
  return client.escapeLiteral(`{${items.join(',')}}`);
}

const NONE = { ids: [], tokens: [], errors: [], results: [], runAts: [] };

describe('PostgreSQL job queue plans', () => {
  // The pool prepares the settle statement by name; after five runs
  // PostgreSQL keeps a generic plan (parameters unknown) unless custom plans
  // look cheaper, and then it plans every call again. The generic plan must
  // reach rows through indexes whatever the depth of the queue: a claim or
  // a settlement that scans the hot table costs in proportion to the backlog.
  it('settle-and-claim reaches jobs through indexes in its generic plan, never a scan of the hot table', async () => {
    const schema = uniqueSchema('plans');
    schemas.push(schema);
    const backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
    opened.push(backend);
    const queue = backend.queue<number>('plans');
    for (let start = 0; start < 3_000; start += 500) {
      await queue.enqueueMany(Array.from({ length: 500 }, (_, index) => ({ payload: start + index })));
    }
    const completing = await queue.dequeueMany(10);
    const failing = await queue.dequeueMany(4);
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    clients.push(client);
    await client.connect();
    await client.query(`ANALYZE "${schema}"._berth_jobs`);
    await client.query('SET plan_cache_mode = force_generic_plan');
    const sql = new PgQueueSql(`"${schema}"`);
    const steady: SettleStatementInput = {
      queue: 'plans',
      reclaim: true,
      settling: completing.map((lease) => lease.job.id),
      completions: {
        ids: completing.map((lease) => lease.job.id),
        tokens: completing.map((lease) => lease.token),
        results: completing.map(() => null),
      },
      retries: NONE,
      burials: NONE,
      count: 10,
      leaseMs: null,
      eventChannel: 'berth_events_plans',
      origin: 'plans',
    };
    const [retry, bury] = [failing.slice(0, 2), failing.slice(2)];
    const failures: SettleStatementInput = {
      ...steady,
      completions: NONE,
      settling: failing.map((lease) => lease.job.id),
      retries: {
        ids: retry.map((lease) => lease.job.id),
        tokens: retry.map((lease) => lease.token),
        errors: retry.map(() => '{"message":"x"}'),
        runAts: retry.map(() => 0),
      },
      burials: {
        ids: bury.map((lease) => lease.job.id),
        tokens: bury.map((lease) => lease.token),
        errors: bury.map(() => '{"message":"x"}'),
      },
      count: 0,
    };
    const claimOnly: SettleStatementInput = { ...steady, reclaim: false, settling: [], completions: NONE };
    for (const [index, input] of [steady, failures, claimOnly].entries()) {
      const { text, values } = sql.settle(input);
      await client.query(`PREPARE settle_${index} AS ${text}`);
      const execute = `EXECUTE settle_${index}(${values.map((value) => literal(client, value)).join(', ')})`;
      const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (FORMAT JSON) ${execute}`);
      const plan = nodes((rows[0] as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]?.Plan ?? {});
      const scans = plan.filter((node) => node['Node Type'] === 'Seq Scan' && node['Relation Name'] === '_berth_jobs');
      expect(scans, `statement ${index}`).toStrictEqual([]);
      expect(
        plan.some((node) => node['Index Name'] === '_berth_jobs_pkey' || node['Index Name'] === '_berth_jobs_ready'),
      ).toBe(true);
      // The statement still does its work under the generic plan.
      await client.query(execute);
    }
    const stats = await queue.stats();
    expect(stats).toStrictEqual({ waiting: 3_000 - 10 - 2 - 20, active: 20, completed: 10, dead: 2, cancelled: 0 });
  });

  // The summary lists every settled job: repeated on each claimed job's row,
  // a worker settling and claiming 500 jobs a call would read 500 copies of
  // a 500-entry list.
  it('settle-and-claim answers its summary on one row, not on every claimed job', async () => {
    const schema = uniqueSchema('summary');
    schemas.push(schema);
    const backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
    opened.push(backend);
    const queue = backend.queue<number>('summary');
    await queue.enqueueMany(Array.from({ length: 60 }, (_, payload) => ({ payload })));
    const leases = await queue.dequeueMany(20);
    const sql = new PgQueueSql(`"${schema}"`);
    const { text, values } = sql.settle({
      queue: 'summary',
      reclaim: true,
      settling: leases.map((lease) => lease.job.id),
      completions: {
        ids: leases.map((lease) => lease.job.id),
        tokens: leases.map((lease) => lease.token),
        results: leases.map(() => null),
      },
      retries: NONE,
      burials: NONE,
      count: 30,
      leaseMs: null,
      eventChannel: 'berth_events_plans',
      origin: 'plans',
    });
    const { rows } = await backend
      .native()
      .query<{ id: string | null; summary_completed: unknown[] | null }>(text, values);
    expect(rows.filter((row) => row.id !== null)).toHaveLength(30);
    const summaries = rows.filter((row) => row.summary_completed !== null);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]?.summary_completed).toHaveLength(20);
    // With nothing to claim, the summary still comes back (one row, no job).
    await queue.enqueue(0, { runAt: new Date(Date.now() + 3_600_000) });
    const none = sql.settle({
      queue: 'summary',
      reclaim: false,
      settling: [],
      completions: NONE,
      retries: NONE,
      burials: NONE,
      count: 5,
      leaseMs: null,
      eventChannel: 'berth_events_plans',
      origin: 'plans',
    });
    // (the 10 waiting jobs first: claim them so the queue has none due)
    await queue.dequeueMany(10);
    const empty = await backend
      .native()
      .query<{ id: string | null; summary_now: string | null }>(none.text, none.values);
    expect(empty.rows).toHaveLength(1);
    expect(empty.rows[0]?.id ?? null).toBeNull();
    expect(empty.rows[0]?.summary_now).not.toBeNull();
  });
});

describe('PostgreSQL job queue counters', () => {
  // A statement trigger with transition tables copies every row it sees; on
  // UPDATE it copies each claimed row twice (old and new), and a claim
  // changes no count once the hot table counts live jobs.
  // Every row inserted into _berth_jobs_done leaves the hot table in the
  // same statement, so its INSERT trigger counts both sides (migration 103).
  it('claims fire no count trigger, and finishing a job fires one: the hot table counts on insert only', async () => {
    const schema = uniqueSchema('triggers');
    schemas.push(schema);
    const backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
    opened.push(backend);
    await backend.connect();
    const { rows } = await backend.native().query<{ event: string }>(
      `SELECT event_manipulation AS event FROM information_schema.triggers
        WHERE event_object_schema = $1 AND event_object_table = $2 ORDER BY event_manipulation`,
      [schema, '_berth_jobs'],
    );
    expect(rows.map((row) => row.event)).toStrictEqual(['INSERT']);
    const done = await backend.native().query<{ event: string }>(
      `SELECT event_manipulation AS event FROM information_schema.triggers
        WHERE event_object_schema = $1 AND event_object_table = $2 ORDER BY event_manipulation`,
      [schema, '_berth_jobs_done'],
    );
    expect(done.rows.map((row) => row.event)).toStrictEqual(['DELETE', 'INSERT']);
  });

  it('migration 102 turns the waiting and active counts kept so far into live ones: stats read the same', async () => {
    const schema = uniqueSchema('counts102');
    schemas.push(schema);
    const session = new PgSession(new pg.Pool({ connectionString: POSTGRES_URL, max: 2 }), true);
    try {
      await runMigrations(session, schema, [
        ...REPOSITORY_MIGRATIONS,
        ...QUEUE_MIGRATIONS.filter((migration) => migration.version < 102),
      ]);
      // Jobs as version 101 stored them: 5 waiting, then 2 of them claimed, in two queues.
      const jobs = `"${schema}"._berth_jobs`;
      for (const queue of ['a', 'b']) {
        await session.query(
          `INSERT INTO ${jobs} (id, queue, state, priority, run_at, max_attempts, lease_ms, payload, created_at, updated_at)
            SELECT $1 || g, $1, 'waiting', 0, 0, 3, 30000, '0', 0, 0 FROM generate_series(1, 5) g`,
          [queue],
        );
        await session.query(
          `UPDATE ${jobs} SET state = 'active', lease_expires_at = 9000000000000, leases = 1, attempts = 1
            WHERE id IN ($1 || '1', $1 || '2')`,
          [queue],
        );
      }
      const before = await session.query<{ state: string; count: string }>(
        `SELECT state, sum(count)::bigint AS count FROM "${schema}"._berth_job_counts WHERE queue = 'a' GROUP BY state ORDER BY state`,
      );
      expect(before).toStrictEqual([
        { state: 'active', count: '2' },
        { state: 'waiting', count: '3' },
      ]);
    } finally {
      await session.close();
    }
    const backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
    opened.push(backend);
    for (const name of ['a', 'b']) {
      expect(await backend.queue(name).stats()).toStrictEqual({
        waiting: 3,
        active: 2,
        completed: 0,
        dead: 0,
        cancelled: 0,
      });
    }
    // And they stay right through a claim, a completion, a cancel and a failure for good after the migrations.
    const queue = backend.queue<number>('a');
    const [lease] = await queue.dequeueMany(1);
    await queue.complete(lease as NonNullable<typeof lease>);
    expect(await queue.stats()).toStrictEqual({ waiting: 2, active: 2, completed: 1, dead: 0, cancelled: 0 });
    const [failing] = await queue.dequeueMany(1);
    await queue.fail(failing as NonNullable<typeof failing>, new Error('no'), { retry: false });
    expect(await queue.cancel('a1')).toBe(true);
    expect(await queue.stats()).toStrictEqual({ waiting: 1, active: 1, completed: 1, dead: 1, cancelled: 1 });
    expect(await backend.queue('b').stats()).toStrictEqual({
      waiting: 3,
      active: 2,
      completed: 0,
      dead: 0,
      cancelled: 0,
    });
  });
});
