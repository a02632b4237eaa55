import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBackend } from '@berth/adapter-memory';
import { SqliteBackend } from '@berth/adapter-sqlite';
import { type DocumentValue, isBerthError, type Job, type JobQueue, type QueueBackend } from '@berth/core';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { nextRuns } from './schedule-spec.js';
import { planTick, type Scheduler, type SchedulerOptions, startScheduler } from './scheduler.js';
import { setSchedule } from './set-schedule.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

async function validationPath(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isBerthError(error, 'VALIDATION')) return error.path;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

/** Takes every due job off the queue (the scheduled jobs are due at their tick), by tick. */
async function drain<T>(queue: JobQueue<T>): Promise<Job<T>[]> {
  const jobs: Job<T>[] = [];
  for (;;) {
    const leases = await queue.dequeueMany(10_000);
    if (leases.length === 0) break;
    jobs.push(...leases.map((lease) => lease.job));
  }
  return jobs.sort((a, b) => a.runAt.getTime() - b.runAt.getTime());
}

/** Exactly one job per tick, and no tick missing between the first and the last. */
function expectOnePerTick(jobs: readonly Job<unknown>[], stepMs: number): void {
  const ticks = jobs.map((job) => job.runAt.getTime());
  expect(new Set(ticks).size).toBe(ticks.length);
  for (let index = 1; index < ticks.length; index++) {
    expect((ticks[index] as number) - (ticks[index - 1] as number)).toBe(stepMs);
  }
}

const directory = mkdtempSync(join(tmpdir(), 'berth-scheduler-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;

// Each case runs on both engines: the memory engine, and a SQLite file.
const ENGINES: readonly [string, () => QueueBackend][] = [
  ['memory', () => new MemoryBackend()],
  ['sqlite', () => new SqliteBackend({ filename: join(directory, `${++files}.db`) })],
];

let backend: QueueBackend;
const running: Scheduler[] = [];
function start<T>(queue: JobQueue<T>, options: SchedulerOptions = {}): Scheduler {
  const scheduler = startScheduler(queue, { onError: (error) => console.error(error), ...options });
  running.push(scheduler);
  return scheduler;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((scheduler) => scheduler.close()));
  await backend?.close();
});

