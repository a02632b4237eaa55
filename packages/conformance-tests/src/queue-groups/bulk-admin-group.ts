import type {
  BulkJobsOptions,
  BulkJobsResult,
  DocumentValue,
  JobQueue,
  QueueBackend,
  RetryJobsOptions,
} from '@berth/core';
import { expect } from 'vitest';
import { expectBerthError, invalid } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { jobInState, jobsById, listingOrder, repeated, sameNameQueues } from './admin-fixtures.js';
import { closeAll, dequeueNow, hasQueue, jobOf, jobStats, SOON_MS, waitFor } from './queue-assertions.js';

interface Item {
  kind: string;
  n: number;
  [key: string]: DocumentValue;
}

/** Makes `count` dead jobs, oldest first, payload `{ kind: kinds[n % kinds.length], n }`. */
async function deadJobs(queue: JobQueue<Item>, count: number, kinds: readonly string[] = ['x']): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; n < count; n++)
    ids.push(await jobInState(queue, 'dead', { kind: kinds[n % kinds.length] ?? 'x', n }));
  return ids;
}

/** Runs a bulk operation step after step until its cursor is undefined; fails the case past `maxSteps`. */
async function untilDone(
  step: (cursor: string | undefined) => Promise<BulkJobsResult>,
  maxSteps = 100,
): Promise<BulkJobsResult[]> {
  const results: BulkJobsResult[] = [];
  let cursor: string | undefined;
  for (let index = 0; index < maxSteps; index++) {
    const result = await step(cursor);
    results.push(result);
    if (result.cursor === undefined) return results;
    expect(result.cursor).toBeTypeOf('string');
    cursor = result.cursor;
  }
  return expect.unreachable(`the bulk operation did not end within ${maxSteps} steps`);
}

const total = (results: readonly BulkJobsResult[], key: 'changed' | 'skipped'): number =>
  results.reduce((sum, result) => sum + result[key], 0);

/**
 * `retryJobs` and `cancelJobs`: which jobs they change, payload filters, and stepping through a large queue
 * with `limit` and a cursor.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueBulkAdminGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueBulkAdminGroup, options);
 * ```
 */
