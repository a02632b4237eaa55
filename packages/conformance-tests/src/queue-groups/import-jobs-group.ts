import type { DocumentValue, Job, JobError, JobEvent, JobQueue, QueueBackend } from '@berth/core';
import { expect } from 'vitest';
import { expectBerthError, invalid, sleep } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { dequeueNow, dequeueSoon, exported, hasQueue, jobOf, jobStats, NO_JOBS, SOON_MS } from './queue-assertions.js';

const at = (iso: string): Date => new Date(iso);

/** What `get()` must give back for an imported job: every field, under the target queue's name. */
function asImported(job: Job<DocumentValue>, queue: JobQueue<DocumentValue>): Job<DocumentValue> {
  return { ...job, queue: queue.name, leaseExpiresAt: undefined };
}

const FAILED_TWICE: readonly JobError[] = [
  { attempt: 1, message: 'smtp timeout', name: 'TimeoutError', at: at('2020-01-01T00:00:00.500Z') },
  { attempt: 2, message: 'mailbox full 𝒳', at: at('2020-01-01T00:00:01.234Z') },
];

/**
 * `queue.importJobs()`: jobs stored as given (state, attempts, times, errors,
 * result, progress), skipped when their id or a live dedupe key is taken,
 * then treated like any other job: delayed, claimed by priority, retried,
 * counted, listed and purged by their own times.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueImportGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueImportGroup, options);
 * ```
 */