describe.each(ENGINES)('%s', (_engine, open) => {
  function fresh(): JobQueue<DocumentValue> {
    backend = open();
    return backend.queue('ticks');
  }

  describe('setSchedule', () => {
    it('stores the spec and the first tick after now, in the time zone', async () => {
      const queue = fresh();
      const before = new Date();
      const record = await setSchedule(queue, {
        name: 'paris_morning',
        cron: '0 9 * * 1-5',
        timezone: 'Europe/Paris',
        payload: { kind: 'report' },
        jobOptions: { priority: 3, maxAttempts: 2 },
      });
      expect(record).toMatchObject({
        name: 'paris_morning',
        spec: { cron: '0 9 * * 1-5', timezone: 'Europe/Paris' },
        payload: { kind: 'report' },
        jobOptions: { priority: 3, maxAttempts: 2 },
        missed: 'once',
        overlap: 'allow',
        paused: false,
        version: 1,
      });
      const [expected] = nextRuns(record.spec, before, 1);
      expect(record.nextRunAt).toEqual(expected);
      expect(await queue.getSchedule('paris_morning')).toEqual(record);
    });

    it('keeps the stored next tick when the timing is unchanged, even a past one', async () => {
      const queue = fresh();
      const past = new Date(Date.now() - 3 * 3_600_000);
      await queue.putSchedule({
        name: 'hourly',
        spec: { cron: '0 * * * *' },
        payload: 1,
        jobOptions: {},
        missed: 'once',
        overlap: 'allow',
        paused: false,
        nextRunAt: past,
      });
      const updated = await setSchedule(queue, { name: 'hourly', cron: '0 * * * *', timezone: 'UTC', payload: 2 });
      expect(updated.nextRunAt).toEqual(past);
      expect(updated.payload).toBe(2);
      expect(updated.version).toBe(2);

      const retimed = await setSchedule(queue, { name: 'hourly', cron: '30 * * * *', payload: 2 });
      expect(retimed.nextRunAt?.getUTCMinutes()).toBe(30);
      expect(retimed.nextRunAt?.getTime()).toBeGreaterThan(Date.now());
      const rezoned = await setSchedule(queue, {
        name: 'hourly',
        cron: '30 * * * *',
        timezone: 'Asia/Kolkata',
        payload: 2,
      });
      // 30 past the hour in Kolkata (UTC+05:30) is on the hour in UTC.
      expect(rezoned.nextRunAt?.getUTCMinutes()).toBe(0);
      const interval = await setSchedule(queue, { name: 'hourly', everyMs: 60_000, payload: 2 });
      expect(interval.spec).toEqual({ everyMs: 60_000 });
      expect((interval.nextRunAt?.getTime() ?? 0) % 60_000).toBe(0);
    });

    it('a paused schedule has no next tick; resuming starts from now', async () => {
      const queue = fresh();
      const paused = await setSchedule(queue, { name: 'p', everyMs: 1_000, payload: null, paused: true });
      expect(paused.paused).toBe(true);
      expect(paused.nextRunAt).toBeUndefined();
      const resumed = await setSchedule(queue, { name: 'p', everyMs: 1_000, payload: null });
      expect(resumed.nextRunAt?.getTime()).toBeGreaterThan(Date.now() - 5);
    });

    it('rejects bad definitions with a ValidationError naming the field, storing nothing', async () => {
      const queue = fresh();
      const ok = { name: 's', payload: null } as const;
      expect(await validationPath(setSchedule(queue, { ...ok, cron: '* * *' }))).toBe('cron');
      expect(await validationPath(setSchedule(queue, { ...ok, cron: '0 0 * * *', timezone: 'Nowhere/Land' }))).toBe(
        'timezone',
      );
      expect(await validationPath(setSchedule(queue, { ...ok, everyMs: 0 }))).toBe('everyMs');
      expect(
        await validationPath(
          setSchedule(queue, { ...ok, cron: '* * * * *', everyMs: 5 } as unknown as {
            name: 's';
            payload: null;
            cron: string;
          }),
        ),
      ).toBe('cron');
      expect(await validationPath(setSchedule(queue, null as never))).toBe('');
      for (const name of ["x'; DROP TABLE berth_jobs; --", '../etc', '', 'a'.repeat(129), 'with space']) {
        await expect(setSchedule(queue, { name, everyMs: 1_000, payload: null })).rejects.toSatisfy((error) =>
          isBerthError(error, 'VALIDATION'),
        );
      }
      expect(await validationPath(setSchedule(queue, { name: 's', everyMs: 1_000, payload: undefined as never }))).toBe(
        'payload',
      );
      expect(await validationPath(setSchedule(queue, { ...ok, everyMs: 1_000, missed: 'twice' as 'once' }))).toBe(
        'missed',
      );
      expect(
        await validationPath(setSchedule(queue, { ...ok, everyMs: 1_000, jobOptions: { maxAttempts: 0 } })),
      ).toMatch(/^jobOptions\./);
      expect(await queue.listSchedules()).toEqual([]);
    });
  });

  describe('startScheduler', () => {
    it('fires interval ticks on time, one job per tick, carrying the tick', async () => {
      const queue = fresh();
      await setSchedule(queue, { name: 'fast', everyMs: 100, payload: { n: 1 }, jobOptions: { priority: 2 } });
      // A long poll interval: the scheduler must wake for the tick itself.
      start(queue, { pollIntervalMs: 5_000 });
      await sleep(750);
      const jobs = await drain(queue);
      expect(jobs.length).toBeGreaterThanOrEqual(5);
      expectOnePerTick(jobs, 100);
      for (const job of jobs) {
        expect(job.runAt.getTime() % 100).toBe(0);
        expect(job.payload).toEqual({ n: 1 });
        expect(job.priority).toBe(2);
        // Never before the tick.
        expect(job.createdAt.getTime()).toBeGreaterThanOrEqual(job.runAt.getTime());
      }
      const lateness = jobs.map((job) => job.createdAt.getTime() - job.runAt.getTime()).sort((a, b) => a - b);
      expect(lateness[Math.floor(lateness.length / 2)]).toBeLessThan(100);
      const schedule = await queue.getSchedule('fast');
      expect(schedule?.lastJobId).toBe(jobs.at(-1)?.id);
    });

    it('fires a six-field cron every second in a time zone', async () => {
      const queue = fresh();
      await setSchedule(queue, { name: 'second', cron: '* * * * * *', timezone: 'America/New_York', payload: 's' });
      start(queue);
      await sleep(2_300);
      const jobs = await drain(queue);
      expect(jobs.length).toBeGreaterThanOrEqual(2);
      expectOnePerTick(jobs, 1_000);
      for (const job of jobs) expect(job.runAt.getTime() % 1_000).toBe(0);
    });

    it('missed ticks after downtime: once enqueues one job, dated at the first missed tick', async () => {
      const queue = fresh();
      const hourAgo3 = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000);
      for (const [name, missed] of [
        ['once', 'once'],
        ['skip', 'skip'],
      ] as const) {
        await queue.putSchedule({
          name,
          spec: { cron: '0 * * * *' },
          payload: name,
          jobOptions: {},
          missed,
          overlap: 'allow',
          paused: false,
          nextRunAt: hourAgo3,
        });
      }
      start(queue, { pollIntervalMs: 50 });
      await until(async () => (await queue.listSchedules()).every((schedule) => schedule.lastRunAt !== undefined));
      const nextHour = nextRuns({ cron: '0 * * * *' }, new Date(), 1)[0];
      for (const schedule of await queue.listSchedules()) {
        expect(schedule.lastRunAt).toEqual(hourAgo3);
        expect(schedule.nextRunAt).toEqual(nextHour);
      }
      await sleep(200);
      const jobs = await drain(queue);
      expect(jobs.map((job) => [job.payload, job.runAt])).toEqual([['once', hourAgo3]]);
      expect((await queue.getSchedule('skip'))?.lastJobId).toBeUndefined();
    });

    it('a scheduler stopped and restarted applies missed to the ticks it did not see', async () => {
      const queue = fresh();
      await setSchedule(queue, { name: 'down', everyMs: 50, payload: null, missed: 'skip' });
      const first = start(queue, { missedAfterMs: 300 });
      await sleep(300);
      await first.close();
      const before = await drain(queue);
      expect(before.length).toBeGreaterThanOrEqual(3);
      await sleep(800); // down: about sixteen ticks pass
      const restartedAt = Date.now();
      start(queue, { missedAfterMs: 300 });
      await sleep(300);
      const after = await drain(queue);
      // skip: no job for the ticks of the downtime; the next ones run as usual.
      expect(after.length).toBeGreaterThanOrEqual(3);
      for (const job of after) expect(job.runAt.getTime()).toBeGreaterThan(restartedAt - 5);
      expectOnePerTick(after, 50);
    });

    it('a scheduler behind by less than missedAfterMs enqueues every tick', async () => {
      const queue = fresh();
      const secondAgo = new Date(Math.floor(Date.now() / 100) * 100 - 1_000);
      await queue.putSchedule({
        name: 'late',
        spec: { everyMs: 100 },
        payload: null,
        jobOptions: {},
        missed: 'skip',
        overlap: 'allow',
        paused: false,
        nextRunAt: secondAgo,
      });
      start(queue);
      await sleep(300);
      const jobs = await drain(queue);
      expect(jobs[0]?.runAt).toEqual(secondAgo);
      expect(jobs.length).toBeGreaterThanOrEqual(12);
      expectOnePerTick(jobs, 100);
    });

    it('takes a change of timing or payload without a restart, neither skipping nor repeating a tick', async () => {
      const queue = fresh();
      await setSchedule(queue, { name: 'change', cron: '0 0 1 1 *', timezone: 'Pacific/Auckland', payload: { v: 1 } });
      start(queue, { pollIntervalMs: 100 });
      await sleep(150);
      expect(await drain(queue)).toEqual([]);
      await setSchedule(queue, { name: 'change', everyMs: 100, payload: { v: 1 } });
      await sleep(450);
      await setSchedule(queue, { name: 'change', everyMs: 100, payload: { v: 2 } });
      await sleep(450);
      const jobs = await drain(queue);
      expectOnePerTick(jobs, 100);
      const payloads = jobs.map((job) => (job.payload as { v: number }).v);
      expect(payloads.filter((v) => v === 1).length).toBeGreaterThanOrEqual(3);
      expect(payloads.filter((v) => v === 2).length).toBeGreaterThanOrEqual(3);
      expect(payloads).toEqual([...payloads].sort());
    });

    it('stops firing a schedule removed or paused while it runs, and resumes it from now', async () => {
      const queue = fresh();
      await setSchedule(queue, { name: 'gone', everyMs: 50, payload: 'gone' });
      await setSchedule(queue, { name: 'rest', everyMs: 50, payload: 'rest' });
      start(queue, { pollIntervalMs: 100 });
      await sleep(200);
      expect(await queue.removeSchedule('gone')).toBe(true);
      await setSchedule(queue, { name: 'rest', everyMs: 50, payload: 'rest', paused: true });
      await sleep(20); // a tick in flight when they changed
      await drain(queue);
      await sleep(300);
      expect(await drain(queue)).toEqual([]);
      const resumedAt = Date.now();
      await setSchedule(queue, { name: 'rest', everyMs: 50, payload: 'rest' });
      await sleep(400); // seen within pollIntervalMs
      const jobs = await drain(queue);
      expect(jobs.length).toBeGreaterThanOrEqual(3);
      for (const job of jobs) {
        expect(job.payload).toBe('rest');
        expect(job.runAt.getTime()).toBeGreaterThan(resumedAt);
      }
    });

    it('two schedulers racing on one backend enqueue each tick exactly once', async () => {
      const queue = fresh();
      await setSchedule(queue, { name: 'race', everyMs: 20, payload: null });
      const other = backend.queue('ticks');
      for (let index = 0; index < 2; index++) {
        start(queue, { pollIntervalMs: 5 });
        start(other, { pollIntervalMs: 5 });
      }
      await sleep(1_000);
      await Promise.all(running.splice(0).map((scheduler) => scheduler.close()));
      const jobs = await drain(queue);
      expect(jobs.length).toBeGreaterThanOrEqual(25);
      expectOnePerTick(jobs, 20);
    });

    it('a tick written back by a setSchedule that raced with it is not enqueued again', async () => {
      const queue = fresh();
      const tick = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
      const input = {
        name: 'stale',
        spec: { cron: '0 * * * *' },
        payload: null,
        jobOptions: {},
        missed: 'once',
        overlap: 'allow',
        paused: false,
        nextRunAt: tick,
      } as const;
      await queue.putSchedule(input);
      const first = start(queue, { pollIntervalMs: 20, missedAfterMs: 86_400_000 });
      await until(async () => (await queue.getSchedule('stale'))?.lastRunAt !== undefined);
      await first.close();
      // What a setSchedule that read the schedule before the tick fired writes.
      await queue.putSchedule({ ...input, payload: 'changed' });
      start(queue, { pollIntervalMs: 20, missedAfterMs: 86_400_000 });
      await until(async () => ((await queue.getSchedule('stale'))?.nextRunAt?.getTime() ?? 0) > tick.getTime());
      const jobs = await drain(queue);
      expect(jobs.map((job) => job.runAt)).toEqual([tick]);
    });

    it('overlap skip: no new job while the last one waits', async () => {
      const queue = fresh();
      await setSchedule(queue, { name: 'single', everyMs: 50, payload: null, overlap: 'skip' });
      start(queue);
      await sleep(300);
      const schedule = await queue.getSchedule('single');
      const jobs = await drain(queue);
      expect(jobs).toHaveLength(1);
      expect(schedule?.lastJobId).toBe(jobs[0]?.id);
      expect(schedule?.lastRunAt?.getTime()).toBeGreaterThan(jobs[0]?.runAt.getTime() ?? 0);
    });

    it('reports a schedule it cannot compute once, and keeps firing the others', async () => {
      const queue = fresh();
      // Stored without setSchedule, so croner never checked it.
      await queue.putSchedule({
        name: 'broken',
        spec: { cron: '99 * * * *' },
        payload: null,
        jobOptions: {},
        missed: 'once',
        overlap: 'allow',
        paused: false,
        nextRunAt: new Date(Date.now() - 1_000),
      });
      await setSchedule(queue, { name: 'fine', everyMs: 50, payload: null });
      const errors: [unknown, string | undefined][] = [];
      start(queue, { pollIntervalMs: 20, onError: (error, schedule) => errors.push([error, schedule]) });
      await sleep(300);
      expect(errors).toHaveLength(1);
      expect(errors[0]?.[1]).toBe('broken');
      expect(isBerthError(errors[0]?.[0], 'VALIDATION')).toBe(true);
      expect((await drain(queue)).length).toBeGreaterThanOrEqual(4);
    });

    it('stops once, reporting it, when the backend closes', async () => {
      const queue = fresh();
      await setSchedule(queue, { name: 'x', everyMs: 1_000, payload: null });
      const errors: unknown[] = [];
      const scheduler = start(queue, { pollIntervalMs: 10, onError: (error) => errors.push(error) });
      await sleep(50);
      await backend.close();
      await sleep(200);
      expect(errors).toHaveLength(1);
      expect(isBerthError(errors[0], 'CONNECTION')).toBe(true);
      await scheduler.close();
    });

    it('closes on abort, on dispose and on close, idempotently; checks its options', async () => {
      const queue = fresh();
      await setSchedule(queue, { name: 'a', everyMs: 20, payload: null });
      const controller = new AbortController();
      start(queue, { signal: controller.signal });
      await sleep(100);
      controller.abort();
      await sleep(10);
      await drain(queue);
      await sleep(100);
      expect(await drain(queue)).toEqual([]);

      const aborted = AbortSignal.abort();
      start(queue, { signal: aborted });
      {
        await using disposed = startScheduler(queue);
        void disposed;
      }
      const closed = start(queue);
      await Promise.all([closed.close(), closed.close()]);
      await sleep(100);
      expect(await drain(queue)).toEqual([]);

      for (const [options, path] of [
        [{ pollIntervalMs: 0 }, 'pollIntervalMs'],
        [{ pollIntervalMs: 1.5 }, 'pollIntervalMs'],
        [{ missedAfterMs: -1 }, 'missedAfterMs'],
        [{ onError: 'log' }, 'onError'],
        [{ signal: {} }, 'signal'],
      ] as const) {
        expect(() => startScheduler(queue, options as SchedulerOptions)).toThrow(
          expect.objectContaining({ code: 'VALIDATION', path }),
        );
      }
    });
  });
});

