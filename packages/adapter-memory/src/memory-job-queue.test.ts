import { generateId, isBerthError, type JobEvent, type Lease, type LeaseRef } from '@berth/core';
import { normalizeEnqueueOptions } from '@berth/core/adapter';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryBackend } from './memory-backend.js';
import { MemoryJobQueue } from './memory-job-queue.js';
import { type MemoryJob, MemoryQueueState } from './memory-queue-state.js';

// The port's contract is the conformance suite's. These tests pin what is
// the memory queue's own: listing, bulk steps and retention read only the
// jobs they return or change (counted through the jobs' fields, not timed),
// schedules and events are shared by every queue object of a backend, and
// the order of events over a job's life.

async function codeOf(work: () => unknown): Promise<string | undefined> {
  try {
    await work();
  } catch (error) {
    return isBerthError(error) ? error.code : String(error);
  }
  return undefined;
}

/** Adds `count` jobs to `state` synchronously and moves them to `outcome`. */
function fill(state: MemoryQueueState, count: number, outcome: 'completed' | 'dead' | 'waiting', tag: string): void {
  const now = Date.now();
  const options = normalizeEnqueueOptions(undefined, now);
  for (let n = 0; n < count; n++) state.add(generateId(), { tag, n }, options, now);
  if (outcome === 'waiting') return;
  for (
    let leased = state.lease(10_000, undefined, now);
    leased.length > 0;
    leased = state.lease(10_000, undefined, now)
  ) {
    for (const job of leased) {
      if (outcome === 'completed') state.complete(job, undefined, now);
      else state.fail(job, { error: new Error('boom'), retry: false }, now);
    }
  }
}

/** Counts reads of `field` on every job of `state` from now on. */
function countReads(state: MemoryQueueState, field: 'payload' | 'finishedAt'): { reads: number } {
  const counter = { reads: 0 };
  for (const job of state.jobs.values()) {
    let value = job[field];
    Object.defineProperty(job, field, {
      get() {
        counter.reads += 1;
        return value;
      },
      set(next: MemoryJob[typeof field]) {
        value = next;
      },
    });
  }
  return counter;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MemoryJobQueue heaps', () => {
  it('drop the entries of settled jobs instead of keeping one per job for a lease time, with no worker listening', async () => {
    const state = new MemoryQueueState('heaps');
    const queue = new MemoryJobQueue(state);
    for (let round = 0; round < 20; round++) {
      await queue.enqueueMany(Array.from({ length: 1_000 }, (_, n) => ({ payload: { n } })));
      for (const lease of await queue.dequeueMany(1_000)) await queue.complete(lease);
    }
    // 20 000 jobs leased and completed within one lease time: the heaps hold at most a bounded margin.
    const sizes = state.heapSizes();
    expect(sizes.leases).toBeLessThanOrEqual(2 * 1_024 + 1_000);
    expect(sizes.ready + sizes.delayed).toBeLessThanOrEqual(2 * 1_024 + 1_000);
    expect(await queue.stats()).toMatchObject({ completed: 20_000, active: 0, waiting: 0 });
  });
});

