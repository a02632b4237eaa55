import type { Capabilities, DocumentValue, JobQueue, QueueBackend } from '@berth/core';
import { MAX_DOCUMENT_BYTES } from '@berth/core/adapter';
import { expect } from 'vitest';
import { deferred, expectBerthError, invalid, sleep } from '../groups/assertions.js';
import { sizedValue } from '../groups/limits-cases.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { closeAll, dequeueNow, dequeueSoon, hasQueue, jobOf, SOON_MS, waitFor, withToken } from './queue-assertions.js';

function maxPayloadBytes(capabilities: Capabilities): number {
  return capabilities.queue.maxPayloadBytes ?? MAX_DOCUMENT_BYTES;
}

/** Leases a fresh job of `queue` and returns the lease. */
async function leased(queue: JobQueue<string>, options: { leaseMs?: number; maxAttempts?: number } = {}) {
  const { id } = await queue.enqueue('work', {
    backoff: { type: 'fixed', delayMs: 0 },
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
  });
  const lease = await dequeueNow(queue);
  expect(lease.job.id).toBe(id);
  return lease;
}

const PROGRESS_VALUES: readonly DocumentValue[] = [
  { done: 3, of: 10, stage: 'resize' },
  0.5,
  'half way',
  null,
  [1, [2, { three: 3 }]],
  { at: new Date(1_700_000_000_000), nested: { deep: [true, false] } },
  { "'; DROP TABLE _berth_jobs; --": '%_\\', constructor: 'kept', toString: 1 },
];

/**
 * `progress`: stored as a copy, shown by `get` and `listJobs`, kept after the job ends, refused with
 * `CONFLICT` on a stale lease.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueProgressGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueProgressGroup, options);
 * ```
 */
