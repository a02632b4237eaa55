import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job, JobEvent, JobQueue, JobState } from '@berth/core';
import { afterAll, describe, expect, it } from 'vitest';
import { openRawDatabase } from './fixtures/raw-database.js';
import { SqliteBackend } from './sqlite-backend.js';
import { SqliteConnection } from './sqlite-connection.js';
import type { SqliteJobQueue } from './sqlite-job-queue.js';
import { MIGRATIONS, runMigrations } from './sqlite-migrations.js';
import { ADMIN_SQL, stateBatch } from './sqlite-queue-admin.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-admin-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;
const file = () => join(directory, `${++files}.db`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Task = { n: number; kind?: string };

/** Every job of a listing, page by page; checks that no page repeats or skips a job. */
async function listAll<T>(queue: JobQueue<T>, options: Parameters<JobQueue<T>['listJobs']>[0]): Promise<Job<T>[]> {
  const jobs: Job<T>[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const result = await queue.listJobs({ ...options, cursor });
    jobs.push(...result.jobs);
    cursor = result.cursor;
    if (cursor === undefined) return jobs;
  }
  throw new Error('the listing never ended');
}

const positionKey = (job: Job<unknown>) => [job.createdAt.getTime(), job.id] as const;
function sortedOldest<T>(jobs: Job<T>[]): Job<T>[] {
  return [...jobs].sort((a, b) => {
    const [ca, ia] = positionKey(a);
    const [cb, ib] = positionKey(b);
    return ca - cb || (ia < ib ? -1 : ia > ib ? 1 : 0);
  });
}

/** Jobs in several states: 30 waiting, 10 active, 20 completed, 10 dead, 5 cancelled, over a few milliseconds. */
async function populate(queue: JobQueue<Task>): Promise<void> {
  for (let round = 0; round < 5; round++) {
    await queue.enqueueMany(
      Array.from({ length: 15 }, (_, k) => ({ payload: { n: round * 15 + k, kind: k % 3 === 0 ? 'x' : 'y' } })),
    );
    await sleep(2);
  }
  for (const lease of await queue.dequeueMany(20)) await queue.complete(lease, { ok: true });
  for (const lease of await queue.dequeueMany(10)) await queue.fail(lease, new Error('boom'), { retry: false });
  for (const lease of await queue.dequeueMany(5)) await queue.cancel(lease.job.id);
  await queue.dequeueMany(10, { leaseMs: 60_000 });
}

describe('SqliteJobQueue listJobs', () => {
  it('pages through each state and through every state, both orders, without repeats or gaps; the last page has no cursor', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue<Task>('jobs');
    await populate(queue);
    const stats = await queue.stats();
    expect(stats).toStrictEqual({ waiting: 30, active: 10, completed: 20, dead: 10, cancelled: 5 });
    const everything: Job<Task>[] = [];
    for (const state of ['waiting', 'active', 'completed', 'dead', 'cancelled'] as JobState[]) {
      const oldest = await listAll(queue, { state, order: 'oldest', limit: 3 });
      expect(oldest.map((job) => job.state).every((s) => s === state)).toBe(true);
      expect(oldest).toHaveLength(stats[state]);
      expect(oldest.map((job) => job.id)).toStrictEqual(sortedOldest(oldest).map((job) => job.id));
      const newest = await listAll(queue, { state, limit: 4 });
      expect(newest.map((job) => job.id)).toStrictEqual(oldest.map((job) => job.id).reverse());
      everything.push(...oldest);
    }
    const all = await listAll(queue, { order: 'oldest', limit: 7 });
    expect(all.map((job) => job.id)).toStrictEqual(sortedOldest(everything).map((job) => job.id));
    const allNewest = await listAll(queue, { limit: 1000 });
    expect(allNewest.map((job) => job.id)).toStrictEqual(all.map((job) => job.id).reverse());
    // Looking one ahead: a page that ends the listing has no cursor, even when full.
    const exact = await queue.listJobs({ state: 'cancelled', limit: 5 });
    expect(exact.jobs).toHaveLength(5);
    expect(exact.cursor).toBeUndefined();
    expect((await queue.listJobs({ state: 'cancelled', limit: 4 })).cursor).toBeTypeOf('string');
    // The listing shows results, errors and progress.
    const [completed] = (await queue.listJobs({ state: 'completed', limit: 1 })).jobs;
    expect(completed?.result).toStrictEqual({ ok: true });
    expect((await queue.listJobs({ state: 'dead', limit: 1 })).jobs[0]?.errors[0]?.message).toBe('boom');
    // Another queue of the file lists nothing.
    expect(await backend.queue('other').listJobs()).toStrictEqual({ jobs: [], cursor: undefined });
  });

  it('orders jobs created in the same millisecond by id, across pages', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue<Task>('jobs');
    await queue.enqueueMany(Array.from({ length: 250 }, (_, n) => ({ payload: { n } })));
    const jobs = await listAll(queue, { state: 'waiting', order: 'oldest', limit: 9 });
    expect(jobs).toHaveLength(250);
    expect(jobs.map((job) => job.id)).toStrictEqual(sortedOldest(jobs).map((job) => job.id));
    expect(new Set(jobs.map((job) => job.id)).size).toBe(250);
  });

  it('filters payloads in JavaScript, examining at most MAX_JOBS_EXAMINED candidates per page', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue<Task>('jobs');
    // 12 000 jobs; only the first and the last match.
    await queue.enqueue({ n: -1, kind: 'needle' });
    for (let start = 0; start < 12_000; start += 2_000) {
      await queue.enqueueMany(Array.from({ length: 2_000 }, (_, k) => ({ payload: { n: start + k, kind: 'hay' } })));
    }
    await sleep(2);
    await queue.enqueue({ n: 99_999, kind: 'needle' });
    const first = await queue.listJobs({ payload: { kind: 'needle' }, limit: 10 });
    // The newest needle, then 10 000 jobs examined: the page stops with a cursor.
    expect(first.jobs.map((job) => job.payload.n)).toStrictEqual([99_999]);
    expect(first.cursor).toBeTypeOf('string');
    const second = await queue.listJobs({ payload: { kind: 'needle' }, limit: 10, cursor: first.cursor });
    expect(second.jobs.map((job) => job.payload.n)).toStrictEqual([-1]);
    expect(second.cursor).toBeUndefined();
    // Operators of the filter language work on payloads. A full page looks one match ahead: here it
    // stops at the bound, so a cursor leads to an empty last page.
    const filter = { state: 'waiting', order: 'oldest', payload: { n: { $gte: 0, $lt: 5 } }, limit: 5 } as const;
    const range = await queue.listJobs(filter);
    expect(range.jobs.map((job) => job.payload.n)).toStrictEqual([0, 1, 2, 3, 4]);
    expect(await queue.listJobs({ ...filter, cursor: range.cursor })).toStrictEqual({ jobs: [], cursor: undefined });
    // Within the bound, the look-ahead finds that nothing is left.
    const early = await queue.listJobs({ ...filter, payload: { n: { $lt: 5 } } });
    expect(early.jobs).toHaveLength(5);
    expect(early.cursor).toBeTypeOf('string');
    // A page with fewer matches than the limit went as far as the bound.
    const few = await queue.listJobs({ ...filter, payload: { n: { $in: [3, 9_000, 11_999] } } });
    expect(few.jobs.map((job) => job.payload.n)).toStrictEqual([3, 9_000]);
    const rest = await queue.listJobs({ ...filter, payload: { n: { $in: [3, 9_000, 11_999] } }, cursor: few.cursor });
    expect(rest).toMatchObject({ cursor: undefined });
    expect(rest.jobs.map((job) => job.payload.n)).toStrictEqual([11_999]);
  });

  it('refuses bad cursors, filters and options with VALIDATION', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue<Task>('jobs');
    await queue.enqueueMany(Array.from({ length: 5 }, (_, n) => ({ payload: { n } })));
    const { cursor } = await queue.listJobs({ state: 'waiting', limit: 2 });
    const validation = { code: 'VALIDATION' };
    for (const bad of [
      { cursor: 'garbage' },
      { cursor: `${cursor}x` },
      { cursor: "' OR 1=1 --" },
      { cursor: 42 },
      // A cursor of another listing (state, order, filter or queue).
      { cursor, state: 'dead' },
      { cursor, state: 'waiting', order: 'oldest' },
      { cursor, state: 'waiting', payload: { n: 1 } },
      { payload: { $where: 'sleep(1)' } },
      { payload: { n: { $regex: 1 } } },
      { payload: 'n = 1' },
      { state: "waiting' OR '1'='1" },
      { order: 'sideways' },
      { limit: 0 },
      { limit: 1_001 },
      { limit: 1.5 },
    ]) {
      await expect(
        queue.listJobs({ state: 'waiting', limit: 2, ...bad } as never),
        JSON.stringify(bad),
      ).rejects.toMatchObject(validation);
    }
    await expect(backend.queue<Task>('other').listJobs({ state: 'waiting', limit: 2, cursor })).rejects.toMatchObject(
      validation,
    );
    const next = await queue.listJobs({ state: 'waiting', limit: 2, cursor });
    expect(next.jobs).toHaveLength(2);
  });

  it('reads one index range per state: no scan of the table, no sort', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    await backend.queue('jobs').enqueue({ n: 1 });
    const db = backend.native();
    const plan = (sql: string, parameters: unknown[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[])
        .map((row) => row.detail)
        .join(' | ');
    for (const order of ['newest', 'oldest'] as const) {
      for (const after of [undefined, { createdAt: 1, id: 'a' }]) {
        const { sql, parameters } = stateBatch('jobs', 'completed', order, after, 51);
        const detail = plan(sql, parameters);
        expect(detail).toMatch(/USING INDEX _berth_jobs_state \(queue=\? AND state=\?/);
        expect(detail).not.toMatch(/SCAN|TEMP B-TREE/);
        // The cursor is a bound of the index range, not a filter on what it reads.
        if (after !== undefined) expect(detail).toMatch(/AND \(created_at,id\)[<>]\(\?,\?\)\)/);
      }
    }
    for (const sql of [ADMIN_SQL.pruneAged, ADMIN_SQL.pruneOldest]) {
      const detail = plan(sql, [{ queue: 'jobs', state: 'completed', before: 1, limit: 10 }]);
      expect(detail).toMatch(/INDEX _berth_jobs_finished/);
      expect(detail).not.toMatch(/SCAN _berth_jobs\b(?! USING)|TEMP B-TREE/);
    }
  });
});