describe('MemoryJobQueue listing', () => {
  it('lists 5 dead jobs among 200 000 completed ones reading only those 5', async () => {
    const state = new MemoryQueueState('big');
    const queue = new MemoryJobQueue(state);
    fill(state, 200_000, 'completed', 'done');
    fill(state, 5, 'dead', 'dead');
    const payloads = countReads(state, 'payload');

    const dead = await queue.listJobs({ state: 'dead' });
    expect(dead.jobs.map((job) => job.payload)).toStrictEqual([4, 3, 2, 1, 0].map((n) => ({ tag: 'dead', n })));
    expect(dead.cursor).toBeUndefined();
    expect(payloads.reads).toBe(5);

    // A filter examines the dead jobs only (5 checks), then copies the 2 it returns.
    payloads.reads = 0;
    const filtered = await queue.listJobs({ state: 'dead', payload: { n: { $gte: 3 } } });
    expect(filtered.jobs.map((job) => job.payload)).toStrictEqual([
      { tag: 'dead', n: 4 },
      { tag: 'dead', n: 3 },
    ]);
    expect(filtered.cursor).toBeUndefined();
    expect(payloads.reads).toBe(7);

    // Every state, newest first: the 5 dead jobs are the newest; one job more is looked at, not read.
    payloads.reads = 0;
    const newest = await queue.listJobs({ limit: 5 });
    expect(newest.jobs.map((job) => job.state)).toStrictEqual(['dead', 'dead', 'dead', 'dead', 'dead']);
    expect(newest.cursor).toBeDefined();
    expect(payloads.reads).toBe(5);

    payloads.reads = 0;
    const oldest = await queue.listJobs({ state: 'completed', order: 'oldest', limit: 3 });
    expect(oldest.jobs.map((job) => job.payload)).toStrictEqual([0, 1, 2].map((n) => ({ tag: 'done', n })));
    const next = await queue.listJobs({ state: 'completed', order: 'oldest', limit: 3, cursor: oldest.cursor });
    expect(next.jobs.map((job) => job.payload)).toStrictEqual([3, 4, 5].map((n) => ({ tag: 'done', n })));
    expect(payloads.reads).toBe(6);
  }, 60_000);

  it('a filtered listing stops at 10 000 examined jobs with a cursor that goes on after them', async () => {
    const state = new MemoryQueueState('bound');
    const queue = new MemoryJobQueue(state);
    fill(state, 25_000, 'completed', 'miss');
    fill(state, 2, 'completed', 'hit');
    const payloads = countReads(state, 'payload');
    const pages: { found: number; more: boolean }[] = [];
    let cursor: string | undefined;
    do {
      const page = await queue.listJobs({
        state: 'completed',
        order: 'oldest',
        limit: 1,
        cursor,
        payload: { tag: 'hit' },
      });
      pages.push({ found: page.jobs.length, more: page.cursor !== undefined });
      cursor = page.cursor;
    } while (cursor !== undefined);
    // 10 000 + 10 000 examined, then 5 000 to the first hit and one more to know a second follows; then the last.
    expect(pages).toStrictEqual([
      { found: 0, more: true },
      { found: 0, more: true },
      { found: 1, more: true },
      { found: 1, more: false },
    ]);
    expect(payloads.reads).toBe(25_002 + 1 + 2);
  }, 60_000);

  it('pages through every state in order when many jobs share a millisecond, both ways', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_700_000_000_000);
    await using backend = new MemoryBackend();
    const queue = backend.queue('same_ms');
    const ids: string[] = [];
    for (let n = 0; n < 30; n++) {
      if (n % 10 === 0) vi.setSystemTime(1_700_000_000_000 + n);
      ids.push((await queue.enqueue({ n })).id);
    }
    for (const lease of await queue.dequeueMany(7)) await queue.complete(lease);
    await queue.cancel(ids[20] as string);
    const expected = [...ids].sort();
    for (const order of ['oldest', 'newest'] as const) {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await queue.listJobs({ order, limit: 4, cursor });
        seen.push(...page.jobs.map((job) => job.id));
        cursor = page.cursor;
      } while (cursor !== undefined);
      expect(seen).toStrictEqual(order === 'oldest' ? expected : [...expected].reverse());
    }
    // A full last page has no cursor: the page looks one job ahead.
    expect((await queue.listJobs({ limit: 30 })).cursor).toBeUndefined();
    expect((await queue.listJobs({ limit: 29 })).cursor).toBeDefined();
  });

  it('refuses cursors of another listing, forged cursors and bad options with VALIDATION', async () => {
    await using backend = new MemoryBackend();
    const queue = backend.queue('cursors');
    for (let n = 0; n < 3; n++) await queue.enqueue({ n });
    const { cursor } = await queue.listJobs({ limit: 1 });
    expect(await codeOf(() => queue.listJobs({ limit: 1, order: 'oldest', cursor }))).toBe('VALIDATION');
    expect(await codeOf(() => queue.listJobs({ limit: 1, state: 'waiting', cursor }))).toBe('VALIDATION');
    expect(await codeOf(() => backend.queue('other').listJobs({ limit: 1, cursor }))).toBe('VALIDATION');
    expect(await codeOf(() => queue.listJobs({ cursor: `${cursor}x` }))).toBe('VALIDATION');
    expect(await codeOf(() => queue.listJobs({ limit: 1_001 }))).toBe('VALIDATION');
    expect(await codeOf(() => queue.listJobs({ payload: { $where: '1' } as never }))).toBe('VALIDATION');
    expect(await codeOf(() => queue.listJobs({ state: 'running' as never }))).toBe('VALIDATION');
  });
});

