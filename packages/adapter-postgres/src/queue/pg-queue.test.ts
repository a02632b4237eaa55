import { isBerthError, type Lease } from '@berth/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from '../fixtures/pg-test-database.js';
import { PostgresBackend } from '../pg-backend.js';
import type { PgBackendContext } from '../pg-context.js';
import { PgSession } from '../pg-session.js';
import { channelOf } from './pg-queue-listener.js';
import { QUEUE_MIGRATIONS } from './pg-queue-migrations.js';
import { PgQueues } from './pg-queues.js';

const schemas: string[] = [];
const opened: PostgresBackend[] = [];

beforeAll(requirePostgres);
afterAll(async () => {
  await Promise.all(opened.map((backend) => backend.close()));
  await dropSchemas(schemas);
});

/** Two backends on one fresh schema, each with its own pool: two processes sharing a queue. */
function twoBackends(label: string): [PostgresBackend, PostgresBackend, string] {
  const schema = uniqueSchema(label);
  schemas.push(schema);
  const first = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
  const second = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
  opened.push(first, second);
  return [first, second, schema];
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The server pids of the connections LISTENing on the schema's channel (their last statement was the LISTEN). */
async function listeners(backend: PostgresBackend, schema: string): Promise<number[]> {
  const { rows } = await backend
    .native()
    .query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE query = $1 AND state = 'idle'`, [
      `LISTEN ${channelOf(schema)}`,
    ]);
  return rows.map((row) => row.pid);
}

describe('PostgreSQL job queue', () => {
  it('two backends racing claims on one queue never get the same job', async () => {
    const [first, second] = twoBackends('race');
    const ids = new Set(
      (await first.queue<number>('race').enqueueMany(Array.from({ length: 300 }, (_, payload) => ({ payload })))).map(
        (result) => result.id,
      ),
    );
    const claimed: string[] = [];
    const drain = async (backend: PostgresBackend) => {
      const queue = backend.queue<number>('race');
      for (;;) {
        const leases = await queue.dequeueMany(7);
        if (leases.length === 0) return;
        for (const lease of leases) claimed.push(lease.job.id);
        await Promise.all(leases.map((lease) => queue.complete(lease)));
      }
    };
    await Promise.all([drain(first), drain(second), drain(first), drain(second)]);
    expect(claimed).toHaveLength(300);
    expect(new Set(claimed)).toStrictEqual(ids);
    expect(await second.queue('race').stats()).toStrictEqual({
      waiting: 0,
      active: 0,
      completed: 300,
      dead: 0,
      cancelled: 0,
    });
  });

  it('a NOTIFY wakes an idle worker of another backend long before its next poll', async () => {
    const [producer, consumer, schema] = twoBackends('notify');
    await producer.connect();
    const handled: number[] = [];
    const worker = consumer.queue<number>('wake').work(
      () => {
        handled.push(Date.now());
      },
      { pollIntervalMs: 60_000 },
    );
    try {
      await waitFor('the consumer to listen', async () => (await listeners(consumer, schema)).length > 0);
      // Let the worker's first (empty) fetch finish, so it sleeps on its 60 s poll.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const enqueuedAt = Date.now();
      await producer.queue<number>('wake').enqueue(1);
      await waitFor('the job to be handled', () => handled.length === 1, 5_000);
      // Polling alone would take a minute; the machine may be loaded, so the bound is loose.
      expect((handled[0] as number) - enqueuedAt).toBeLessThan(1_000);
    } finally {
      await worker.close();
    }
  });

  it('listens again after the listening connection is killed, and wakes its workers', async () => {
    const [producer, consumer, schema] = twoBackends('relisten');
    await producer.connect();
    const handled: string[] = [];
    const worker = consumer.queue<string>('relisten').work(
      (job) => {
        handled.push(job.payload);
      },
      { pollIntervalMs: 60_000 },
    );
    try {
      await waitFor('the consumer to listen', async () => (await listeners(consumer, schema)).length === 1);
      const [killed] = await listeners(consumer, schema);
      await producer.native().query('SELECT pg_terminate_backend($1)', [killed]);
      // A job enqueued while nobody listens is found by the wake-up that follows listening again.
      await producer.queue<string>('relisten').enqueue('while deaf');
      await waitFor('a new listening connection', async () => {
        const pids = await listeners(consumer, schema);
        return pids.length === 1 && pids[0] !== killed;
      });
      await waitFor('the job enqueued while deaf', () => handled.includes('while deaf'), 5_000);
      await producer.queue<string>('relisten').enqueue('after');
      await waitFor('the job enqueued after', () => handled.includes('after'), 5_000);
    } finally {
      await worker.close();
    }
  });

  it('an expired lease is reclaimed by another backend through the expiry index, and the old token is fenced off', async () => {
    const [first, second, schema] = twoBackends('expiry');
    const queue = first.queue<string>('expiry');
    const { id } = await queue.enqueue('slow', { leaseMs: 50 });
    const stale = (await queue.dequeue()) as Lease<string>;
    expect(stale.job.attempts).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const other = second.queue<string>('expiry');
    const fresh = (await other.dequeue({ leaseMs: 30_000 })) as Lease<string>;
    expect(fresh.job.id).toBe(id);
    expect(fresh.job.attempts).toBe(2);
    expect(fresh.job.errors.map((error) => error.name)).toStrictEqual(['LEASE_EXPIRED']);
    expect(fresh.token).not.toBe(stale.token);
    const refused = await queue.complete(stale).catch((error: unknown) => error);
    expect(isBerthError(refused, 'CONFLICT')).toBe(true);
    await other.complete(fresh, 'done');
    expect((await queue.get(id))?.state).toBe('completed');
    // The reclaim finds expired leases through the partial expiry index (seq scans off: the table is tiny here).
    const client = await first.native().connect();
    try {
      await client.query('SET enable_seqscan = off');
      const plan = await client.query(
        `EXPLAIN SELECT id FROM "${schema}"._berth_jobs WHERE queue = 'expiry' AND state = 'active' AND lease_expires_at <= 0`,
      );
      expect(JSON.stringify(plan.rows)).toContain('_berth_jobs_expiry');
    } finally {
      client.release(true);
    }
  });

  it('enqueued events carry the runAt stored, by the server’s clock, with and without dedupe keys', async () => {
    const [backend] = twoBackends('run_at');
    const queue = backend.queue<number>('run_at');
    const enqueued = new Map<string, number>();
    const stop = queue.subscribe((event) => {
      if (event.type === 'enqueued') enqueued.set(event.jobId, event.runAt.getTime());
    });
    try {
      const at = new Date(Date.now() + 3_600_000);
      const plain = await queue.enqueueMany([
        { payload: 1 },
        { payload: 2, delayMs: 60_000 },
        { payload: 3, runAt: at },
      ]);
      const keyed = await queue.enqueueMany([
        { payload: 4, dedupeKey: 'k', delayMs: 90_000 },
        { payload: 5, dedupeKey: 'k' },
        { payload: 6, delayMs: 30_000 },
      ]);
      const ids = [...plain, ...keyed].filter((result) => !result.deduplicated).map((result) => result.id);
      expect(ids).toHaveLength(5);
      for (const id of ids) expect(enqueued.get(id)).toBe((await queue.get(id))?.runAt.getTime());
      expect(enqueued.get(plain[2]?.id ?? '')).toBe(at.getTime());
      expect(enqueued.size).toBe(5);
    } finally {
      stop();
    }
  });

  it('20 concurrent enqueues of one dedupe key from two backends store one job', async () => {
    const [first, second] = twoBackends('dedupe');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        (n % 2 === 0 ? first : second).queue<number>('dedupe').enqueue(n, { dedupeKey: 'only-one' }),
      ),
    );
    const ids = new Set(results.map((result) => result.id));
    expect(ids.size).toBe(1);
    expect(results.filter((result) => !result.deduplicated)).toHaveLength(1);
    expect((await first.queue('dedupe').stats()).waiting).toBe(1);
    // Keys that differ only by case, accents or trailing spaces are different keys.
    const queue = first.queue<number>('dedupe');
    const keys = ['Key', 'key', 'kéy', 'key ', 'key\u00a0'];
    const distinct = await Promise.all(keys.map((key) => queue.enqueue(1, { dedupeKey: key })));
    expect(new Set(distinct.map((result) => result.id)).size).toBe(keys.length);
    expect(distinct.every((result) => !result.deduplicated)).toBe(true);
  });

  it('hostile queue names are refused before any SQL, and hostile payloads round-trip exactly', async () => {
    const [backend] = twoBackends('hostile');
    for (const name of ['x"; DROP SCHEMA public; --', "q'--", '', 'a'.repeat(64), '__proto__ ', 'é', 'q\u0000']) {
      let error: unknown;
      try {
        backend.queue(name);
      } catch (caught) {
        error = caught;
      }
      expect(isBerthError(error, 'VALIDATION'), JSON.stringify(name)).toBe(true);
    }
    const queue = backend.queue<unknown>('hostile');
    // A own `__proto__` key is refused (it could not be read back as a plain key), and nothing is stored.
    const proto = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const refused = await queue.enqueue(proto).catch((error: unknown) => error);
    expect(isBerthError(refused, 'VALIDATION')).toBe(true);
    expect((await queue.stats()).waiting).toBe(0);
    const payload = JSON.parse('{"constructor": {"prototype": 1}, "big": 1152921504606846976}') as Record<
      string,
      unknown
    >;
    Object.assign(payload, {
      tiny: 5e-324,
      huge: 1e308,
      negativeZero: -0,
      astral: '𝄞🚀',
      spaces: 'a  ',
      quote: `'"\\$1 ); DROP TABLE x; --`,
      deep: Array.from({ length: 60 }).reduce<unknown>((inner) => ({ inner }), 'bottom'),
      when: new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 6)),
    });
    const { id } = await queue.enqueue(payload, { dedupeKey: "'; DROP TABLE x; --" });
    const lease = (await queue.dequeue()) as Lease<Record<string, unknown>>;
    expect(lease.job.id).toBe(id);
    const stored = lease.job.payload;
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype);
    expect(stored.constructor).toStrictEqual({ prototype: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(stored.big).toBe(2 ** 60);
    expect(stored.tiny).toBe(5e-324);
    expect(stored.huge).toBe(1e308);
    expect(Object.is(stored.negativeZero, 0)).toBe(true);
    expect(stored.astral).toBe('𝄞🚀');
    expect(stored.spaces).toBe('a  ');
    expect(stored.quote).toBe(`'"\\$1 ); DROP TABLE x; --`);
    expect(stored.when).toStrictEqual(new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 6)));
    expect(stored.deep).toStrictEqual(payload.deep);
    const nul = await queue.enqueue({ text: 'a\u0000b' }).catch((error: unknown) => error);
    expect(isBerthError(nul, 'VALIDATION')).toBe(true);
    // Ids and tokens PostgreSQL text cannot carry name no job: null, false, CONFLICT; never a value error.
    expect(await queue.get(`${id}\u0000`)).toBeNull();
    expect(await queue.cancel(`${id}\u0000`)).toBe(false);
    expect(await queue.retry(`${id}\u0000`)).toBe(false);
    const forged = await queue
      .complete({ job: { id }, token: `${lease.token}\u0000` })
      .catch((error: unknown) => error);
    expect(isBerthError(forged, 'CONFLICT')).toBe(true);
    const settled = await queue.settleAndClaim?.(
      [{ lease: { job: { id: `${id}\u0000` }, token: lease.token }, outcome: 'fail', error: 'x' }],
      0,
    );
    expect(isBerthError(settled?.outcomes[0]?.error, 'CONFLICT')).toBe(true);
    expect((await queue.get(id))?.state).toBe('active');
    await queue.complete(lease, { '__proto__ ': 'x', nested: [1, [2, [3]]] });
    expect((await queue.get(id))?.result).toStrictEqual({ '__proto__ ': 'x', nested: [1, [2, [3]]] });
  });

  it('enqueue inside a transaction commits with it, wakes workers only on commit, and rolls back with it', async () => {
    const schema = uniqueSchema('tx');
    schemas.push(schema);
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
    const session = new PgSession(pool, true);
    const context: PgBackendContext = {
      session,
      schema,
      quotedSchema: `"${schema}"`,
      maxDocumentBytes: 16 * 1024 * 1024,
      ready: async () => {
        const { runMigrations } = await import('../pg-migrations.js');
        await runMigrations(session, schema, QUEUE_MIGRATIONS);
      },
    };
    await context.ready();
    const queues = new PgQueues(context);
    const listener = new pg.Client({ connectionString: POSTGRES_URL });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (message) => heard.push(message.payload ?? ''));
    await listener.query(`LISTEN ${channelOf(schema)}`);
    try {
      let committedEvents = 0;
      const effects: (() => void)[] = [];
      const id = await session.transaction(async (client) => {
        const tx = { client, assertOpen: () => {}, afterCommit: (effect: () => void) => effects.push(effect) };
        const queue = queues.transactional<string>('txq', tx);
        queues.queue('txq').subscribe(() => {
          committedEvents += 1;
        });
        const { id } = await queue.enqueue('inside');
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(heard, 'NOTIFY delivered before the commit').toStrictEqual([]);
        const outside = await session.query<{ count: string }>(`SELECT count(*) AS count FROM "${schema}"._berth_jobs`);
        expect(outside[0]?.count).toBe('0');
        return id;
      });
      for (const effect of effects) effect();
      expect(committedEvents).toBe(1);
      await waitFor('the NOTIFY of the commit', () => heard.includes('txq'));
      expect((await queues.queue('txq').get(id))?.state).toBe('waiting');
      const rolledBack = await session
        .transaction(async (client) => {
          const tx = { client, assertOpen: () => {}, afterCommit: () => {} };
          await queues.transactional<string>('txq', tx).enqueue('never');
          throw new Error('roll back');
        })
        .catch((error: unknown) => error);
      expect((rolledBack as Error).message).toBe('roll back');
      expect(await queues.queue('txq').stats()).toMatchObject({ waiting: 1 });
    } finally {
      await listener.end();
      await queues.close();
      await session.close();
    }
  });
});

describe('the logger of a PostgreSQL backend', () => {
  it('hears queue listeners that throw and worker errors without onError; the console hears nothing', async () => {
    const schema = uniqueSchema('logger');
    schemas.push(schema);
    const lines: [string, unknown][] = [];
    const logger = {
      warn: (message: string) => lines.push([message, undefined]),
      error: (message: string, details?: { readonly queue?: unknown }) => lines.push([message, details?.queue]),
    };
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema, logger });
    try {
      const queue = backend.queue<string>('logged');
      queue.subscribe(() => {
        throw new Error('listener bug');
      });
      await queue.enqueue('x');
      await waitFor('the listener error', () => lines.length > 0);
      expect(lines[0]).toStrictEqual(['berth: a listener of queue logged events threw', 'logged']);
      const worker = queue.work(() => undefined, { pollIntervalMs: 5 });
      await backend.close();
      await waitFor('the worker error', () => lines.some(([message]) => message === 'berth worker on queue logged'));
      await worker.close();
      expect(printed).not.toHaveBeenCalled();
    } finally {
      printed.mockRestore();
      await backend.close();
    }
  });
});
