import { isBerthError, type Job } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, rawClient, rejection, requireRedis, uniqueKeyPrefix } from '../fixtures/redis-server.js';
import { RedisBackend } from '../redis-backend.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from '../redis-scan.js';

const prefixes: string[] = [];
const backends: RedisBackend[] = [];
const checker = rawClient();
beforeAll(async () => {
  await requireRedis();
  await checker.connect();
});
afterAll(async () => {
  for (const backend of backends) await backend.close();
  for (const prefix of prefixes) {
    await forEachKeyBatch(checker, prefixPattern(prefix), unlinkKeys, undefined, 'cleanup');
  }
  checker.disconnect();
});

function open(keyPrefix = uniqueKeyPrefix('import_jobs')): RedisBackend {
  if (!prefixes.includes(keyPrefix)) prefixes.push(keyPrefix);
  const backend = new RedisBackend({ url: REDIS_URL, keyPrefix });
  backends.push(backend);
  return backend;
}

const HOUR = 3_600_000;

function job(id: string, overrides: Partial<Job<{ n: number }>> = {}): Job<{ n: number }> {
  const now = Date.now();
  return {
    id,
    queue: 'elsewhere',
    payload: { n: 1 },
    state: 'waiting',
    priority: 0,
    attempts: 0,
    maxAttempts: 3,
    runAt: new Date(now - 1_000),
    dedupeKey: undefined,
    leaseMs: 30_000,
    errors: [],
    result: undefined,
    progress: undefined,
    timeoutMs: undefined,
    createdAt: new Date(now - HOUR),
    updatedAt: new Date(now - HOUR / 2),
    finishedAt: undefined,
    leaseExpiresAt: undefined,
    ...overrides,
  };
}