describe('MemoryJobQueue bulk steps and retention', () => {
  it('retries dead jobs oldest first in bounded steps, skipping a job whose dedupe key is held', async () => {
    await using backend = new MemoryBackend();
    const queue = backend.queue('bulk');
    for (let n = 0; n < 5; n++) await queue.enqueue({ n }, { maxAttempts: 1, dedupeKey: n < 2 ? 'same' : undefined });
    // Only one of the two 'same' jobs exists (the second was deduplicated); add it again once the first is dead.
    for (let lease = await queue.dequeue(); lease !== null; lease = await queue.dequeue()) await queue.fail(lease, 'x');
    await queue.enqueue({ n: 9 }, { dedupeKey: 'same' });
    const first = await queue.retryJobs({ limit: 2 });
    expect(first).toStrictEqual({ changed: 1, skipped: 1, cursor: expect.any(String) });
    const second = await queue.retryJobs({ limit: 2, cursor: first.cursor });
    expect(second).toStrictEqual({ changed: 2, skipped: 0, cursor: undefined });
    expect(await queue.stats()).toMatchObject({ dead: 1, waiting: 4 });
    const cancelled = await queue.cancelJobs({ payload: { n: { $gte: 3 } } });
    expect(cancelled).toStrictEqual({ changed: 3, skipped: 0, cursor: undefined });
    expect(await codeOf(() => queue.retryJobs({ state: 'completed' as never }))).toBe('VALIDATION');
    expect(await codeOf(() => queue.cancelJobs({ limit: 10_001 }))).toBe('VALIDATION');
  });

  it('prune reads only the jobs it removes (and the one it stops at)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = 1_700_000_000_000;
    vi.setSystemTime(start);
    const state = new MemoryQueueState('prune');
    const queue = new MemoryJobQueue(state);
    // 100 000 completed jobs: one per millisecond for the first 100, the rest at once a second later.
    for (let n = 0; n < 100; n++) {
      vi.setSystemTime(start + n);
      fill(state, 1, 'completed', 'early');
    }
    vi.setSystemTime(start + 1_000);
    fill(state, 99_900, 'completed', 'late');
    const finished = countReads(state, 'finishedAt');

    vi.setSystemTime(start + 86_400_000 + 50);
    expect(await queue.prune({ retention: { completed: { maxAgeMs: 86_400_000 } } })).toBe(50);
    expect(finished.reads).toBeLessThanOrEqual(51);

    finished.reads = 0;
    expect(await queue.prune({ retention: { completed: { maxCount: 99_940 } } })).toBe(10);
    expect(finished.reads).toBeLessThanOrEqual(11);

    finished.reads = 0;
    expect(await queue.prune({ retention: { completed: { maxCount: 0 } }, limit: 7 })).toBe(7);
    expect(finished.reads).toBeLessThanOrEqual(8);
    expect((await queue.stats()).completed).toBe(99_933);

    finished.reads = 0;
    expect(await queue.purge({ finishedBefore: new Date(start + 100) })).toBe(33);
    expect(finished.reads).toBeLessThanOrEqual(34);
    expect((await queue.listJobs({ order: 'oldest', limit: 1 })).jobs[0]?.payload).toStrictEqual({ tag: 'late', n: 0 });
  }, 60_000);

  it('keeps the finish order by finishedAt when the clock steps back, so purge and prune stay exact', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const state = new MemoryQueueState('clock');
    const queue = new MemoryJobQueue(state);
    for (const at of [1_000, 500, 1_200, 400, 1_100]) {
      vi.setSystemTime(at);
      fill(state, 1, 'completed', String(at));
    }
    vi.setSystemTime(2_000);
    expect(await queue.purge({ finishedBefore: new Date(600) })).toBe(2);
    expect(await queue.prune({ retention: { completed: { maxCount: 1 } } })).toBe(2);
    const [kept] = (await queue.listJobs()).jobs;
    expect(kept?.finishedAt).toStrictEqual(new Date(1_200));
  });

  it('checks the retention of backend.queue() and prune()', async () => {
    await using backend = new MemoryBackend();
    expect(await codeOf(() => backend.queue('r', { retention: { completed: { maxAgeMs: -1 } } }))).toBe('VALIDATION');
    expect(await codeOf(() => backend.queue('r', { retention: { running: null } as never }))).toBe('VALIDATION');
    expect(await codeOf(() => backend.queue('r', 5 as never))).toBe('VALIDATION');
    expect(await codeOf(() => backend.queue('r').prune({ limit: 0 }))).toBe('VALIDATION');
    // A queue that keeps completed jobs forever prunes none; another object of the name has its own policy.
    const keep = backend.queue('r', { retention: { completed: null } });
    await keep.enqueue(1);
    const lease = await keep.dequeue();
    await keep.complete(lease as LeaseRef);
    expect(await keep.prune()).toBe(0);
    expect(await backend.queue('r', { retention: { completed: { maxCount: 0 } } }).prune()).toBe(1);
  });
});