describe('planTick', () => {
  const hourly = { spec: { cron: '0 * * * *' }, missed: 'once', lastRunAt: undefined } as const;
  const at = (text: string) => new Date(text);

  it('an on-time or slightly late tick enqueues and moves to the following tick', () => {
    expect(planTick(hourly, at('2026-01-01T10:00:00Z'), Date.parse('2026-01-01T10:00:00.004Z'), 10_000)).toEqual({
      runAt: at('2026-01-01T10:00:00Z'),
      nextRunAt: at('2026-01-01T11:00:00Z'),
      enqueue: true,
    });
    const everySecond = { ...hourly, spec: { cron: '* * * * * *' } };
    expect(planTick(everySecond, at('2026-01-01T10:00:00Z'), Date.parse('2026-01-01T10:00:03.5Z'), 10_000)).toEqual({
      runAt: at('2026-01-01T10:00:00Z'),
      nextRunAt: at('2026-01-01T10:00:01Z'),
      enqueue: true,
    });
  });

  it('missed ticks: once enqueues one job, skip none; both move to the first tick after now', () => {
    const now = Date.parse('2026-01-01T13:20:00Z');
    expect(planTick(hourly, at('2026-01-01T10:00:00Z'), now, 10_000)).toEqual({
      runAt: at('2026-01-01T10:00:00Z'),
      nextRunAt: at('2026-01-01T14:00:00Z'),
      enqueue: true,
    });
    expect(planTick({ ...hourly, missed: 'skip' }, at('2026-01-01T10:00:00Z'), now, 10_000).enqueue).toBe(false);
  });

  it('a tick at or before the last one fired is moved past without a job', () => {
    const fired = { ...hourly, lastRunAt: at('2026-01-01T10:00:00Z') };
    expect(planTick(fired, at('2026-01-01T10:00:00Z'), Date.parse('2026-01-01T10:00:01Z'), 10_000)).toEqual({
      runAt: at('2026-01-01T10:00:00Z'),
      nextRunAt: at('2026-01-01T11:00:00Z'),
      enqueue: false,
    });
  });
});

describe('the logger', () => {
  it('hears the errors when there is no onError, and the console hears nothing', async () => {
    const backend = new MemoryBackend();
    const queue = backend.queue<DocumentValue>('logged');
    await setSchedule(queue, { name: 'x', everyMs: 1_000, payload: null });
    const lines: [string, unknown][] = [];
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const logger = {
        warn: (message: string) => lines.push([message, undefined]),
        error: (message: string, details?: { readonly error?: unknown }) => lines.push([message, details?.error]),
      };
      const scheduler = start(queue, { pollIntervalMs: 10, onError: undefined, logger });
      await sleep(50);
      await backend.close();
      await sleep(200);
      await scheduler.close();
      expect(lines).toHaveLength(1);
      expect(lines[0]?.[0]).toBe('berth scheduler on queue logged');
      expect(isBerthError(lines[0]?.[1], 'CONNECTION')).toBe(true);
      expect(printed).not.toHaveBeenCalled();
    } finally {
      printed.mockRestore();
    }
  });
});