export const queueImportGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-import',
  [
    {
      name: 'every field of every importable state round-trips through get()',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const jobs = [
          exported({
            state: 'completed',
            attempts: 1,
            priority: -5,
            result: { sent: true, at: at('2020-01-01T00:00:01.000Z'), big: 2 ** 53 + 2 },
            progress: { done: 10, of: 10 },
            timeoutMs: 45_000,
          }),
          exported({ state: 'dead', attempts: 2, maxAttempts: 2, errors: FAILED_TWICE, dedupeKey: 'mail:ada' }),
          exported({ state: 'cancelled', payload: 'just a string', leaseMs: 5_000 }),
          exported({
            state: 'waiting',
            priority: 1_000_000,
            attempts: 1,
            maxAttempts: 9,
            errors: FAILED_TWICE.slice(0, 1),
            runAt: new Date(Date.now() + 3_600_000),
            dedupeKey: 'report:2020',
            progress: { step: 'half' },
            timeoutMs: 1,
          }),
        ];
        expect(await queue.importJobs(jobs)).toStrictEqual({ imported: 4, skipped: 0 });
        for (const job of jobs) expect(await jobOf(queue, job.id)).toEqual(asImported(job, queue));
        expect(await queue.importJobs([])).toStrictEqual({ imported: 0, skipped: 0 });
      },
    },
    {
      name: 'a waiting job due later is not claimable before its runAt and is claimable after',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const delayMs = 400;
        const runAt = new Date(Date.now() + delayMs);
        const job = exported({ state: 'waiting', runAt });
        await queue.importJobs([job]);
        expect(await queue.dequeue()).toBeNull();
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1 }));
        const { lease, receivedAt } = await dequeueSoon(queue, 'the imported delayed job', {}, delayMs + SOON_MS);
        expect(lease.job.id).toBe(job.id);
        // The first dequeue above found nothing; this only guards against a due time moved earlier.
        expect(receivedAt).toBeGreaterThanOrEqual(runAt.getTime() - 50);
        expect(lease.job.attempts).toBe(1);
      },
    },
    {
      name: 'an imported dead job is retried by retry(id) with fresh attempts, then delivered',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const job = exported({ state: 'dead', attempts: 3, maxAttempts: 3, errors: FAILED_TWICE });
        await queue.importJobs([job]);
        expect(await queue.dequeue()).toBeNull();
        expect(await queue.retry(job.id)).toBe(true);
        const retried = await jobOf(queue, job.id);
        expect(retried.state).toBe('waiting');
        expect(retried.attempts).toBe(0);
        const lease = await dequeueNow(queue);
        expect(lease.job.id).toBe(job.id);
        await queue.complete(lease, 'done');
        expect((await jobOf(queue, job.id)).state).toBe('completed');
      },
    },
    {
      name: 'imported waiting jobs are claimed by priority, then due time, then import order',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const past = (ms: number) => new Date(Date.now() - 60_000 + ms);
        const jobs = [
          exported({ state: 'waiting', priority: 1, runAt: past(0) }),
          exported({ state: 'waiting', priority: 5, runAt: past(20) }),
          exported({ state: 'waiting', priority: 5, runAt: past(10) }),
          exported({ state: 'waiting', priority: 3, runAt: past(0) }),
          exported({ state: 'waiting', priority: -1, runAt: past(0) }),
        ];
        await queue.importJobs(jobs);
        const order: string[] = [];
        for (let index = 0; index < jobs.length; index++) order.push((await dequeueNow(queue)).job.id);
        expect(order).toStrictEqual([2, 1, 3, 0, 4].map((index) => jobs[index]?.id));
      },
    },
    {
      name: 'a job whose id the queue holds is skipped, the stored one untouched',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const { id } = await queue.enqueue({ original: true });
        const before = await jobOf(queue, id);
        const again = exported({ state: 'dead', id, errors: FAILED_TWICE });
        const fresh = exported({ state: 'completed' });
        expect(await queue.importJobs([again, fresh])).toStrictEqual({ imported: 1, skipped: 1 });
        expect(await jobOf(queue, id)).toStrictEqual(before);
        expect(await queue.importJobs([fresh])).toStrictEqual({ imported: 0, skipped: 1 });
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1, completed: 1 }));
      },
    },
    {
      name: 'a waiting job whose dedupe key a live job holds is skipped; a finished one is imported',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const { id } = await queue.enqueue({ live: true }, { dedupeKey: 'k' });
        const clash = exported({ state: 'waiting', dedupeKey: 'k' });
        const finished = exported({ state: 'dead', dedupeKey: 'k', errors: FAILED_TWICE });
        const first = exported({ state: 'waiting', dedupeKey: 'other' });
        const second = exported({ state: 'waiting', dedupeKey: 'other' });
        expect(await queue.importJobs([clash, finished, first, second])).toStrictEqual({ imported: 2, skipped: 2 });
        expect(await queue.get(clash.id)).toBeNull();
        expect(await queue.get(second.id)).toBeNull();
        expect((await jobOf(queue, finished.id)).state).toBe('dead');
        expect((await queue.enqueue({}, { dedupeKey: 'other' })).id).toBe(first.id);
        expect((await queue.enqueue({}, { dedupeKey: 'k' })).id).toBe(id);
      },
    },
    {
      name: 'an active job is VALIDATION and nothing is imported',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const active = exported({
          state: 'active',
          attempts: 1,
          leaseExpiresAt: new Date(Date.now() + 30_000),
        });
        await expectBerthError(queue.importJobs([exported({ state: 'waiting' }), active]), 'VALIDATION', {
          path: '1.state',
        });
        expect(await queue.stats()).toStrictEqual(NO_JOBS);
      },
    },
    {
      name: 'invalid fields are VALIDATION naming the path, and nothing is imported',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const good = exported({ state: 'waiting' });
        const cases: [Partial<Record<keyof Job, unknown>> & { state: unknown }, string][] = [
          [{ state: 'waiting', attempts: -1 }, '1.attempts'],
          [{ state: 'waiting', attempts: 1.5 }, '1.attempts'],
          [{ state: 'waiting', priority: 2 ** 53 }, '1.priority'],
          [{ state: 'waiting', maxAttempts: 0 }, '1.maxAttempts'],
          [{ state: 'waiting', leaseMs: 0 }, '1.leaseMs'],
          [{ state: 'waiting', timeoutMs: -5 }, '1.timeoutMs'],
          [{ state: 'waiting', runAt: new Date(Number.NaN) }, '1.runAt'],
          [{ state: 'waiting', createdAt: '2020-01-01' }, '1.createdAt'],
          [{ state: 'waiting', payload: undefined }, '1.payload'],
          [{ state: 'waiting', payload: { text: 'a\u0000b' } }, '1.payload.text'],
          [{ state: 'waiting', dedupeKey: '' }, '1.dedupeKey'],
          [{ state: 'dead', errors: [{ attempt: 1, message: 'x', at: new Date(Number.NaN) }] }, '1.errors.0.at'],
          [{ state: 'dead', errors: [{ attempt: 1, at: new Date() }] }, '1.errors.0.message'],
          [{ state: 'dead', errors: 'boom' }, '1.errors'],
          [{ state: 'completed', finishedAt: undefined }, '1.finishedAt'],
          [{ state: 'paused' }, '1.state'],
          [{ state: 'waiting', id: '' }, '1.id'],
        ];
        for (const [changes, path] of cases) {
          const bad = invalid<Job<DocumentValue>>({ ...exported({ state: 'waiting' }), ...changes });
          await expectBerthError(queue.importJobs([good, bad]), 'VALIDATION', { path });
        }
        await expectBerthError(queue.importJobs([good, good]), 'VALIDATION', { path: '1.id' });
        await expectBerthError(queue.importJobs(invalid(good)), 'VALIDATION');
        await expectBerthError(queue.importJobs([good], invalid({ signal: 'x' })), 'VALIDATION');
        await expectBerthError(queue.importJobs([good], { signal: AbortSignal.abort() }), 'ABORTED');
        expect(await queue.stats()).toStrictEqual(NO_JOBS);
      },
    },
    {
      name: 'stats() counts imported jobs by state and listJobs lists them',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const jobs = [
          exported({ state: 'waiting' }),
          exported({ state: 'waiting', runAt: new Date(Date.now() + 3_600_000) }),
          exported({ state: 'completed', result: 1 }),
          exported({ state: 'dead', errors: FAILED_TWICE, attempts: 2, maxAttempts: 2 }),
          exported({ state: 'cancelled' }),
        ];
        await queue.importJobs(jobs);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 2, completed: 1, dead: 1, cancelled: 1 }));
        const dead = await queue.listJobs({ state: 'dead' });
        expect(dead.jobs.map((job) => job.id)).toStrictEqual([jobs[3]?.id]);
        const all = await queue.listJobs({ limit: 50 });
        expect(all.jobs.map((job) => job.id).sort()).toStrictEqual(jobs.map((job) => job.id).sort());
      },
    },
    {
      name: 'each imported waiting job emits enqueued with its own runAt; finished and skipped jobs emit nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const held = exported({ state: 'waiting' });
        await queue.importJobs([held]);
        const events: JobEvent[] = [];
        const stop = queue.subscribe((event) => events.push(event));
        try {
          const due = exported({ state: 'waiting', priority: 5 });
          const later = exported({ state: 'waiting', runAt: new Date(Date.now() + 3_600_000) });
          const jobs = [
            due,
            exported({ state: 'completed', result: 1 }),
            later,
            exported({ state: 'dead', errors: FAILED_TWICE, attempts: 2, maxAttempts: 2 }),
            exported({ state: 'cancelled' }),
            held,
          ];
          const before = Date.now();
          expect(await queue.importJobs(jobs)).toStrictEqual({ imported: 5, skipped: 1 });
          await sleep(20);
          expect(events.map((event) => `${event.type}:${event.jobId}`)).toStrictEqual([
            `enqueued:${due.id}`,
            `enqueued:${later.id}`,
          ]);
          for (const [index, job] of [due, later].entries()) {
            const event = events[index] as Extract<JobEvent, { type: 'enqueued' }>;
            expect(event.queue).toBe(queue.name);
            expect(event.runAt).toStrictEqual(job.runAt);
            // The time of the import (the engine's clock), not the job's createdAt.
            expect(event.at.getTime()).toBeGreaterThanOrEqual(before - 2_000);
            expect(event.at.getTime()).toBeLessThanOrEqual(Date.now() + 2_000);
          }
          expect((await dequeueNow(queue)).job.id).toBe(due.id);
          await sleep(5);
          expect(
            events.slice(2).map((event) => `${event.type}@${'attempt' in event ? event.attempt : ''}`),
          ).toStrictEqual(['started@1']);
        } finally {
          stop();
        }
      },
    },
    {
      name: 'purge removes imported finished jobs by their own finishedAt',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const old = exported({ state: 'completed', finishedAt: at('2001-01-01T00:00:00.000Z') });
        const recent = exported({ state: 'completed', finishedAt: new Date(), updatedAt: new Date() });
        await queue.importJobs([old, recent]);
        expect(await queue.purge({ finishedBefore: at('2010-01-01T00:00:00.000Z') })).toBe(1);
        expect(await queue.get(old.id)).toBeNull();
        expect((await jobOf(queue, recent.id)).state).toBe('completed');
      },
    },
  ],
);