export const queueProgressGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-progress',
  [
    {
      name: 'progress is stored on the job, get and listJobs show the latest value, and updatedAt moves',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const lease = await leased(queue);
        expect((await jobOf(queue, lease.job.id)).progress).toBeUndefined();
        expect(lease.job.progress).toBeUndefined();
        for (const value of PROGRESS_VALUES) {
          const before = (await jobOf(queue, lease.job.id)).updatedAt.getTime();
          await sleep(2);
          await queue.progress(lease, value);
          const job = await jobOf(queue, lease.job.id);
          expect(job.progress, JSON.stringify(value)).toStrictEqual(value);
          expect(job.state).toBe('active');
          expect(job.updatedAt.getTime()).toBeGreaterThan(before);
          expect((await queue.listJobs({ state: 'active' })).jobs[0]?.progress).toStrictEqual(value);
        }
        expect(({} as Record<string, unknown>).kept).toBeUndefined();
      },
    },
    {
      name: 'progress is a copy: changing the value passed in afterwards changes nothing stored',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const lease = await leased(queue);
        const value = { done: 1, list: [1] };
        await queue.progress(lease, value);
        value.done = 99;
        value.list.push(2);
        expect((await jobOf(queue, lease.job.id)).progress).toStrictEqual({ done: 1, list: [1] });
      },
    },
    {
      name: 'progress is kept after the job completes or dies, and retry clears it',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const first = await leased(queue);
        await queue.progress(first, { step: 'last' });
        await queue.complete(first, 'ok');
        expect((await jobOf(queue, first.job.id)).progress).toStrictEqual({ step: 'last' });
        const second = await leased(queue);
        await queue.progress(second, 42);
        await queue.fail(second, new Error('broken'), { retry: false });
        expect((await jobOf(queue, second.job.id)).progress).toBe(42);
        expect((await queue.listJobs({ state: 'dead' })).jobs[0]?.progress).toBe(42);
        expect(await queue.retry(second.job.id)).toBe(true);
        expect((await jobOf(queue, second.job.id)).progress).toBeUndefined();
        const third = await dequeueNow(queue);
        expect(third.job.progress).toBeUndefined();
        await queue.progress(third, 'again');
        await queue.cancel(third.job.id);
        expect(await queue.retryJobs({ state: 'cancelled' })).toMatchObject({ changed: 1 });
        expect((await jobOf(queue, third.job.id)).progress).toBeUndefined();
      },
    },
    {
      name: 'progress with a stale lease (expired and redelivered, settled, cancelled, made up) is CONFLICT and changes nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        // Short enough to expire soon, long enough for one progress call on a loaded machine.
        const first = await leased(queue, { leaseMs: 250 });
        await queue.progress(first, 'first attempt');
        // The redelivery's own lease is long: it must outlive the calls below, however slow.
        const second = await dequeueSoon(queue, 'the redelivery', { leaseMs: 60_000 });
        expect(second.lease.job.id).toBe(first.job.id);
        await expectBerthError(() => queue.progress(first, 'stale'), 'CONFLICT', { retryable: false });
        expect((await jobOf(queue, first.job.id)).progress).toBe('first attempt');
        await expectBerthError(() => queue.progress(withToken(second.lease, 'made-up'), 'forged'), 'CONFLICT');
        await expectBerthError(
          () => queue.progress({ job: { id: 'missing' }, token: second.lease.token }, 'nobody'),
          'CONFLICT',
        );
        await queue.complete(second.lease);
        await expectBerthError(() => queue.progress(second.lease, 'after the end'), 'CONFLICT');
        const third = await leased(queue);
        await queue.cancel(third.job.id);
        await expectBerthError(() => queue.progress(third, 'cancelled'), 'CONFLICT');
        expect((await jobOf(queue, first.job.id)).progress).toBe('first attempt');
        expect((await jobOf(queue, third.job.id)).progress).toBeUndefined();
      },
    },
    {
      name: 'undefined, functions, symbols, bigints, NaN, cycles and values over maxPayloadBytes are VALIDATION; exactly the limit is stored',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const lease = await leased(queue);
        await queue.progress(lease, 'kept');
        const cycle: Record<string, unknown> = {};
        cycle.self = cycle;
        const max = maxPayloadBytes(context.capabilities);
        const over = sizedValue(max + 1, (filler) => ({ text: filler }));
        for (const bad of [
          undefined,
          () => 1,
          Symbol('s'),
          10n,
          Number.NaN,
          Number.POSITIVE_INFINITY,
          cycle,
          over,
          [undefined],
          new Map(),
          new Date(Number.NaN),
        ]) {
          await expectBerthError(() => queue.progress(lease, invalid<DocumentValue>(bad)), 'VALIDATION');
        }
        expect((await jobOf(queue, lease.job.id)).progress).toBe('kept');
        const exact = sizedValue(max, (filler) => ({ text: filler }));
        await queue.progress(lease, exact);
        expect((await jobOf(queue, lease.job.id)).progress).toStrictEqual(exact);
        await queue.complete(lease);
      },
    },
    {
      name: 'a handler reports progress through context.progress; get shows it while the job runs and after it completes',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('with progress');
        const reported = deferred();
        const finish = deferred();
        const worker = queue.work(
          async (_job, jobContext) => {
            await jobContext.progress({ percent: 50 });
            reported.resolve();
            await finish.promise;
            await jobContext.progress({ percent: 100 });
            return 'done';
          },
          { pollIntervalMs: 10 },
        );
        try {
          await reported.promise;
          const running = await jobOf(queue, id);
          expect(running.state).toBe('active');
          expect(running.progress).toStrictEqual({ percent: 50 });
          finish.resolve();
          const done = await waitFor(
            'the job to complete',
            async () => {
              const job = await jobOf(queue, id);
              return job.state === 'completed' ? job : null;
            },
            SOON_MS,
          );
          expect(done.progress).toStrictEqual({ percent: 100 });
          expect(done.result).toBe('done');
        } finally {
          finish.resolve();
          await closeAll([worker]);
        }
      },
    },
    {
      name: "context.progress after the job's lease was lost rejects with CONFLICT and does not overwrite the new attempt's progress",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('stolen', { leaseMs: 60_000 });
        const started = deferred();
        const proceed = deferred();
        const outcome = deferred<unknown>();
        const worker = queue.work(
          async (_job, jobContext) => {
            started.resolve();
            await proceed.promise;
            try {
              await jobContext.progress('from the old attempt');
              outcome.resolve('stored');
            } catch (error) {
              outcome.resolve(error);
            }
          },
          { pollIntervalMs: 10, onError: () => undefined },
        );
        try {
          await started.promise;
          expect(await queue.cancel(id)).toBe(true);
          proceed.resolve();
          const error = await outcome.promise;
          await expectBerthError(Promise.reject(error), 'CONFLICT');
          expect((await jobOf(queue, id)).progress).toBeUndefined();
        } finally {
          proceed.resolve();
          await closeAll([worker]);
        }
      },
    },
  ],
);