export const queueBulkAdminGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-bulk-admin',
  [
    {
      name: 'retryJobs puts every dead job back to waiting with fresh attempts, as retry does; cancelled and other jobs stay',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const dead = await deadJobs(queue, 4);
        const cancelled = await jobInState(queue, 'cancelled', { kind: 'c', n: 0 });
        const completed = await jobInState(queue, 'completed', { kind: 'c', n: 1 });
        const active = await jobInState(queue, 'active', { kind: 'c', n: 2 });
        const untouched = await jobsById(queue, [cancelled, completed, active]);
        expect(await queue.retryJobs()).toStrictEqual({ changed: 4, skipped: 0, cursor: undefined });
        for (const job of await jobsById(queue, dead)) {
          expect(job.state).toBe('waiting');
          expect(job.attempts).toBe(0);
          expect(job.finishedAt).toBeUndefined();
        }
        expect(await jobsById(queue, [cancelled, completed, active])).toStrictEqual(untouched);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 4, active: 1, completed: 1, cancelled: 1 }));
        expect(await queue.retryJobs()).toStrictEqual({ changed: 0, skipped: 0, cursor: undefined });
      },
    },
    {
      name: 'retryJobs with state cancelled retries cancelled jobs only; a state other than dead or cancelled is VALIDATION',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const [dead] = await deadJobs(queue, 1);
        const cancelled = [
          await jobInState(queue, 'cancelled', { kind: 'c', n: 0 }),
          await jobInState(queue, 'cancelled', { kind: 'c', n: 1 }),
        ];
        expect(await queue.retryJobs({ state: 'cancelled' })).toStrictEqual({
          changed: 2,
          skipped: 0,
          cursor: undefined,
        });
        for (const job of await jobsById(queue, cancelled)) expect(job.state).toBe('waiting');
        expect((await jobOf(queue, dead as string)).state).toBe('dead');
        for (const state of ['completed', 'waiting', 'active', 'all', '', false, 1]) {
          await expectBerthError(() => queue.retryJobs(invalid<RetryJobsOptions>({ state })), 'VALIDATION', {
            path: 'state',
          });
        }
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 2, dead: 1 }));
      },
    },
    {
      name: 'cancelJobs cancels waiting jobs (due or delayed) and leaves active and finished jobs alone',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const waiting = [
          (await queue.enqueue({ kind: 'w', n: 0 })).id,
          (await queue.enqueue({ kind: 'w', n: 1 }, { delayMs: 60_000 })).id,
        ];
        const { id: active } = await queue.enqueue({ kind: 'a', n: 2 }, { priority: 9 });
        const lease = await dequeueNow(queue);
        expect(lease.job.id).toBe(active);
        const [dead] = await deadJobs(queue, 1);
        expect(await queue.cancelJobs()).toStrictEqual({ changed: 2, skipped: 0, cursor: undefined });
        for (const job of await jobsById(queue, waiting)) {
          expect(job.state).toBe('cancelled');
          expect(job.finishedAt).toBeInstanceOf(Date);
        }
        expect((await jobOf(queue, dead as string)).state).toBe('dead');
        await queue.complete(lease, 'still mine');
        expect((await jobOf(queue, active)).state).toBe('completed');
        expect(await queue.dequeue()).toBeNull();
        expect(await queue.cancelJobs()).toStrictEqual({ changed: 0, skipped: 0, cursor: undefined });
      },
    },
    {
      name: 'a payload filter limits retryJobs and cancelJobs to matching jobs; a bad or __proto__ filter is VALIDATION and changes nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const dead = await deadJobs(queue, 9, ['mail', 'sms', "' OR 1=1 --"]);
        const before = await queue.stats();
        for (const payload of [
          { __proto__x: { $bad: 1 } },
          JSON.parse('{"__proto__": {"x": 1}}'),
          { 'kind.__proto__': 1 },
          'x',
        ]) {
          await expectBerthError(() => queue.retryJobs(invalid<RetryJobsOptions>({ payload })), 'VALIDATION');
          await expectBerthError(() => queue.cancelJobs(invalid<BulkJobsOptions>({ payload })), 'VALIDATION');
        }
        expect(await queue.stats()).toStrictEqual(before);
        expect(await queue.retryJobs({ payload: { kind: 'mail' } })).toStrictEqual({
          changed: 3,
          skipped: 0,
          cursor: undefined,
        });
        expect(await queue.retryJobs({ payload: { kind: "' OR 1=1 --" } })).toMatchObject({ changed: 3 });
        const states = (await jobsById(queue, dead)).map((job) => job.state);
        expect(states).toStrictEqual(dead.map((_, n) => (n % 3 === 1 ? 'dead' : 'waiting')));
        expect(await queue.cancelJobs({ payload: { n: { $lt: 3 } } })).toStrictEqual({
          changed: 2,
          skipped: 0,
          cursor: undefined,
        });
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 4, dead: 3, cancelled: 2 }));
      },
    },
    {
      name: 'each step examines at most limit jobs, oldest first, and the cursor resumes after the last one until it is undefined',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const dead = await deadJobs(queue, 25, ['a', 'b']);
        const oldestFirst = listingOrder(await jobsById(queue, dead), 'oldest');
        expect(oldestFirst).toStrictEqual(dead);
        // With a filter every examined job counts: step k examines jobs 4k..4k+3, of which the even n match.
        const steps = await untilDone((cursor) => queue.retryJobs({ payload: { kind: 'a' }, limit: 4, cursor }));
        expect(steps.length).toBeGreaterThanOrEqual(7);
        expect(steps.length).toBeLessThanOrEqual(8);
        for (const [index, step] of steps.slice(0, 6).entries()) {
          expect(step, `step ${index}`).toStrictEqual({ changed: 2, skipped: 0, cursor: step.cursor });
          expect(step.cursor).toBeTypeOf('string');
        }
        expect(total(steps, 'changed')).toBe(13);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 13, dead: 12 }));
        const rest = await untilDone((cursor) => queue.retryJobs({ limit: 5, cursor }));
        expect(rest.slice(0, 2).map((step) => step.changed)).toStrictEqual([5, 5]);
        expect(total(rest, 'changed')).toBe(12);
        const cancelled = await untilDone((cursor) => queue.cancelJobs({ limit: 7, cursor }));
        expect(cancelled.slice(0, 3).map((step) => step.changed)).toStrictEqual([7, 7, 7]);
        expect(total(cancelled, 'changed')).toBe(25);
        expect(await queue.stats()).toStrictEqual(jobStats({ cancelled: 25 }));
      },
    },
    {
      name: 'limit takes integers from 1 to 10 000; a malformed cursor or one from another operation or filter is VALIDATION',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        await deadJobs(queue, 3);
        await queue.enqueueMany([0, 1, 2].map((n) => ({ payload: { kind: 'w', n } })));
        for (const limit of [0, -1, 10_001, 2.5, Number.NaN, '5', false]) {
          await expectBerthError(() => queue.retryJobs(invalid<RetryJobsOptions>({ limit })), 'VALIDATION', {
            path: 'limit',
          });
          await expectBerthError(() => queue.cancelJobs(invalid<BulkJobsOptions>({ limit })), 'VALIDATION', {
            path: 'limit',
          });
        }
        const retryCursor = (await queue.retryJobs({ limit: 1, payload: { kind: 'none' } })).cursor;
        const cancelCursor = (await queue.cancelJobs({ limit: 1, payload: { kind: 'none' } })).cursor;
        const listCursor = (await queue.listJobs({ limit: 1 })).cursor;
        expect(retryCursor).toBeTypeOf('string');
        expect(cancelCursor).toBeTypeOf('string');
        for (const cursor of ['', 'garbage', "'; --", cancelCursor, listCursor, 7]) {
          await expectBerthError(
            () => queue.retryJobs(invalid<RetryJobsOptions>({ limit: 1, payload: { kind: 'none' }, cursor })),
            'VALIDATION',
          );
        }
        for (const cursor of [retryCursor, listCursor]) {
          await expectBerthError(() => queue.cancelJobs({ limit: 1, payload: { kind: 'none' }, cursor }), 'VALIDATION');
        }
        await expectBerthError(() => queue.retryJobs({ limit: 1, cursor: retryCursor }), 'VALIDATION');
        await expectBerthError(
          () => queue.retryJobs({ state: 'cancelled', limit: 1, payload: { kind: 'none' }, cursor: retryCursor }),
          'VALIDATION',
        );
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 3, dead: 3 }));
        expect((await queue.retryJobs({ limit: 10_000 })).changed).toBe(3);
      },
    },
    {
      name: 'retryJobs counts a job whose dedupe key a live job holds as skipped and leaves it dead',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const { id: held } = await queue.enqueue({ kind: 'k', n: 0 }, { dedupeKey: 'report', priority: 9 });
        await queue.fail(await dequeueNow(queue), new Error('x'), { retry: false });
        const { id: free } = await queue.enqueue({ kind: 'k', n: 1 }, { dedupeKey: 'other', priority: 9 });
        await queue.fail(await dequeueNow(queue), new Error('x'), { retry: false });
        const { id: holder } = await queue.enqueue({ kind: 'k', n: 2 }, { dedupeKey: 'report' });
        expect(await queue.retryJobs()).toStrictEqual({ changed: 1, skipped: 1, cursor: undefined });
        expect((await jobOf(queue, held)).state).toBe('dead');
        expect((await jobOf(queue, free)).state).toBe('waiting');
        expect((await queue.enqueue({ kind: 'k', n: 3 }, { dedupeKey: 'report' })).id).toBe(holder);
        await queue.cancel(holder);
        expect(await queue.retryJobs()).toStrictEqual({ changed: 1, skipped: 0, cursor: undefined });
        expect((await jobOf(queue, held)).state).toBe('waiting');
      },
    },
    {
      name: 'concurrent retryJobs calls (two queue objects, and two backends where the run opens one) retry each job once while a worker runs them',
      requires: hasQueue,
      async run(context) {
        const name = context.queueName('q');
        const { queues } = await sameNameQueues<Item>(context, name);
        const queue = queues[0] as JobQueue<Item>;
        const dead = await deadJobs(queue, 30);
        const handled: string[] = [];
        const workers = [queue, queues.at(-1) as JobQueue<Item>].map((target) =>
          target.work(
            async (job) => {
              handled.push(job.id);
              await new Promise((resolve) => setTimeout(resolve, 2));
            },
            { concurrency: 3, pollIntervalMs: 10 },
          ),
        );
        try {
          const results = await Promise.all(
            queues.flatMap((target) => [0, 1].map(() => untilDone((cursor) => target.retryJobs({ limit: 4, cursor })))),
          );
          expect(
            results.flat().reduce((sum, step) => sum + step.changed, 0),
            'jobs retried in all',
          ).toBe(30);
          await waitFor(
            'every retried job to complete',
            async () => (await queue.stats()).completed === 30,
            SOON_MS * 3,
          );
        } finally {
          await closeAll(workers);
        }
        expect(repeated(handled), 'jobs handled twice').toStrictEqual([]);
        expect([...handled].sort()).toStrictEqual([...dead].sort());
        for (const job of await jobsById(queue, dead)) expect(job.attempts).toBe(1);
      },
    },
    {
      name: 'cancelJobs racing a worker: every job ends completed (handled once) or cancelled (never handled), none both',
      requires: hasQueue,
      async run(context) {
        const name = context.queueName('q');
        const { queues } = await sameNameQueues<Item>(context, name);
        const queue = queues[0] as JobQueue<Item>;
        const ids = (
          await queue.enqueueMany(Array.from({ length: 60 }, (_, n) => ({ payload: { kind: 'w', n } })))
        ).map((result) => result.id);
        const handled: string[] = [];
        const worker = (queues.at(-1) as JobQueue<Item>).work(
          async (job) => {
            handled.push(job.id);
          },
          { concurrency: 4, pollIntervalMs: 5 },
        );
        let changed = 0;
        try {
          const results = await Promise.all(
            queues.map((target) => untilDone((cursor) => target.cancelJobs({ limit: 3, cursor }))),
          );
          changed = results.flat().reduce((sum, step) => sum + step.changed, 0);
          await waitFor('no job to be waiting or active', async () => {
            const stats = await queue.stats();
            return stats.waiting === 0 && stats.active === 0;
          });
        } finally {
          await closeAll([worker]);
        }
        const jobs = await jobsById(queue, ids);
        const cancelled = jobs.filter((job) => job.state === 'cancelled').map((job) => job.id);
        expect(changed, 'cancelJobs counted other jobs than it cancelled').toBe(cancelled.length);
        expect(repeated(handled)).toStrictEqual([]);
        for (const job of jobs) {
          if (job.state === 'completed') expect(handled).toContain(job.id);
          else expect(job.state).toBe('cancelled');
        }
        expect(
          cancelled.filter((id) => handled.includes(id)),
          'cancelled jobs that a handler ran',
        ).toStrictEqual([]);
      },
    },
  ],
);
