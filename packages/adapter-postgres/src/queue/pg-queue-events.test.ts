// Global events: what one backend changes reaches the subscribers of another
// backend on the same schema (its own pool and listening connection, as
// another process would have), through NOTIFY.
import type { BerthLogger, DocumentValue, JobEvent } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from '../fixtures/pg-test-database.js';
import { PostgresBackend } from '../pg-backend.js';
import { eventChannelOf } from './pg-queue-events.js';

const schemas: string[] = [];
const opened: PostgresBackend[] = [];

beforeAll(requirePostgres);
afterAll(async () => {
  await Promise.all(opened.map((backend) => backend.close()));
  await dropSchemas(schemas);
});

function open(schema: string, logger?: BerthLogger): PostgresBackend {
  const backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema, logger });
  opened.push(backend);
  return backend;
}

/** Two backends on one fresh schema. */
function twoBackends(label: string): [PostgresBackend, PostgresBackend, string] {
  const schema = uniqueSchema(label);
  schemas.push(schema);
  return [open(schema), open(schema), schema];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** The server pids of the connections whose last statement was `statement` (and that wait idle). */
async function sessionsAfter(backend: PostgresBackend, statement: string): Promise<number[]> {
  const { rows } = await backend
    .native()
    .query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE query = $1 AND state = 'idle'`, [statement]);
  return rows.map((row) => row.pid);
}

/** Waits until a connection of the schema listens for events (the subscription's LISTEN is asynchronous). */
async function listening(backend: PostgresBackend, schema: string): Promise<number> {
  let pids: number[] = [];
  await waitFor('the LISTEN on the events channel', async () => {
    pids = await sessionsAfter(backend, `LISTEN ${eventChannelOf(schema)}`);
    return pids.length > 0;
  });
  return pids[0] as number;
}

describe('PostgreSQL global job events', () => {
  it('declares global events', () => {
    const [first] = twoBackends('declared');
    expect(first.capabilities.queue.events).toBe('global');
  });

  it("every type of event of backend A reaches B's subscriber once, in order, equal to A's own", async () => {
    const [a, b, schema] = twoBackends('every_type');
    const local: JobEvent[] = [];
    const remote: JobEvent[] = [];
    const other: JobEvent[] = [];
    const queueA = a.queue<{ n: number }>('jobs');
    const unsubscribeA = queueA.subscribe((event) => local.push(event));
    const unsubscribeB = b.queue('jobs').subscribe((event) => remote.push(event));
    const unsubscribeOther = b.queue('other').subscribe((event) => other.push(event));
    await listening(b, schema);
    // A listens too (it has a subscriber): its own notifications must be dropped, not delivered twice.
    await waitFor('both backends listening', async () => {
      return (await sessionsAfter(a, `LISTEN ${eventChannelOf(schema)}`)).length >= 2;
    });

    const big = { text: 'x'.repeat(100 * 1024), at: new Date('2026-01-02T03:04:05.678Z') };
    const longError = new Error(`broken: ${'y'.repeat(20_000)}`);
    // 1: enqueued, started, progress (small, with a Date), progress (100 KiB), failed, started, released,
    //    started, completed.
    const { id: first } = await queueA.enqueue({ n: 1 }, { maxAttempts: 3, backoff: { type: 'fixed', delayMs: 0 } });
    let lease = await queueA.dequeue();
    expect(lease?.job.id).toBe(first);
    await queueA.progress(lease as NonNullable<typeof lease>, { step: 1, at: new Date('2026-01-01T00:00:00Z') });
    await queueA.progress(lease as NonNullable<typeof lease>, big as unknown as DocumentValue);
    await queueA.fail(lease as NonNullable<typeof lease>, new Error('first try'));
    lease = await queueA.dequeue();
    await queueA.release(lease as NonNullable<typeof lease>);
    lease = await queueA.dequeue();
    await queueA.complete(lease as NonNullable<typeof lease>, { ok: true });
    // 2: enqueued, cancelled, retried, started, dead (a long error), retried.
    const { id: second } = await queueA.enqueue({ n: 2 }, { maxAttempts: 1 });
    expect(await queueA.cancel(second)).toBe(true);
    expect(await queueA.retry(second)).toBe(true);
    lease = await queueA.dequeue();
    expect(await queueA.fail(lease as NonNullable<typeof lease>, longError)).toBe('dead');
    expect((await queueA.retryJobs({ state: 'dead' })).changed).toBe(1);
    lease = await queueA.dequeue();
    expect(lease?.job.id).toBe(second);
    await queueA.complete(lease as NonNullable<typeof lease>);
    // 3: leases that run out: expired and redelivered (started), expired on the last attempt (dead).
    const { id: third } = await queueA.enqueue({ n: 3 }, { maxAttempts: 2 });
    lease = await queueA.dequeue({ leaseMs: 50 });
    expect(lease?.job.id).toBe(third);
    await sleep(100);
    const again = await queueA.dequeue({ leaseMs: 50 });
    expect(again?.job.id).toBe(third);
    await sleep(100);
    expect((await queueA.stats()).dead).toBe(1);
    // 4: cancelJobs of a waiting job.
    const { id: fourth } = await queueA.enqueue({ n: 4 }, { runAt: new Date(Date.now() + 3_600_000) });
    expect((await queueA.cancelJobs()).changed).toBe(1);
    // 5: a batch through settleAndClaim: completions, a retry and a burial in one statement.
    await queueA.enqueueMany([{ payload: { n: 5 } }, { payload: { n: 6 } }, { payload: { n: 7 }, maxAttempts: 1 }]);
    const batch = await queueA.dequeueMany(3);
    const byN = (n: number) => batch.find((item) => item.job.payload.n === n) as NonNullable<typeof lease>;
    if (queueA.settleAndClaim === undefined) throw new Error('a PostgreSQL queue settles and claims');
    await queueA.settleAndClaim(
      [
        { lease: byN(5), outcome: 'complete' },
        { lease: byN(6), outcome: 'fail', error: longError, retryAfterMs: 3_600_000 },
        { lease: byN(7), outcome: 'fail', error: longError },
      ],
      0,
    );

    const types = local.map((event) => event.type);
    expect(new Set(types)).toStrictEqual(
      new Set([
        'enqueued',
        'started',
        'progress',
        'completed',
        'failed',
        'dead',
        'expired',
        'released',
        'cancelled',
        'retried',
      ]),
    );
    await waitFor(`B's ${local.length} events (has ${remote.length})`, () => remote.length >= local.length);
    // Nothing comes twice: give stragglers time to arrive.
    await sleep(300);
    expect(remote).toStrictEqual(local);
    expect(local.filter((event) => event.jobId === fourth).map((event) => event.type)).toStrictEqual([
      'enqueued',
      'cancelled',
    ]);
    const progress = remote.filter((event) => event.type === 'progress');
    expect(progress.map((event) => event.progress)).toStrictEqual([
      { step: 1, at: new Date('2026-01-01T00:00:00Z') },
      big,
    ]);
    const dead = remote.filter((event) => event.type === 'dead');
    expect(dead.map((event) => [event.error.name, event.error.message.length])).toStrictEqual([
      ['Error', longError.message.length],
      ['LEASE_EXPIRED', 'lease expired'.length],
      ['Error', longError.message.length],
    ]);
    expect(dead.every((event) => event.error.at instanceof Date && event.at instanceof Date)).toBe(true);
    const failed = remote.filter((event) => event.type === 'failed');
    expect(failed.map((event) => event.error.message.length)).toStrictEqual([
      'first try'.length,
      longError.message.length,
    ]);
    expect(other).toStrictEqual([]);
    unsubscribeA();
    unsubscribeB();
    unsubscribeOther();
  });

  it('a statement with hundreds of events sends them in batches under the NOTIFY limit, in order', async () => {
    const [a, b, schema] = twoBackends('batches');
    const local: JobEvent[] = [];
    const remote: JobEvent[] = [];
    const queueA = a.queue<{ n: number }>('jobs');
    queueA.subscribe((event) => local.push(event));
    b.queue('jobs').subscribe((event) => remote.push(event));
    await listening(b, schema);
    // Long ids (256 characters, some escaped in JSON) make each event large.
    const jobs = Array.from({ length: 300 }, (_, n) => ({ id: `${'"\\'.repeat(80)}${String(n).padStart(96, '0')}` }));
    expect(jobs[0]?.id).toHaveLength(256);
    await queueA.importJobs(
      jobs.map(({ id }, n) => ({
        id,
        queue: 'jobs',
        payload: { n },
        state: 'waiting' as const,
        priority: 0,
        attempts: 0,
        maxAttempts: 1,
        runAt: new Date(0),
        leaseMs: 30_000,
        errors: [],
        createdAt: new Date(0),
        updatedAt: new Date(0),
        dedupeKey: undefined,
        result: undefined,
        progress: undefined,
        timeoutMs: undefined,
        finishedAt: undefined,
        leaseExpiresAt: undefined,
      })),
    );
    const leases = await queueA.dequeueMany(300);
    if (queueA.settleAndClaim === undefined) throw new Error('a PostgreSQL queue settles and claims');
    await queueA.settleAndClaim(
      leases.map((lease) => ({ lease, outcome: 'fail' as const, error: 'e'.repeat(1_000) })),
      0,
    );
    expect(local).toHaveLength(900);
    await waitFor(`B's 900 events (has ${remote.length})`, () => remote.length >= 900);
    await sleep(300);
    expect(remote).toStrictEqual(local);
  });

  it('a transactional enqueue that rolls back publishes nothing; the one that commits publishes after the commit', async () => {
    const [a, b, schema] = twoBackends('rollback');
    const remote: JobEvent[] = [];
    const unsubscribe = b.queue('jobs').subscribe((event) => remote.push(event));
    await listening(b, schema);
    const failure = await a
      .transaction(async (tx) => {
        await tx.queue('jobs').enqueue({ n: 1 });
        throw new Error('roll back');
      })
      .catch((error: unknown) => error);
    expect(String(failure)).toContain('roll back');
    let committed = '';
    await a.transaction(async (tx) => {
      committed = (await tx.queue('jobs').enqueue({ n: 2 })).id;
      await sleep(200);
      // Not before the commit.
      expect(remote).toStrictEqual([]);
    });
    await waitFor('the committed enqueue', () => remote.length >= 1);
    await sleep(200);
    expect(remote.map((event) => [event.type, event.jobId])).toStrictEqual([['enqueued', committed]]);
    unsubscribe();
  });

  it("events() of B yields A's events; after the last unsubscribe B no longer LISTENs", async () => {
    const [a, b, schema] = twoBackends('unlisten');
    const controller = new AbortController();
    const iterator = b.queue('jobs').events({ signal: controller.signal, types: ['enqueued'] });
    const extra = b.queue('more').subscribe(() => {});
    const pid = await listening(b, schema);
    const { id } = await a.queue('jobs').enqueue({ n: 1 });
    const { value } = await iterator.next();
    expect(value).toMatchObject({ type: 'enqueued', queue: 'jobs', jobId: id });
    controller.abort();
    // One subscription left: still listening.
    await sleep(200);
    expect(await sessionsAfter(b, `LISTEN ${eventChannelOf(schema)}`)).toContain(pid);
    extra();
    await waitFor('the UNLISTEN', async () => {
      return !(await sessionsAfter(b, `LISTEN ${eventChannelOf(schema)}`)).includes(pid);
    });
    // Through A's pool: the released connection is back in B's, which could run this very statement on it.
    const { rows } = await a
      .native()
      .query<{ query: string }>('SELECT query FROM pg_stat_activity WHERE pid = $1', [pid]);
    expect(rows[0]?.query).toBe(`UNLISTEN ${eventChannelOf(schema)}`);
  });

  it('close() of a listening backend returns promptly and nothing is delivered after it', async () => {
    const [a, b, schema] = twoBackends('close');
    const remote: JobEvent[] = [];
    b.queue('jobs').subscribe((event) => remote.push(event));
    await listening(b, schema);
    const started = Date.now();
    await b.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    await a.queue('jobs').enqueue({ n: 1 });
    await sleep(300);
    expect(remote).toStrictEqual([]);
  });

  it('the listening connection dies: a warning through the logger, then events flow again', async () => {
    const schema = uniqueSchema('events_killed');
    schemas.push(schema);
    const warnings: string[] = [];
    const logger: BerthLogger = { warn: (message) => warnings.push(message), error: () => {} };
    const a = open(schema);
    const b = open(schema, logger);
    const remote: JobEvent[] = [];
    b.queue('jobs').subscribe((event) => remote.push(event), { types: ['enqueued'] });
    const first = await listening(b, schema);
    await a.native().query('SELECT pg_terminate_backend($1)', [first]);
    await waitFor('the warning', () => warnings.some((message) => message.includes('failed')));
    let second = first;
    await waitFor('listening again', async () => {
      second = await listening(b, schema);
      return second !== first;
    });
    await waitFor('the second warning', () => warnings.some((message) => message.includes('again')));
    const { id } = await a.queue('jobs').enqueue({ n: 1 });
    await waitFor('the event after the outage', () => remote.some((event) => event.jobId === id));
  });
});