describe('RedisJobQueue.importJobs', () => {
  it('stores every field as given, in the state given, and the queue counts, lists and claims them', async () => {
    const backend = open();
    const queue = backend.queue<{ n: number }>('jobs');
    const finishedAt = new Date(Date.now() - 2 * HOUR);
    const dead = job('dead1', {
      state: 'dead',
      payload: { n: 2 ** 53 + 2 },
      attempts: 3,
      errors: [
        { attempt: 1, message: 'boom \u{1F600}', name: 'TypeError', at: new Date(5) },
        { attempt: 2, message: '', name: undefined, at: new Date(6) },
      ],
      progress: { step: 'é' } as never,
      timeoutMs: 1_234,
      dedupeKey: 'k',
      finishedAt,
    });
    const completed = job('done1', { state: 'completed', result: { ok: true, at: new Date(7) } as never, finishedAt });
    const later = job('later', { runAt: new Date(Date.now() + HOUR), priority: 5 });
    const low = job('low', { priority: -1, attempts: 1 });
    const high = job('high', { priority: 10, leaseMs: 999, dedupeKey: 'k' });
    const cancelled = job('gone', { state: 'cancelled', finishedAt: new Date(Date.now() - HOUR / 2) });
    const result = await queue.importJobs([dead, completed, later, low, high, cancelled]);
    expect(result).toStrictEqual({ imported: 6, skipped: 0 });
    expect(await queue.get('dead1')).toStrictEqual({ ...dead, queue: 'jobs' });
    expect(await queue.get('done1')).toStrictEqual({ ...completed, queue: 'jobs' });
    expect(await queue.get('gone')).toStrictEqual({ ...cancelled, queue: 'jobs' });
    expect(await queue.stats()).toStrictEqual({ waiting: 3, active: 0, completed: 1, dead: 1, cancelled: 1 });
    expect((await queue.listJobs({ state: 'waiting' })).jobs.map((listed) => listed.id).sort()).toStrictEqual([
      'high',
      'later',
      'low',
    ]);
    // Due jobs are claimed by priority; the delayed one is not due.
    const leases = await queue.dequeueMany(5);
    expect(leases.map((lease) => lease.job.id)).toStrictEqual(['high', 'low']);
    expect(leases[1]?.job.attempts).toBe(2);
    expect(leases[0]?.job.leaseMs).toBe(999);
    // The imported dead job retries (once the live job holding its dedupe key is done).
    await queue.complete(leases[0] as never);
    expect(await queue.retry('dead1')).toBe(true);
    expect((await queue.get('dead1'))?.state).toBe('waiting');
    // Purge goes by the imported finishedAt.
    expect(await queue.purge({ finishedBefore: new Date(Date.now() - HOUR), states: ['completed'] })).toBe(1);
    expect(await queue.get('done1')).toBeNull();
  });

  it('skips ids the queue holds and waiting jobs whose dedupe key a live job holds, in the same call too', async () => {
    const backend = open();
    const queue = backend.queue<{ n: number }>('jobs');
    const { id } = await queue.enqueue({ n: 0 }, { dedupeKey: 'live' });
    const stored = await queue.get(id);
    const result = await queue.importJobs([
      job(id, { payload: { n: 9 } }),
      job('a', { dedupeKey: 'live' }),
      job('b', { dedupeKey: 'fresh' }),
      job('c', { dedupeKey: 'fresh' }),
      job('d', { dedupeKey: 'live', state: 'dead', finishedAt: new Date() }),
    ]);
    expect(result).toStrictEqual({ imported: 2, skipped: 3 });
    expect(await queue.get(id)).toStrictEqual(stored);
    expect(await queue.get('a')).toBeNull();
    expect((await queue.get('d'))?.state).toBe('dead');
    // Ids are per queue: another queue imports the same id.
    expect(await backend.queue('other').importJobs([job(id)])).toStrictEqual({ imported: 1, skipped: 0 });
    expect(await queue.importJobs([])).toStrictEqual({ imported: 0, skipped: 0 });
  });

  it('refuses active jobs and invalid fields, naming the path, and imports nothing then', async () => {
    const queue = open().queue<{ n: number }>('jobs');
    const cases: [Partial<Job<{ n: number }>>, string][] = [
      [{ state: 'active' }, '1.state'],
      [{ state: 'paused' as never }, '1.state'],
      [{ attempts: -1 }, '1.attempts'],
      [{ attempts: 1.5 }, '1.attempts'],
      [{ maxAttempts: 0 }, '1.maxAttempts'],
      [{ priority: 2 ** 53 }, '1.priority'],
      [{ leaseMs: 0 }, '1.leaseMs'],
      [{ runAt: new Date(Number.NaN) }, '1.runAt'],
      [{ createdAt: 'yesterday' as never }, '1.createdAt'],
      [{ finishedAt: new Date(Number.NaN), state: 'dead' }, '1.finishedAt'],
      [{ errors: [{ attempt: 1, message: 'x', at: 3 as never }] }, '1.errors.0.at'],
      [{ errors: 'none' as never }, '1.errors'],
      [{ payload: undefined as never }, '1.payload'],
      [{ payload: { n: Number.NaN } }, '1.payload.n'],
      [{ dedupeKey: '' }, '1.dedupeKey'],
      [{ id: '' }, '1.id'],
      [{ id: 'ok' }, '1.id'],
      [{ state: 'dead' }, '1.finishedAt'],
      [{ finishedAt: new Date() }, '1.finishedAt'],
    ];
    for (const [overrides, path] of cases) {
      const error = await rejection(queue.importJobs([job('ok'), job('bad', overrides)]));
      expect(isBerthError(error, 'VALIDATION') && error.path, path).toBe(path);
    }
    expect(await queue.stats()).toStrictEqual({ waiting: 0, active: 0, completed: 0, dead: 0, cancelled: 0 });
  });
});

describe('RedisBackend.queues', () => {
  it('lists queues holding jobs or schedules from another backend, sorted, and not emptied ones', async () => {
    const first = open();
    await first.queue('b_jobs').enqueue({ n: 1 });
    await first.queue('Alpha').importJobs([job('x', { state: 'completed', finishedAt: new Date() })]);
    await first.queue('sched').putSchedule({
      name: 'nightly',
      spec: { everyMs: 60_000 },
      payload: { n: 1 },
      jobOptions: {},
      missed: 'once',
      overlap: 'skip',
      paused: false,
      nextRunAt: undefined,
    });
    const emptied = first.queue('emptied');
    const { id } = await emptied.enqueue({ n: 1 });
    await emptied.cancel(id);
    await emptied.purge({ finishedBefore: new Date(Date.now() + HOUR) });
    first.queue('only_opened');
    await first.repository('notes').insert({ id: 'n' });
    const second = open(first.keyPrefix);
    expect(await second.queues()).toStrictEqual(['Alpha', 'b_jobs', 'sched']);
    expect(await open().queues()).toStrictEqual([]);
    expect(isBerthError(await rejection(second.queues({ signal: AbortSignal.abort() })), 'ABORTED')).toBe(true);
    expect(isBerthError(await rejection((async () => second.queue('a}:x'))()), 'VALIDATION')).toBe(true);
  });
});
