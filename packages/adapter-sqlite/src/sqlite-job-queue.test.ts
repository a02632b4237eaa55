import { isBerthError, type Lease } from '@berth/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openRawDatabase } from './fixtures/raw-database.js';
import { databaseFiles } from './fixtures/temp-files.js';
import { SqliteBackend } from './sqlite-backend.js';
import { SqliteConnection } from './sqlite-connection.js';
import { MIGRATIONS, runMigrations } from './sqlite-migrations.js';
import { claimSql, purgeSql, QUEUE_SQL } from './sqlite-queue-rows.js';

const { newFile } = databaseFiles('queue');
afterEach(() => vi.restoreAllMocks());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const stats = (counts: Partial<Record<'waiting' | 'active' | 'completed' | 'dead' | 'cancelled', number>>) => ({
  waiting: 0,
  active: 0,
  completed: 0,
  dead: 0,
  cancelled: 0,
  ...counts,
});

describe('SqliteJobQueue', () => {
  it('keeps jobs, leases and results across a close and a new backend on the file', async () => {
    const file = newFile();
    const first = new SqliteBackend({ filename: file });
    const queue = first.queue<{ n: number }>('mail');
    const [done, leased, waiting] = await queue.enqueueMany([
      { payload: { n: 1 } },
      { payload: { n: 2 } },
      { payload: { n: 3 }, delayMs: 60_000, dedupeKey: 'later' },
    ]);
    const lease = await queue.dequeue();
    await queue.complete(lease as Lease<{ n: number }>, { at: new Date(5) });
    const active = await queue.dequeue({ leaseMs: 60_000 });
    await first.close();

    const second = new SqliteBackend({ filename: file });
    const again = second.queue<{ n: number }>('mail');
    expect(await again.stats()).toStrictEqual(stats({ completed: 1, active: 1, waiting: 1 }));
    expect((await again.get(done?.id as string))?.result).toStrictEqual({ at: new Date(5) });
    expect((await again.get(leased?.id as string))?.leaseExpiresAt).toStrictEqual(active?.expiresAt);
    // The lease and the dedupe key survived too.
    await again.complete(active as Lease<{ n: number }>);
    expect(await again.enqueue({ n: 4 }, { dedupeKey: 'later' })).toStrictEqual({
      id: waiting?.id,
      deduplicated: true,
    });
    await second.close();
  });

  it('two backends on one file never lease one job twice and deduplicate against each other', async () => {
    const file = newFile();
    const backends = [new SqliteBackend({ filename: file }), new SqliteBackend({ filename: file })];
    const [a, b] = backends.map((backend) => backend.queue<number>('work'));
    if (a === undefined || b === undefined) throw new Error('unreachable');
    const keyed = await Promise.all(
      Array.from({ length: 20 }, (_, n) => (n % 2 === 0 ? a : b).enqueue(n, { dedupeKey: 'one' })),
    );
    expect(new Set(keyed.map((result) => result.id)).size).toBe(1);
    expect(keyed.filter((result) => !result.deduplicated)).toHaveLength(1);
    await a.cancel(keyed[0]?.id as string);

    await a.enqueueMany(Array.from({ length: 200 }, (_, payload) => ({ payload })));
    const completions = new Map<number, number>();
    const consume = async (queue: typeof a): Promise<void> => {
      for (let lease = await queue.dequeue(); lease !== null; lease = await queue.dequeue()) {
        await sleep(lease.job.payload % 2);
        await queue.complete(lease);
        completions.set(lease.job.payload, (completions.get(lease.job.payload) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 10 }, (_, n) => consume(n % 2 === 0 ? a : b)));
    expect(completions.size).toBe(200);
    expect([...completions.values()].every((count) => count === 1)).toBe(true);
    expect(await b.stats()).toStrictEqual(stats({ completed: 200, cancelled: 1 }));
    await Promise.all(backends.map((backend) => backend.close()));
  });

  it('a call made just before an unrelated transaction starts is not taken into it (nor rolled back with it)', async () => {
    const backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<number>('q');
    await queue.enqueue(-1);
    await backend.transaction(async (tx) => void (await tx.repository('orders').insert({ id: 'warm' })));
    for (let hops = 0; hops < 12; hops++) {
      const enqueued = queue.enqueue(hops);
      for (let hop = 0; hop < hops; hop++) await Promise.resolve();
      const failed = backend.transaction(async (tx) => {
        await tx.repository('orders').insert({ id: `o${hops}` });
        throw new Error('roll back');
      });
      await expect(failed).rejects.toThrow('roll back');
      const { id } = await enqueued;
      expect(await queue.get(id), `job enqueued ${hops} hops before the transaction`).not.toBeNull();
    }
    await backend.close();
  });

  it('reads outside an open transaction answer from what is committed, without waiting for it', async () => {
    const backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<string>('q');
    const { id } = await queue.enqueue('committed', { delayMs: 60_000 });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const inside = deferred();
    const transaction = backend.transaction(async (tx) => {
      await tx.queue<string>('q').enqueue('uncommitted');
      inside.resolve();
      await held;
    });
    await inside.promise;
    const started = Date.now();
    expect(await queue.stats()).toStrictEqual(stats({ waiting: 1 }));
    expect((await queue.get(id))?.payload).toBe('committed');
    expect(await queue.dequeue()).toBeNull();
    expect(Date.now() - started).toBeLessThan(200);
    release();
    await transaction;
    expect((await queue.dequeue())?.job.payload).toBe('uncommitted');
    await backend.close();
  });

  it('a dequeue with committed due jobs waits for an open transaction, then leases', async () => {
    const backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<string>('q');
    await queue.enqueue('due');
    const inside = deferred();
    const release = deferred();
    const transaction = backend.transaction(async (tx) => {
      await tx.repository('orders').insert({ id: 'o1' });
      inside.resolve();
      await release.promise;
    });
    await inside.promise;
    let leased = false;
    const dequeued = queue.dequeue().then((lease) => {
      leased = true;
      return lease;
    });
    await sleep(30);
    expect(leased).toBe(false);
    release.resolve();
    await transaction;
    expect((await dequeued)?.job.payload).toBe('due');
    await backend.close();
  });

  it('lease operations made in one turn share one transaction; a stale lease fails only its own call', async () => {
    const backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<number>('q');
    await queue.enqueueMany(Array.from({ length: 6 }, (_, payload) => ({ payload })));
    const leases = await queue.dequeueMany(6);
    const transactions = vi.spyOn(SqliteConnection.prototype, 'immediate');
    const [stale, ...valid] = leases;
    const outcomes = await Promise.allSettled([
      queue.complete({ ...(stale as Lease<number>), token: 'made-up' }),
      ...valid.slice(0, 3).map((lease) => queue.complete(lease, lease.job.payload)),
      queue.fail(valid[3] as Lease<number>, new Error('x'), { retry: false }),
      queue.extendLease(valid[4] as Lease<number>, 60_000),
    ]);
    expect(transactions).toHaveBeenCalledTimes(1);
    expect(outcomes.map((outcome) => outcome.status)).toStrictEqual([
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    const [conflict] = outcomes;
    expect(conflict?.status === 'rejected' && isBerthError(conflict.reason, 'CONFLICT')).toBe(true);
    expect(await queue.stats()).toStrictEqual(stats({ completed: 3, dead: 1, active: 2 }));
    await backend.close();
  });

  it('completions still queued when a worker claims commit in the claim transaction', async () => {
    const backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<number>('q');
    await queue.enqueueMany(Array.from({ length: 4 }, (_, payload) => ({ payload })));
    const first = await queue.dequeueMany(2);
    const transactions = vi.spyOn(SqliteConnection.prototype, 'immediate');
    const completed = Promise.all(first.map((lease) => queue.complete(lease)));
    const next = await queue.dequeueMany(2);
    await completed;
    expect(transactions).toHaveBeenCalledTimes(1);
    expect(next.map((lease) => lease.job.payload)).toStrictEqual([2, 3]);
    expect(await queue.stats()).toStrictEqual(stats({ completed: 2, active: 2 }));
    await backend.close();
  });

  it('close() writes the lease operations still queued', async () => {
    const file = newFile();
    const backend = new SqliteBackend({ filename: file });
    const queue = backend.queue<string>('q');
    const { id } = await queue.enqueue('last');
    const lease = await queue.dequeue();
    const completed = queue.complete(lease as Lease<string>, 'done');
    await backend.close();
    await completed;
    const reopened = new SqliteBackend({ filename: file });
    expect((await reopened.queue('q').get(id))?.state).toBe('completed');
    await reopened.close();
  });

  it('stats read the counter table and claims walk the claim index: no scan, no sort', async () => {
    const backend = new SqliteBackend({ filename: newFile() });
    await backend.queue('q').stats();
    const db = backend.native();
    const plan = (sql: string, parameters: unknown[]) =>
      db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...parameters)
        .map((row) => (row as { detail: string }).detail)
        .join(' | ');
    const statsPlan = plan(QUEUE_SQL.stats, ['q']);
    expect(statsPlan).toMatch(/_berth_job_counts/);
    expect(statsPlan).not.toMatch(/_berth_jobs\b/);
    const claimPlan = plan(claimSql(10), [{ queue: 'q', now: 1, leaseMs: null, token: 't' }]);
    expect(claimPlan).toMatch(/INDEX _berth_jobs_claim/);
    expect(claimPlan).not.toMatch(/TEMP B-TREE|SCAN _berth_jobs/);
    // Leases are found among the queue's active jobs (few: those being worked on).
    for (const sql of [QUEUE_SQL.anyExpired, QUEUE_SQL.nextLeaseExpiry]) {
      expect(plan(sql, ['q', 1])).toMatch(/INDEX _berth_jobs_state \(queue=\? AND state=\?\)/);
    }
    expect(plan(QUEUE_SQL.settle, [{ queue: 'q', now: 1 }])).toMatch(
      /INDEX _berth_jobs_state \(queue=\? AND state=\?\)/,
    );
    expect(plan(purgeSql('completed'), [{ queue: 'q', before: 1 }])).toMatch(/INDEX _berth_jobs_finished/);
    expect(plan(QUEUE_SQL.anyDue, ['q', 1])).toMatch(/INDEX _berth_jobs_claim/);
    expect(plan(QUEUE_SQL.holder, ['q', 'k'])).toMatch(/INDEX _berth_jobs_dedupe/);
    await backend.close();
  });

  it('an idle worker is woken by the timer when a delayed job falls due and when a lease runs out', async () => {
    const backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<string>('q');
    const started: { payload: string; at: number }[] = [];
    const worker = queue.work(
      (job) => {
        started.push({ payload: job.payload, at: Date.now() });
      },
      { pollIntervalMs: 60_000 },
    );
    await sleep(50);
    const delayedAt = Date.now();
    await queue.enqueue('delayed', { delayMs: 150 });
    await waitUntil(() => started.length === 1);
    expect((started[0]?.at ?? 0) - delayedAt).toBeGreaterThanOrEqual(148);

    // A lease taken outside the worker and abandoned: redelivered to the worker once it runs out.
    await worker.close();
    await queue.enqueue('abandoned', { leaseMs: 100 });
    const abandonedAt = Date.now();
    expect((await queue.dequeue())?.job.payload).toBe('abandoned');
    const second = queue.work(
      (job) => {
        started.push({ payload: job.payload, at: Date.now() });
      },
      { pollIntervalMs: 60_000 },
    );
    await waitUntil(() => started.length === 2);
    expect(started[1]?.payload).toBe('abandoned');
    expect((started[1]?.at ?? 0) - abandonedAt).toBeGreaterThanOrEqual(98);
    await second.close();
    await backend.close();
  });

  it('a payload or result larger than maxDocumentBytes is a VALIDATION error and writes nothing', async () => {
    const backend = new SqliteBackend({ filename: newFile(), maxDocumentBytes: 1_000 });
    const queue = backend.queue<string>('q');
    await expect(queue.enqueue('x'.repeat(2_000))).rejects.toMatchObject({ code: 'VALIDATION', path: 'payload' });
    expect(await queue.stats()).toStrictEqual(stats({}));
    await queue.enqueue('small');
    const lease = await queue.dequeue();
    await expect(queue.complete(lease as Lease<string>, 'y'.repeat(2_000))).rejects.toMatchObject({
      code: 'VALIDATION',
    });
    await queue.complete(lease as Lease<string>, 'fits');
    await backend.close();
  });

  it('queue operations on a queue outside the transaction, called inside it, are TRANSACTION errors, not a deadlock', async () => {
    const backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<string>('q');
    await queue.enqueue('x');
    const lease = await queue.dequeue();
    await expect(backend.transaction(() => queue.dequeue())).rejects.toMatchObject({ code: 'TRANSACTION' });
    await expect(backend.transaction(() => queue.enqueue('y'))).rejects.toMatchObject({ code: 'TRANSACTION' });
    await expect(backend.transaction(() => queue.complete(lease as Lease<string>))).rejects.toMatchObject({
      code: 'TRANSACTION',
    });
    await queue.complete(lease as Lease<string>);
    expect(await queue.stats()).toStrictEqual(stats({ completed: 1 }));
    await backend.close();
  });

  it('a database made before the queue migration gets the jobs table on open', async () => {
    const file = newFile();
    const db = openRawDatabase(file);
    runMigrations(new SqliteConnection(db), MIGRATIONS.slice(0, 1));
    db.close();
    const backend = new SqliteBackend({ filename: file });
    const queue = backend.queue<string>('q');
    await queue.enqueue('after upgrade');
    expect((await queue.dequeue())?.job.payload).toBe('after upgrade');
    const versions = backend.native().prepare('SELECT version FROM _berth_migrations ORDER BY version').all();
    expect(versions).toStrictEqual(MIGRATIONS.map(({ version }) => ({ version })));
    await backend.close();
  });

  it('settleAndClaim settles a batch of completions: each result kept, a stale lease or a repeated job fails only itself', async () => {
    const backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<{ n: number }>('batch');
    const completed: { jobId: string; attempt: number }[] = [];
    queue.subscribe((event) => {
      if (event.type === 'completed') completed.push({ jobId: event.jobId, attempt: event.attempt });
    });
    await queue.enqueueMany(Array.from({ length: 4 }, (_, n) => ({ payload: { n } })));
    const [a, b, c, d] = await queue.dequeueMany(4);
    if (a === undefined || b === undefined || c === undefined || d === undefined) {
      return expect.unreachable('four leases');
    }
    await queue.release(c);
    const [again] = await queue.dequeueMany(1);
    expect(again?.job.id).toBe(c.job.id);
    const first = await queue.settleAndClaim?.(
      [
        { lease: a, outcome: 'complete', result: { ok: 'a' } },
        { lease: c, outcome: 'complete' },
        { lease: b, outcome: 'complete' },
      ],
      0,
    );
    expect(
      first?.outcomes.map((outcome) =>
        'state' in outcome ? outcome.state : isBerthError(outcome.error, 'CONFLICT') ? 'CONFLICT' : 'other',
      ),
    ).toStrictEqual(['completed', 'CONFLICT', 'completed']);
    expect((await queue.get(a.job.id))?.result).toStrictEqual({ ok: 'a' });
    expect((await queue.get(b.job.id))?.result).toBeUndefined();
    expect((await queue.get(c.job.id))?.state).toBe('active');
    // The same job twice: the first settles it, the second is a stale lease.
    const second = await queue.settleAndClaim?.(
      [
        { lease: d, outcome: 'complete', result: [1] },
        { lease: d, outcome: 'complete', result: [2] },
      ],
      0,
    );
    expect(second?.outcomes.map((outcome) => 'state' in outcome)).toStrictEqual([true, false]);
    expect((await queue.get(d.job.id))?.result).toStrictEqual([1]);
    expect(completed).toStrictEqual([
      { jobId: a.job.id, attempt: 1 },
      { jobId: b.job.id, attempt: 1 },
      { jobId: d.job.id, attempt: 1 },
    ]);
    expect(await queue.stats()).toStrictEqual(stats({ active: 1, completed: 3 }));
    await backend.close();
  });
});

function deferred(): { readonly promise: Promise<void>; readonly resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

async function waitUntil(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(5);
  }
}