describe('MemoryJobQueue schedules and events', () => {
  it('shares schedules between queue objects of one backend; one of many racing fires wins', async () => {
    await using backend = new MemoryBackend();
    const one = backend.queue('sched');
    const two = backend.queue('sched');
    const runAt = new Date(Date.now() - 1_000);
    const put = await one.putSchedule({
      name: 'nightly',
      spec: { everyMs: 60_000 },
      payload: { report: true },
      jobOptions: { priority: 3 },
      missed: 'once',
      overlap: 'allow',
      paused: false,
      nextRunAt: runAt,
    });
    expect(put.version).toBe(1);
    expect(await two.getSchedule('nightly')).toStrictEqual(put);
    const tick = { runAt, nextRunAt: new Date(runAt.getTime() + 60_000), enqueue: true };
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, n) => (n % 2 ? one : two).fireSchedule('nightly', tick)),
    );
    const fired = results.filter((result) => result.fired);
    expect(fired).toHaveLength(1);
    const job = await one.get(fired[0]?.job?.id as string);
    expect(job).toMatchObject({ payload: { report: true }, priority: 3, runAt });
    const after = await two.listSchedules();
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ version: 2, lastRunAt: runAt, lastJobId: job?.id, nextRunAt: tick.nextRunAt });
    // A replace keeps what the backend tracks; another backend sees nothing.
    const replaced = await two.putSchedule({ ...put, payload: { report: false } });
    expect(replaced).toMatchObject({ version: 3, lastJobId: job?.id, createdAt: put.createdAt });
    expect(await new MemoryBackend().queue('sched').listSchedules()).toStrictEqual([]);
    expect(await one.removeSchedule('nightly')).toBe(true);
    expect(await two.removeSchedule('nightly')).toBe(false);
    expect(await codeOf(() => one.getSchedule('../x'))).toBe('VALIDATION');
    expect(await codeOf(() => one.fireSchedule('nightly', { runAt, nextRunAt: runAt, enqueue: true }))).toBe(
      'VALIDATION',
    );
  });

  it('refuses bad schedules without storing them; paused, skipped and overlapping ticks', async () => {
    await using backend = new MemoryBackend();
    const queue = backend.queue('sched_edge');
    const base = {
      name: 'every',
      spec: { everyMs: 1_000 },
      payload: 1,
      jobOptions: {},
      missed: 'once' as const,
      overlap: 'skip' as const,
      paused: false,
      nextRunAt: new Date(1_000),
    };
    for (const bad of [
      { ...base, name: "x'; DROP TABLE jobs; --" },
      { ...base, name: 'a'.repeat(129) },
      { ...base, spec: { everyMs: 0 } },
      { ...base, jobOptions: { dedupeKey: 'k' } },
      { ...base, payload: undefined },
      { ...base, nextRunAt: new Date(Number.NaN) },
    ]) {
      expect(await codeOf(() => queue.putSchedule(bad as never))).toBe('VALIDATION');
    }
    expect(await queue.listSchedules()).toStrictEqual([]);
    await queue.putSchedule(base);
    const tick = (runAt: number, enqueue = true) => ({
      runAt: new Date(runAt),
      nextRunAt: new Date(runAt + 1_000),
      enqueue,
    });
    expect(await queue.fireSchedule('every', tick(999))).toStrictEqual({ fired: false });
    expect(await queue.fireSchedule('missing', tick(1_000))).toStrictEqual({ fired: false });
    expect(await queue.fireSchedule('every', tick(1_000, false))).toStrictEqual({ fired: true });
    const first = await queue.fireSchedule('every', tick(2_000));
    // overlap 'skip': the earlier tick's job is still waiting, so this tick finds it.
    const second = await queue.fireSchedule('every', tick(3_000));
    expect(second.job).toStrictEqual({ id: first.job?.id, deduplicated: true });
    expect(await queue.getSchedule('every')).toMatchObject({ version: 4, lastJobId: first.job?.id });
    await queue.putSchedule({ ...base, paused: true, nextRunAt: new Date(4_000) });
    expect(await queue.fireSchedule('every', tick(4_000))).toStrictEqual({ fired: false });
    expect((await queue.stats()).waiting).toBe(1);
  });

  it('emits every event of a job life in order, to every queue object of the name', async () => {
    await using backend = new MemoryBackend();
    const queue = backend.queue('life');
    const seen: string[] = [];
    const unsubscribe = backend.queue('life').subscribe((event: JobEvent) => {
      const attempt = 'attempt' in event ? event.attempt : '';
      seen.push(`${event.type}${attempt}`);
    });
    // Leases of 300 ms: long enough for a loaded machine between calls, and the one that is let expire is waited out.
    const { id } = await queue.enqueue({ a: 1 }, { maxAttempts: 3, leaseMs: 300, timeoutMs: 500 });
    let lease = (await queue.dequeue()) as LeaseRef;
    await queue.progress(lease, { done: 0.5 });
    await queue.fail(lease, new Error('once'), { retryAfterMs: 0 });
    lease = (await queue.dequeue()) as LeaseRef;
    await new Promise((resolve) => setTimeout(resolve, 350));
    lease = (await queue.dequeue()) as LeaseRef;
    await queue.release(lease);
    lease = (await queue.dequeue()) as LeaseRef;
    await queue.progress(lease, 'almost');
    await queue.complete(lease, 'ok');
    const done = await queue.get(id);
    expect(done).toMatchObject({ state: 'completed', progress: 'almost', timeoutMs: 500, result: 'ok' });
    await queue.enqueue(2, { maxAttempts: 1, leaseMs: 10 });
    await queue.dequeue();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const [dead] = (await queue.listJobs({ state: 'dead' })).jobs;
    await queue.retry(dead?.id as string);
    await queue.cancel(dead?.id as string);
    unsubscribe();
    await queue.enqueue(3);
    expect(seen).toStrictEqual([
      'enqueued',
      'started1',
      'progress1',
      'failed1',
      'started2',
      'expired2',
      'started3',
      'released',
      'started3',
      'progress3',
      'completed3',
      'enqueued',
      'started1',
      'expired1',
      'dead1',
      'retried',
      'cancelled',
    ]);
    expect((await queue.get(dead?.id as string))?.progress).toBeUndefined();
  });

  it('emits enqueued for a transactional enqueue after its commit, and never for a rollback', async () => {
    await using backend = new MemoryBackend();
    const events: string[] = [];
    backend.queue('tx').subscribe((event) => events.push(event.type), { types: ['enqueued'] });
    await backend.transaction(async (tx) => {
      await tx.queue('tx').enqueue(1);
      await tx.queue('tx').enqueue(2, { dedupeKey: 'k' });
      // Another enqueue call of the same transaction finds the key it enqueued.
      expect(await tx.queue('tx').enqueue(3, { dedupeKey: 'k' })).toMatchObject({ deduplicated: true });
      expect(events).toStrictEqual([]);
    });
    expect(events).toStrictEqual(['enqueued', 'enqueued']);
    await backend
      .transaction(async (tx) => {
        await tx.queue('tx').enqueue(4);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(events).toHaveLength(2);
  });

  it('progress needs a live lease and a document value', async () => {
    await using backend = new MemoryBackend();
    const queue = backend.queue('progress');
    await queue.enqueue(1);
    const lease = (await queue.dequeue()) as LeaseRef;
    expect(await codeOf(() => queue.progress(lease, undefined as never))).toBe('VALIDATION');
    expect(await codeOf(() => queue.progress(lease, (() => 1) as never))).toBe('VALIDATION');
    expect(await codeOf(() => queue.progress({ job: { id: lease.job.id }, token: 'stale' }, 1))).toBe('CONFLICT');
    expect(await codeOf(() => queue.progress(null as never, 1))).toBe('VALIDATION');
    await queue.progress(lease, { step: 1 });
    await queue.complete(lease);
    expect(await codeOf(() => queue.progress(lease, 2))).toBe('CONFLICT');
    expect((await queue.get(lease.job.id))?.progress).toStrictEqual({ step: 1 });
  });
});

