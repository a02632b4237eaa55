import type { DocumentValue, JobQueue, QueueBackend, ScheduleInput, ScheduleRecord, ScheduleTick } from '@berth/core';
import { expect } from 'vitest';
import { expectBerthError, invalid, sleep } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { sameNameQueues } from './admin-fixtures.js';
import { dequeueNow, expectStampedBetween, hasQueue, jobOf, jobStats, NO_JOBS } from './queue-assertions.js';

/** A tick time in the future, whole seconds, so runAt values are easy to tell apart. */
const T0 = new Date(Math.ceil((Date.now() + 3_600_000) / 1_000) * 1_000);
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1_000);

function input(name: string, changes: Partial<ScheduleInput<DocumentValue>> = {}): ScheduleInput<DocumentValue> {
  return {
    name,
    spec: { everyMs: 1_000 },
    payload: { report: name },
    jobOptions: {},
    missed: 'once',
    overlap: 'allow',
    paused: false,
    nextRunAt: at(0),
    ...changes,
  };
}

function tick(runAt: Date, nextRunAt: Date | undefined, enqueue = true): ScheduleTick {
  return { runAt, nextRunAt, enqueue };
}

async function scheduleOf<T>(queue: JobQueue<T>, name: string): Promise<ScheduleRecord<T>> {
  return (await queue.getSchedule(name)) ?? expect.unreachable(`schedule ${name} is missing`);
}

const BAD_NAMES: readonly unknown[] = [
  '',
  'a b',
  "x'; DROP TABLE _berth_schedules; --",
  '../etc',
  'name/with/slash',
  'é',
  'x'.repeat(64),
  '__proto__',
  '_berth',
  '1st',
  'with-dash',
  42,
  null,
  undefined,
];

/**
 * Schedules: `putSchedule`, `getSchedule`, `listSchedules`, `removeSchedule` and `fireSchedule`, versions,
 * validation and the jobs fired.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueScheduleGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueScheduleGroup, options);
 * ```
 */