describe('SqliteJobQueue progress, timeout and events', () => {
  it('stores progress on the job (kept after completion, cleared by retry) and the job timeout', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue<Task>('jobs');
    const { id } = await queue.enqueue({ n: 1 }, { timeoutMs: 2_500, maxAttempts: 1 });
    await queue.enqueue({ n: 2 });
    expect((await queue.get(id))?.timeoutMs).toBe(2_500);
    expect((await queue.listJobs({ order: 'oldest' })).jobs.map((job) => job.timeoutMs)).toStrictEqual([
      2_500,
      undefined,
    ]);
    const lease = await queue.dequeue();
    if (lease === null) return expect.unreachable('no job');
    expect(lease.job.progress).toBeUndefined();
    const before = (await queue.get(id))?.updatedAt.getTime() ?? 0;
    await sleep(2);
    await queue.progress(lease, { done: 3, of: 10, at: new Date(5) });
    const stored = await queue.get(id);
    expect(stored?.progress).toStrictEqual({ done: 3, of: 10, at: new Date(5) });
    expect(stored?.updatedAt.getTime()).toBeGreaterThan(before);
    await expect(queue.progress(lease, undefined as never)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(queue.progress(lease, 'x'.repeat(20_000_000))).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(queue.progress({ job: { id }, token: '1.99' }, 1)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(queue.progress({ job: { id }, token: "1'; DROP TABLE _berth_jobs; --" }, 1)).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await queue.fail(lease, new Error('once'));
    expect((await queue.get(id))?.progress).toStrictEqual({ done: 3, of: 10, at: new Date(5) });
    await expect(queue.progress(lease, 4)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await queue.retry(id)).toBe(true);
    expect((await queue.get(id))?.progress).toBeUndefined();
  });

  it('emits every kind of event after the change is stored, through one hub per queue name', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    expect(backend.capabilities.queue.events).toBe('global');
    const queue = backend.queue<Task>('jobs');
    const events: JobEvent[] = [];
    const seenStored: boolean[] = [];
    // Another queue object of the same name shares the hub; another name does not.
    const unsubscribe = backend.queue('jobs').subscribe((event) => {
      events.push(event);
    });
    const stopOther = backend.queue('other').subscribe(() => {
      throw new Error('no event of queue jobs reaches queue other');
    });
    const checker = backend.queue<Task>('jobs').subscribe(
      (event) => {
        // Emitted after the commit: a read on the read connection sees it.
        const row = backend.native().prepare('SELECT state FROM _berth_jobs WHERE id = ?').get(event.jobId);
        seenStored.push(row !== undefined);
      },
      { types: ['enqueued'] },
    );
    const { id } = await queue.enqueue({ n: 1 }, { maxAttempts: 2, leaseMs: 30 });
    await queue.enqueue({ n: 1 }, { dedupeKey: 'k', priority: -1 });
    await queue.enqueue({ n: 2 }, { dedupeKey: 'k', priority: -1 });
    const first = await queue.dequeue();
    if (first?.job.id !== id) return expect.unreachable('the first job first');
    await queue.progress(first, { step: 1 });
    await queue.fail(first, new Error('retry me'), { retryAfterMs: 0 });
    const second = await queue.dequeue();
    if (second === null) return expect.unreachable('the retried job');
    // Its lease runs out; the next claim settles it (expired, then dead: it was the last attempt).
    await sleep(50);
    const other = await queue.dequeue();
    if (other === null) return expect.unreachable('the deduplicated job');
    await queue.release(other);
    const again = await queue.dequeue();
    if (again === null) return expect.unreachable('the released job');
    await queue.complete(again, { fine: true });
    expect(await queue.retry(id)).toBe(true);
    expect(await queue.cancel(id)).toBe(true);
    await backend.transaction(async (tx) => {
      await tx.queue('jobs').enqueue({ n: 3 });
      expect(events.filter((event) => event.type === 'enqueued')).toHaveLength(2);
    });
    await expect(
      backend.transaction(async (tx) => {
        await tx.queue('jobs').enqueue({ n: 4 });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    unsubscribe();
    stopOther();
    checker();
    await queue.enqueue({ n: 5 });
    const summary = events.map((event) => `${event.type}${'attempt' in event ? `:${event.attempt}` : ''}`);
    expect(summary).toStrictEqual([
      'enqueued',
      'enqueued',
      'started:1',
      'progress:1',
      'failed:1',
      'started:2',
      'expired:2',
      'dead:2',
      'started:1',
      'released',
      'started:1',
      'completed:1',
      'retried',
      'cancelled',
      'enqueued',
    ]);
    expect(seenStored).toStrictEqual([true, true, true]);
    const failed = events.find((event) => event.type === 'failed');
    expect(failed).toMatchObject({ queue: 'jobs', jobId: id, error: { message: 'retry me', attempt: 1 } });
    expect(events.find((event) => event.type === 'dead')).toMatchObject({
      error: { message: 'lease expired', name: 'LEASE_EXPIRED', attempt: 2 },
    });
    expect(events.find((event) => event.type === 'progress')).toMatchObject({ progress: { step: 1 } });
  });
});

describe('SqliteJobQueue retryJobs and cancelJobs', () => {
  it('retry dead jobs step by step, oldest first, matching the filter, skipping held dedupe keys', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue<Task>('jobs');
    const ids = (
      await queue.enqueueMany(
        Array.from({ length: 25 }, (_, n) => ({ payload: { n, kind: n % 2 === 0 ? 'even' : 'odd' }, maxAttempts: 1 })),
      )
    ).map((result) => result.id);
    await queue.enqueue({ n: 100 }, { dedupeKey: 'held', maxAttempts: 1 });
    for (const lease of await queue.dequeueMany(26)) await queue.fail(lease, new Error('x'));
    // A live job now holds the dead job's dedupe key.
    await queue.enqueue({ n: 101 }, { dedupeKey: 'held' });
    const retried: string[] = [];
    const stop = queue.subscribe((event) => retried.push(event.jobId), { types: ['retried'] });
    const first = await queue.retryJobs({ payload: { kind: 'even' }, limit: 10 });
    expect(first).toMatchObject({ changed: 5, skipped: 0 });
    expect(first.cursor).toBeTypeOf('string');
    const steps = [first];
    for (let cursor = first.cursor; cursor !== undefined; ) {
      const step = await queue.retryJobs({ payload: { kind: 'even' }, limit: 10, cursor });
      steps.push(step);
      cursor = step.cursor;
    }
    expect(steps.map((step) => step.changed)).toStrictEqual([5, 5, 3]);
    expect(retried).toStrictEqual(ids.filter((_, n) => n % 2 === 0));
    const held = await queue.retryJobs({ payload: { n: 100 } });
    expect(held).toStrictEqual({ changed: 0, skipped: 1, cursor: undefined });
    expect(await queue.stats()).toMatchObject({ waiting: 14, dead: 13 });
    stop();
    await expect(queue.retryJobs({ state: 'completed' as never })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(queue.retryJobs({ cursor: first.cursor, payload: { kind: 'odd' } })).rejects.toMatchObject({
      code: 'VALIDATION',
    });
    await expect(queue.retryJobs({ limit: 10_001 })).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('cancel waiting jobs in bounded steps', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue<Task>('jobs');
    await queue.enqueueMany(Array.from({ length: 30 }, (_, n) => ({ payload: { n, kind: n < 20 ? 'old' : 'new' } })));
    const cancelled: string[] = [];
    queue.subscribe((event) => cancelled.push(event.jobId), { types: ['cancelled'] });
    const first = await queue.cancelJobs({ payload: { kind: 'old' }, limit: 15 });
    expect(first).toMatchObject({ changed: 15, skipped: 0 });
    const second = await queue.cancelJobs({ payload: { kind: 'old' }, limit: 15, cursor: first.cursor });
    expect(second).toStrictEqual({ changed: 5, skipped: 0, cursor: undefined });
    expect(cancelled).toHaveLength(20);
    expect(await queue.stats()).toMatchObject({ waiting: 10, cancelled: 20 });
    // Whatever the payload holds, a filter value is data.
    expect(await queue.cancelJobs({ payload: { kind: "old' OR '1'='1" } })).toStrictEqual({
      changed: 0,
      skipped: 0,
      cursor: undefined,
    });
  });
});

describe('SqliteJobQueue prune', () => {
  it('removes jobs past the age and count bounds of each state, at most limit per call', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue<Task>('jobs', {
      retention: { completed: { maxCount: 5 }, dead: { maxAgeMs: 20 }, cancelled: null },
    });
    await queue.enqueueMany(Array.from({ length: 30 }, (_, n) => ({ payload: { n }, maxAttempts: 1 })));
    const leases = await queue.dequeueMany(30);
    for (const lease of leases.slice(0, 12)) {
      await queue.complete(lease);
      await sleep(1);
    }
    for (const lease of leases.slice(12, 20)) await queue.fail(lease, new Error('x'));
    for (const lease of leases.slice(20)) await queue.cancel(lease.job.id);
    await sleep(30);
    expect(await queue.prune({ limit: 3 })).toBe(3);
    expect(await queue.prune()).toBe(4 + 8);
    expect(await queue.prune()).toBe(0);
    expect(await queue.stats()).toMatchObject({ completed: 5, dead: 0, cancelled: 10 });
    // The newest finished are kept.
    const kept = (await queue.listJobs({ state: 'completed' })).jobs.map((job) => job.payload.n).sort((a, b) => a - b);
    expect(kept).toStrictEqual([7, 8, 9, 10, 11]);
    // A policy given to prune overrides the queue's, state by state.
    expect(await queue.prune({ retention: { cancelled: { maxCount: 0 } } })).toBe(10);
    await expect(queue.prune({ retention: { completed: { maxAgeMs: -1 } } })).rejects.toMatchObject({
      code: 'VALIDATION',
    });
    await expect(queue.prune({ limit: 0 })).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(() => backend.queue('jobs', { retention: { running: {} } as never })).toThrow(/retention/);
  });
});

describe('SqliteJobQueue settleAndClaim', () => {
  it('applies each settlement and claims in one step; a stale lease or a bad result fails only its own item', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue<Task>('jobs') as SqliteJobQueue<Task>;
    await queue.enqueueMany(Array.from({ length: 10 }, (_, n) => ({ payload: { n }, maxAttempts: 2 })));
    const events: string[] = [];
    queue.subscribe((event) => events.push(event.type));
    const { outcomes: none, leases } = await queue.settleAndClaim([], 4);
    expect(none).toStrictEqual([]);
    expect(leases.map((lease) => lease.job.payload.n)).toStrictEqual([0, 1, 2, 3]);
    const [a, b, c, d] = leases as [(typeof leases)[0], (typeof leases)[0], (typeof leases)[0], (typeof leases)[0]];
    await queue.complete(d);
    events.length = 0;
    const result = await queue.settleAndClaim(
      [
        { lease: a, outcome: 'complete', result: { ok: 1 } },
        { lease: b, outcome: 'fail', error: new Error('again'), retryAfterMs: 60_000 },
        { lease: c, outcome: 'fail', error: new Error('fatal'), retry: false },
        { lease: d, outcome: 'complete' },
        { lease: a, outcome: 'complete', result: { bad: () => 1 } as never },
        { lease: { job: { id: 'x' }, token: 'nope' }, outcome: 'fail', error: 'x' },
        { lease: a, outcome: 'explode' } as never,
      ],
      3,
    );
    expect(
      result.outcomes.map((outcome) => outcome.state ?? (outcome.error as unknown as { code: string }).code),
    ).toStrictEqual(['completed', 'waiting', 'dead', 'CONFLICT', 'VALIDATION', 'CONFLICT', 'VALIDATION']);
    expect(result.leases.map((lease) => lease.job.payload.n)).toStrictEqual([4, 5, 6]);
    expect(events).toStrictEqual(['completed', 'failed', 'dead', 'started', 'started', 'started']);
    expect((await queue.get(a.job.id))?.result).toStrictEqual({ ok: 1 });
    // count 0 settles only.
    const settleOnly = await queue.settleAndClaim(
      result.leases.map((lease) => ({ lease, outcome: 'complete' as const })),
      0,
    );
    expect(settleOnly.leases).toStrictEqual([]);
    expect(await queue.stats()).toStrictEqual({ waiting: 4, active: 0, completed: 5, dead: 1, cancelled: 0 });
    await expect(queue.settleAndClaim([], -1)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(queue.settleAndClaim('x' as never, 1)).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});

describe('an existing database of the previous layout', () => {
  it('is upgraded in place: jobs kept, new columns empty, the lease index replaced by the state index', async () => {
    const database = file();
    const raw = openRawDatabase(database);
    raw.pragma('journal_mode = WAL');
    const connection = new SqliteConnection(raw);
    expect(
      runMigrations(
        connection,
        MIGRATIONS.filter((migration) => migration.version <= 3),
      ),
    ).toBe(3);
    raw
      .prepare(
        `INSERT INTO _berth_jobs (id, queue, state, priority, run_at, attempts, max_attempts, lease_ms, backoff,
          dedupe_key, payload, errors, created_at, updated_at)
        VALUES (?, 'jobs', 'waiting', 0, 1, 0, 3, 30000, NULL, NULL, ?, '[]', ?, ?)`,
      )
      .run('old-job', JSON.stringify({ n: 7 }), 1, 1);
    raw.close();
    await using backend = new SqliteBackend({ filename: database });
    const queue = backend.queue<Task>('jobs');
    expect(await queue.get('old-job')).toMatchObject({ payload: { n: 7 }, progress: undefined, timeoutMs: undefined });
    expect((await queue.listJobs({ state: 'waiting' })).jobs.map((job) => job.id)).toStrictEqual(['old-job']);
    const indexes = (
      backend
        .native()
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '_berth_jobs'`)
        .all() as {
        name: string;
      }[]
    ).map((row) => row.name);
    expect(indexes).toContain('_berth_jobs_state');
    expect(indexes).not.toContain('_berth_jobs_lease');
    const lease = await queue.dequeue();
    if (lease === null) return expect.unreachable('the old job');
    await queue.progress(lease, 1);
    await queue.complete(lease);
    expect(await queue.get('old-job')).toMatchObject({ state: 'completed', progress: 1 });
    await queue.putSchedule({
      name: 'after_upgrade',
      spec: { everyMs: 1_000 },
      payload: { n: 0 },
      jobOptions: {},
      missed: 'once',
      overlap: 'allow',
      paused: false,
      nextRunAt: new Date(1),
    });
    expect((await queue.listSchedules()).map((schedule) => schedule.name)).toStrictEqual(['after_upgrade']);
  });
});