describe('MemoryJobQueue.settleAndClaim', () => {
  it('applies each settlement on its own, then leases, in one step with the events of the separate calls', async () => {
    await using backend = new MemoryBackend();
    const queue = backend.queue('settle');
    const events: string[] = [];
    queue.subscribe((event) => events.push(`${event.type}:${event.jobId}`));
    await queue.enqueueMany([1, 2, 3, 4, 5].map((n) => ({ payload: n, maxAttempts: 2 })));
    const claimed = await queue.settleAndClaim?.([], 4);
    const leases = claimed?.leases ?? [];
    expect(leases.map((lease) => lease.job.payload)).toStrictEqual([1, 2, 3, 4]);
    const [l1, l2, l3, l4] = leases as [Lease, Lease, Lease, Lease];
    events.length = 0;
    const result = await queue.settleAndClaim?.(
      [
        { lease: l1, outcome: 'complete', result: { ok: true } },
        { lease: { job: l2.job, token: 'stale' }, outcome: 'complete' },
        { lease: l2, outcome: 'complete', result: (() => 1) as never },
        { lease: l3, outcome: 'fail', error: new Error('x'), retryAfterMs: 60_000 },
        { lease: l4, outcome: 'fail', error: new Error('y'), retry: false },
        { lease: l1, outcome: 'complete' },
        { lease: l2, outcome: 'bogus' } as never,
        null as never,
      ],
      0,
    );
    expect(result?.leases).toStrictEqual([]);
    expect(
      result?.outcomes.map((outcome) => outcome.state ?? (isBerthError(outcome.error) ? outcome.error.code : 'other')),
    ).toStrictEqual(['completed', 'CONFLICT', 'VALIDATION', 'waiting', 'dead', 'CONFLICT', 'VALIDATION', 'VALIDATION']);
    expect(events).toStrictEqual([`completed:${l1.job.id}`, `failed:${l3.job.id}`, `dead:${l4.job.id}`]);
    const next = await queue.settleAndClaim?.([{ lease: l2, outcome: 'complete' }], 10, { leaseMs: 1_000 });
    expect(next?.outcomes).toStrictEqual([{ state: 'completed' }]);
    expect(next?.leases.map((lease) => lease.job.payload)).toStrictEqual([5]);
    expect(await codeOf(() => queue.settleAndClaim?.([], -1))).toBe('VALIDATION');
    expect(await codeOf(() => queue.settleAndClaim?.([], 10_001))).toBe('VALIDATION');
    expect(await codeOf(() => queue.settleAndClaim?.({} as never, 1))).toBe('VALIDATION');
    expect(await codeOf(() => queue.settleAndClaim?.([], 1, { leaseMs: 0 }))).toBe('VALIDATION');
  });
});