export const queueScheduleGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-schedules',
  [
    {
      name: 'putSchedule stores a new schedule at version 1 with defaults; get, list (by name) and remove see it',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue();
        const before = Date.now();
        // Only what is required: the rest takes its default.
        const stored = await queue.putSchedule(
          invalid<ScheduleInput<DocumentValue>>({
            name: 'nightly',
            spec: { cron: '0 3 * * *', timezone: 'Europe/Paris' },
            payload: { report: 'sales', at: new Date(0) },
            nextRunAt: at(10),
          }),
        );
        const after = Date.now();
        expect(stored).toMatchObject({
          name: 'nightly',
          spec: { cron: '0 3 * * *', timezone: 'Europe/Paris' },
          payload: { report: 'sales', at: new Date(0) },
          jobOptions: {},
          missed: 'once',
          overlap: 'allow',
          paused: false,
          version: 1,
          lastRunAt: undefined,
          lastJobId: undefined,
        });
        expect(stored.nextRunAt?.getTime()).toBe(at(10).getTime());
        expectStampedBetween(stored.createdAt, before, after, 'createdAt');
        expect(stored.updatedAt.getTime()).toBe(stored.createdAt.getTime());
        expect(await queue.getSchedule('nightly')).toStrictEqual(stored);
        await queue.putSchedule(input('alpha'));
        await queue.putSchedule(input('Zulu'));
        await queue.putSchedule(input('hasOwnProperty'));
        await queue.putSchedule(input('constructor'));
        await queue.putSchedule(input(`x${'y'.repeat(62)}`));
        expect((await queue.listSchedules()).map((record) => record.name)).toStrictEqual([
          'Zulu',
          'alpha',
          'constructor',
          'hasOwnProperty',
          'nightly',
          `x${'y'.repeat(62)}`,
        ]);
        expect((await scheduleOf(queue, 'constructor')).payload).toStrictEqual({ report: 'constructor' });
        expect(await queue.getSchedule('toString')).toBeNull();
        expect(await queue.removeSchedule('nightly')).toBe(true);
        expect(await queue.removeSchedule('nightly')).toBe(false);
        expect(await queue.removeSchedule('never')).toBe(false);
        expect(await queue.getSchedule('nightly')).toBeNull();
        expect(await context.backend.queue(context.queueName('other')).listSchedules()).toStrictEqual([]);
        expect(await queue.stats()).toStrictEqual(NO_JOBS);
      },
    },
    {
      name: 'putSchedule replaces a schedule: version + 1, createdAt, lastRunAt and lastJobId kept, the rest replaced',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue();
        const first = await queue.putSchedule(input('s'));
        const fired = await queue.fireSchedule('s', tick(at(0), at(1)));
        expect(fired.fired).toBe(true);
        const afterFire = await scheduleOf(queue, 's');
        expect(afterFire.version).toBe(2);
        await sleep(5);
        const replaced = await queue.putSchedule(
          input('s', {
            spec: { everyMs: 5_000 },
            payload: 'new payload',
            jobOptions: { priority: 3, timeoutMs: 1_000 },
            overlap: 'skip',
            nextRunAt: at(5),
          }),
        );
        expect(replaced.version).toBe(3);
        expect(replaced.createdAt.getTime()).toBe(first.createdAt.getTime());
        expect(replaced.updatedAt.getTime()).toBeGreaterThan(first.updatedAt.getTime());
        expect(replaced.lastRunAt?.getTime()).toBe(at(0).getTime());
        expect(replaced.lastJobId).toBe(fired.job?.id);
        expect(replaced).toMatchObject({
          spec: { everyMs: 5_000 },
          payload: 'new payload',
          jobOptions: { priority: 3, timeoutMs: 1_000 },
          overlap: 'skip',
        });
        expect(replaced.nextRunAt?.getTime()).toBe(at(5).getTime());
        expect(await queue.getSchedule('s')).toStrictEqual(replaced);
        expect(await queue.fireSchedule('s', tick(at(1), at(2)))).toStrictEqual({ fired: false });
      },
    },
    {
      name: 'invalid schedules and names are VALIDATION and store nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue();
        const bad: unknown[] = [
          ...BAD_NAMES.map((name) => ({ ...input('x'), name })),
          { ...input('x'), spec: { everyMs: 0 } },
          { ...input('x'), spec: { everyMs: 1.5 } },
          { ...input('x'), spec: { cron: '' } },
          { ...input('x'), spec: { cron: '* * * * *', everyMs: 5 } },
          { ...input('x'), spec: 'every minute' },
          { ...input('x'), payload: undefined },
          { ...input('x'), payload: () => 1 },
          { ...input('x'), missed: 'all' },
          { ...input('x'), overlap: 'queue' },
          { ...input('x'), paused: 'yes' },
          { ...input('x'), nextRunAt: new Date(Number.NaN) },
          { ...input('x'), nextRunAt: '2030-01-01' },
          { ...input('x'), jobOptions: { dedupeKey: 'mine' } },
          { ...input('x'), jobOptions: { priority: 1.5 } },
          { ...input('x'), jobOptions: { runAt: new Date() } },
          'schedule',
          null,
        ];
        for (const schedule of bad) {
          await expectBerthError(() => queue.putSchedule(invalid(schedule)), 'VALIDATION');
        }
        for (const name of BAD_NAMES) {
          await expectBerthError(() => queue.getSchedule(invalid(name)), 'VALIDATION');
          await expectBerthError(() => queue.removeSchedule(invalid(name)), 'VALIDATION');
          await expectBerthError(() => queue.fireSchedule(invalid(name), tick(at(0), at(1))), 'VALIDATION');
        }
        expect(await queue.listSchedules()).toStrictEqual([]);
      },
    },
    {
      name: 'fireSchedule on the stored nextRunAt moves the schedule on and enqueues its payload due at the tick, with its job options',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue();
        const past = new Date(Date.now() - 60_000);
        await queue.putSchedule(
          input('s', {
            nextRunAt: past,
            jobOptions: { priority: 7, maxAttempts: 9, leaseMs: 5_000, timeoutMs: 2_000 },
          }),
        );
        const next = new Date(past.getTime() + 1_000);
        const result = await queue.fireSchedule('s', tick(past, next));
        expect(result.fired).toBe(true);
        expect(result.job?.deduplicated).toBe(false);
        const id = result.job?.id ?? expect.unreachable('no job');
        const record = await scheduleOf(queue, 's');
        expect(record.nextRunAt?.getTime()).toBe(next.getTime());
        expect(record.lastRunAt?.getTime()).toBe(past.getTime());
        expect(record.lastJobId).toBe(id);
        expect(record.version).toBe(2);
        const job = await jobOf(queue, id);
        expect(job).toMatchObject({ payload: { report: 's' }, state: 'waiting', priority: 7, maxAttempts: 9 });
        expect(job.leaseMs).toBe(5_000);
        expect(job.timeoutMs).toBe(2_000);
        expect(job.runAt.getTime()).toBe(past.getTime());
        expect((await dequeueNow(queue)).job.id).toBe(id);
      },
    },
    {
      name: 'fireSchedule with any other runAt (1 ms off, an older tick), on a missing or paused schedule, is fired false and changes nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue();
        const stored = await queue.putSchedule(input('s'));
        const paused = await queue.putSchedule(input('p', { paused: true }));
        for (const runAt of [new Date(at(0).getTime() + 1), new Date(at(0).getTime() - 1), at(-1), at(1)]) {
          expect(await queue.fireSchedule('s', tick(runAt, at(5)))).toStrictEqual({ fired: false });
        }
        expect(await queue.fireSchedule('missing', tick(at(0), at(1)))).toStrictEqual({ fired: false });
        expect(await queue.fireSchedule('p', tick(at(0), at(1)))).toStrictEqual({ fired: false });
        expect(await queue.getSchedule('s')).toStrictEqual(stored);
        expect(await queue.getSchedule('p')).toStrictEqual(paused);
        expect(await queue.stats()).toStrictEqual(NO_JOBS);
        await queue.removeSchedule('s');
        expect(await queue.fireSchedule('s', tick(at(0), at(1)))).toStrictEqual({ fired: false });
      },
    },
    {
      name: 'a tick with enqueue false moves the schedule on without a job; a tick without nextRunAt ends the schedule',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue();
        await queue.putSchedule(input('s'));
        const first = await queue.fireSchedule('s', tick(at(0), at(1)));
        const skipped = await queue.fireSchedule('s', tick(at(1), at(2), false));
        expect(skipped.fired).toBe(true);
        expect(skipped.job).toBeUndefined();
        const record = await scheduleOf(queue, 's');
        expect(record.nextRunAt?.getTime()).toBe(at(2).getTime());
        expect(record.lastRunAt?.getTime()).toBe(at(1).getTime());
        expect(record.lastJobId).toBe(first.job?.id);
        expect(record.version).toBe(3);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1 }));
        const last = await queue.fireSchedule('s', tick(at(2), undefined));
        expect(last.fired).toBe(true);
        expect((await scheduleOf(queue, 's')).nextRunAt).toBeUndefined();
        expect(await queue.fireSchedule('s', tick(at(3), at(4)))).toStrictEqual({ fired: false });
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 2 }));
      },
    },
    {
      name: "overlap skip: a tick while the previous tick's job is live is fired but deduplicated onto that job; once it finishes, a new job",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue();
        await queue.putSchedule(input('s', { overlap: 'skip' }));
        const first = await queue.fireSchedule('s', tick(at(0), at(1)));
        expect(first.job?.deduplicated).toBe(false);
        const second = await queue.fireSchedule('s', tick(at(1), at(2)));
        expect(second).toStrictEqual({ fired: true, job: { id: first.job?.id, deduplicated: true } });
        expect((await scheduleOf(queue, 's')).lastJobId).toBe(first.job?.id);
        await queue.putSchedule(input('other', { overlap: 'skip', nextRunAt: at(0) }));
        const other = await queue.fireSchedule('other', tick(at(0), at(1)));
        expect(other.job?.deduplicated, 'schedules share a dedupe key').toBe(false);
        expect(await queue.cancel(first.job?.id as string)).toBe(true);
        const third = await queue.fireSchedule('s', tick(at(2), at(3)));
        expect(third.job?.deduplicated).toBe(false);
        expect(third.job?.id).not.toBe(first.job?.id);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 2, cancelled: 1 }));
        await queue.putSchedule(input('allow'));
        const a = await queue.fireSchedule('allow', tick(at(0), at(1)));
        const b = await queue.fireSchedule('allow', tick(at(1), at(2)));
        expect(a.job?.deduplicated).toBe(false);
        expect(b.job?.deduplicated).toBe(false);
      },
    },
    {
      name: 'an invalid tick is VALIDATION and changes nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue();
        const stored = await queue.putSchedule(input('s'));
        for (const bad of [
          { runAt: at(0), nextRunAt: at(0), enqueue: true },
          { runAt: at(0), nextRunAt: at(-1), enqueue: true },
          { runAt: at(0), nextRunAt: at(1) },
          { runAt: at(0), nextRunAt: at(1), enqueue: 'yes' },
          { runAt: new Date(Number.NaN), nextRunAt: at(1), enqueue: true },
          { runAt: at(0).toISOString(), nextRunAt: at(1), enqueue: true },
          { nextRunAt: at(1), enqueue: true },
          null,
        ]) {
          await expectBerthError(() => queue.fireSchedule('s', invalid(bad)), 'VALIDATION');
        }
        expect(await queue.getSchedule('s')).toStrictEqual(stored);
        expect(await queue.stats()).toStrictEqual(NO_JOBS);
      },
    },
    {
      name: 'two schedulers racing on one tick (queue objects of one backend, and two backends where the run opens one): exactly one fires',
      requires: hasQueue,
      async run(context) {
        const name = context.queueName('q');
        const { queues } = await sameNameQueues<DocumentValue>(context, name);
        const queue = queues[0] as JobQueue<DocumentValue>;
        await queue.putSchedule(input('race', { nextRunAt: at(0) }));
        const jobIds: string[] = [];
        for (let round = 0; round < 8; round++) {
          const results = await Promise.all(
            Array.from({ length: 6 }, () => queues).flatMap((all) =>
              all.map((target) => target.fireSchedule('race', tick(at(round), at(round + 1)))),
            ),
          );
          const fired = results.filter((result) => result.fired);
          expect(fired, `round ${round}: fired ${fired.length} times`).toHaveLength(1);
          jobIds.push(fired[0]?.job?.id as string);
        }
        expect(new Set(jobIds).size).toBe(8);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 8 }));
        const record = await scheduleOf(queue, 'race');
        expect(record.version).toBe(9);
        expect(record.nextRunAt?.getTime()).toBe(at(8).getTime());
        for (const other of queues) expect(await other.getSchedule('race')).toStrictEqual(record);
      },
    },
    {
      name: 'a schedule changed between reading it and firing it is not fired with the stale tick; the new one fires',
      requires: hasQueue,
      async run(context) {
        const { queues } = await sameNameQueues<DocumentValue>(context, context.queueName('q'));
        const [a, b] = queues as [JobQueue<DocumentValue>, JobQueue<DocumentValue>];
        await a.putSchedule(input('s', { nextRunAt: at(0) }));
        const seen = await scheduleOf(a, 's');
        await (queues.at(-1) as JobQueue<DocumentValue>).putSchedule(input('s', { nextRunAt: at(30) }));
        expect(await a.fireSchedule('s', tick(seen.nextRunAt as Date, at(1)))).toStrictEqual({ fired: false });
        expect((await b.fireSchedule('s', tick(at(30), at(31)))).fired).toBe(true);
        await b.putSchedule(input('s', { nextRunAt: at(31), paused: true }));
        expect(await a.fireSchedule('s', tick(at(31), at(32)))).toStrictEqual({ fired: false });
        expect(await a.stats()).toStrictEqual(jobStats({ waiting: 1 }));
      },
    },
  ],
);
