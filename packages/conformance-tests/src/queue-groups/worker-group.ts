import type { JobHandler, JobQueue, JobStats, QueueBackend, Worker, WorkerOptions } from '@berth/core';
import { expect } from 'vitest';
import { deferred, expectBerthError, sleep } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import {
  CLOCK_TOLERANCE_MS,
  closeAll,
  hasQueue,
  jobOf,
  jobStats,
  NO_JOBS,
  SOON_MS,
  waitFor,
} from './queue-assertions.js';

/**
 * An idle worker polls at this interval in cases that are about something
 * else, so adapters without notifications pass them quickly too.
 */
const FAST_POLL_MS = 25;

/** Waits until the queue's stats match `expected`. */
async function statsReach<T>(queue: JobQueue<T>, expected: JobStats, timeoutMs = SOON_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await queue.stats();
    if (Object.entries(expected).every(([state, count]) => stats[state as keyof JobStats] === count)) return;
    if (Date.now() > deadline) {
      expect(stats, `stats did not reach the expected counts within ${timeoutMs} ms`).toStrictEqual(expected);
    }
    await sleep(5);
  }
}

/** Runs `work` with a worker and always closes the worker afterwards. */
async function withWorker<T>(worker: Worker, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    await closeAll([worker]);
  }
}

/** Collects what a worker reports through onError, for cases that expect nothing there. */
function errorCollector(): { readonly errors: unknown[]; readonly onError: NonNullable<WorkerOptions['onError']> } {
  const errors: unknown[] = [];
  return { errors, onError: (error) => errors.push(error) };
}

/**
 * `work()`: option validation, handlers that return, throw or hang, concurrency, and stopping.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueWorkerGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueWorkerGroup, options);
 * ```
 */
export const queueWorkerGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-worker',
  [
    {
      name: "a worker hands the handler the job and stores the handler's return value as the result",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<{ n: number }>();
        const { id } = await queue.enqueue({ n: 21 });
        const seen: unknown[] = [];
        const { errors, onError } = errorCollector();
        const worker = queue.work(
          (job, { signal, lease }) => {
            seen.push({ payload: job.payload, state: job.state, attempts: job.attempts, aborted: signal.aborted });
            expect(lease.job.id).toBe(job.id);
            expect(typeof lease.token).toBe('string');
            return { doubled: job.payload.n * 2, at: new Date('2026-01-02T03:04:05.006Z') };
          },
          { pollIntervalMs: FAST_POLL_MS, onError },
        );
        await withWorker(worker, async () => {
          await waitFor('the job to complete', async () => (await jobOf(queue, id)).state === 'completed');
        });
        const job = await jobOf(queue, id);
        expect(job.result).toStrictEqual({ doubled: 42, at: new Date('2026-01-02T03:04:05.006Z') });
        expect(job.attempts).toBe(1);
        expect(seen).toStrictEqual([{ payload: { n: 21 }, state: 'active', attempts: 1, aborted: false }]);
        expect(errors).toStrictEqual([]);
      },
    },
    {
      name: 'invalid worker options are VALIDATION errors thrown by work(), and no job is touched',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        await queue.enqueue('untouched');
        const invalidOptions: readonly WorkerOptions[] = [
          { concurrency: 0 },
          { concurrency: 1.5 },
          { prefetch: -1 },
          { pollIntervalMs: 0 },
          { leaseMs: 0 },
          { closeTimeoutMs: -1 },
        ];
        const start = (handler: unknown, options: WorkerOptions): Worker => {
          const worker = queue.work(handler as JobHandler<string>, options);
          // Only reached when the options were wrongly accepted: stop the worker the case fails on.
          void worker.close();
          return worker;
        };
        for (const options of invalidOptions) {
          await expectBerthError(() => start(() => undefined, options), 'VALIDATION').catch((failure: unknown) => {
            throw new Error(`${JSON.stringify(options)}: ${String(failure)}`);
          });
        }
        await expectBerthError(() => start('not a function', {}), 'VALIDATION');
        await sleep(50);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1 }));
      },
    },
    {
      name: 'a handler that returns nothing completes the job without a result; an async handler is awaited',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id: sync } = await queue.enqueue('sync');
        const { id: slow } = await queue.enqueue('async');
        const worker = queue.work(
          async (job) => {
            if (job.payload === 'async') {
              await sleep(20);
              return 'awaited';
            }
            return undefined;
          },
          { pollIntervalMs: FAST_POLL_MS },
        );
        await withWorker(worker, () => statsReach(queue, jobStats({ completed: 2 })));
        expect((await jobOf(queue, sync)).result).toBeUndefined();
        expect((await jobOf(queue, slow)).result).toBe('awaited');
      },
    },
    {
      name: 'a handler that throws fails the attempt: retried after the backoff, dead after maxAttempts',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const backoffMs = 30;
        const { id } = await queue.enqueue('always fails', {
          maxAttempts: 3,
          backoff: { type: 'fixed', delayMs: backoffMs },
        });
        const calls: number[] = [];
        const worker = queue.work(
          (job) => {
            calls.push(Date.now());
            throw new TypeError(`failure ${job.attempts}`);
          },
          { pollIntervalMs: FAST_POLL_MS },
        );
        await withWorker(worker, () => statsReach(queue, jobStats({ dead: 1 })));
        const job = await jobOf(queue, id);
        expect(job.state).toBe('dead');
        expect(job.attempts).toBe(3);
        expect(job.errors.map(({ attempt, message, name }) => ({ attempt, message, name }))).toStrictEqual([
          { attempt: 1, message: 'failure 1', name: 'TypeError' },
          { attempt: 2, message: 'failure 2', name: 'TypeError' },
          { attempt: 3, message: 'failure 3', name: 'TypeError' },
        ]);
        expect(calls).toHaveLength(3);
        for (let index = 1; index < calls.length; index++) {
          const gap = (calls[index] ?? 0) - (calls[index - 1] ?? 0);
          expect(gap, `attempt ${index + 1} started before the backoff ran out`).toBeGreaterThanOrEqual(backoffMs - 2);
        }
      },
    },
    {
      name: 'a handler error whose retryable is false makes the job dead at once, whatever attempts are left',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('bad input', { maxAttempts: 5, backoff: { type: 'fixed', delayMs: 0 } });
        let calls = 0;
        const worker = queue.work(
          () => {
            calls += 1;
            throw Object.assign(new Error('cannot parse the input'), { retryable: false });
          },
          { pollIntervalMs: FAST_POLL_MS, onError: () => {} },
        );
        await withWorker(worker, () => statsReach(queue, jobStats({ dead: 1 })));
        await sleep(50);
        const job = await jobOf(queue, id);
        expect(calls).toBe(1);
        expect(job.attempts).toBe(1);
        expect(job.errors.map((error) => [error.attempt, error.message])).toStrictEqual([
          [1, 'cannot parse the input'],
        ]);
      },
    },
    {
      name: 'a handler that rejects with a non-Error still fails the attempt, and the next attempt can succeed',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('second time lucky', { backoff: { type: 'fixed', delayMs: 0 } });
        const worker = queue.work(
          async (job) => {
            if (job.attempts === 1) throw 'plain string failure';
            return 'ok';
          },
          { pollIntervalMs: FAST_POLL_MS },
        );
        await withWorker(worker, () => statsReach(queue, jobStats({ completed: 1 })));
        const job = await jobOf(queue, id);
        expect(job.attempts).toBe(2);
        expect(job.result).toBe('ok');
        expect(job.errors.map((error) => [error.attempt, error.message])).toStrictEqual([[1, 'plain string failure']]);
      },
    },
    {
      name: 'at most concurrency handlers run at once, and a worker with work fills every slot: exactly 3 of 20',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        await queue.enqueueMany(Array.from({ length: 20 }, (_, payload) => ({ payload })));
        let running = 0;
        let maxRunning = 0;
        let maxReported = 0;
        const worker: Worker = queue.work(
          async () => {
            running += 1;
            maxRunning = Math.max(maxRunning, running);
            maxReported = Math.max(maxReported, worker.running);
            await sleep(20);
            running -= 1;
          },
          { concurrency: 3, pollIntervalMs: FAST_POLL_MS },
        );
        await withWorker(worker, () => statsReach(queue, jobStats({ completed: 20 }), 10_000));
        expect(maxRunning).toBe(3);
        expect(maxReported).toBeLessThanOrEqual(3);
        expect(worker.running).toBe(0);
      },
    },
    {
      name: 'a worker started on an empty queue picks up jobs enqueued later',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        const handled: number[] = [];
        const worker = queue.work(
          (job) => {
            handled.push(job.payload);
          },
          { pollIntervalMs: FAST_POLL_MS },
        );
        await withWorker(worker, async () => {
          await sleep(50);
          await queue.enqueue(1);
          await statsReach(queue, jobStats({ completed: 1 }));
          await sleep(30);
          await queue.enqueueMany([{ payload: 2 }, { payload: 3 }]);
          await statsReach(queue, jobStats({ completed: 3 }));
        });
        expect(handled).toStrictEqual([1, 2, 3]);
      },
    },
    {
      name: 'a worker fetches again at once after a non-empty fetch: 200 jobs in well under one long poll interval',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        await queue.enqueueMany(Array.from({ length: 200 }, (_, payload) => ({ payload })));
        const pollIntervalMs = 10_000;
        const started = Date.now();
        const worker = queue.work(() => undefined, { concurrency: 4, pollIntervalMs });
        await withWorker(worker, () => statsReach(queue, jobStats({ completed: 200 }), pollIntervalMs / 2));
        expect(Date.now() - started).toBeLessThan(pollIntervalMs / 2);
      },
    },
    {
      name: 'an idle worker starts a newly enqueued job without waiting for a long poll',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        // An adapter that claims notifications must wake an idle worker long
        // before its (here very long) poll interval; others get a short poll.
        const pollIntervalMs = context.capabilities.queue.notifications ? 60_000 : 50;
        const worker = queue.work(() => 'done', { pollIntervalMs });
        await withWorker(worker, async () => {
          await sleep(120);
          const enqueuedAt = Date.now();
          const { id } = await queue.enqueue('wake up');
          await waitFor(
            'the idle worker to finish the job',
            async () => (await jobOf(queue, id)).state === 'completed',
          );
          expect(Date.now() - enqueuedAt).toBeLessThan(SOON_MS);
        });
      },
    },
    {
      name: 'a worker renews the lease while the handler runs: a 500 ms handler on a 150 ms lease runs once and completes',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('long job', { leaseMs: 150 });
        let calls = 0;
        let aborted = false;
        const { errors, onError } = errorCollector();
        // Two slots, so a lease that lapsed would be redelivered to this very worker.
        const worker = queue.work(
          async (_job, { signal }) => {
            calls += 1;
            await sleep(500);
            aborted ||= signal.aborted;
            return 'survived';
          },
          { concurrency: 2, pollIntervalMs: FAST_POLL_MS, onError },
        );
        await withWorker(worker, () => statsReach(queue, jobStats({ completed: 1 })));
        const job = await jobOf(queue, id);
        expect(calls).toBe(1);
        expect(aborted).toBe(false);
        expect(job.attempts).toBe(1);
        expect(job.errors).toStrictEqual([]);
        expect(job.result).toBe('survived');
        expect(errors).toStrictEqual([]);
      },
    },
    {
      name: 'WorkerOptions.leaseMs sets the lease of handled jobs, and the worker keeps renewing it',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('short lease', { leaseMs: 3_600_000 });
        const inside = deferred<{ remaining: number; expiresAt: number }>();
        const release = deferred();
        const worker = queue.work(
          async (_job, { lease }) => {
            inside.resolve({ remaining: lease.expiresAt.getTime() - Date.now(), expiresAt: lease.expiresAt.getTime() });
            await release.promise;
          },
          { leaseMs: 300, pollIntervalMs: FAST_POLL_MS },
        );
        await withWorker(worker, async () => {
          const first = await inside.promise;
          expect(first.remaining).toBeLessThanOrEqual(300 + CLOCK_TOLERANCE_MS);
          await sleep(700);
          const job = await jobOf(queue, id);
          expect(job.state).toBe('active');
          expect(job.attempts).toBe(1);
          // Renewed at least once since the handler started (by the engine's clock).
          expect(job.leaseExpiresAt?.getTime() ?? 0).toBeGreaterThan(first.expiresAt + 300);
          release.resolve();
          await statsReach(queue, jobStats({ completed: 1 }));
        });
        expect((await jobOf(queue, id)).errors).toStrictEqual([]);
      },
    },
    {
      name: 'close waits for handlers in flight, whose jobs end completed, and stops fetching',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        await queue.enqueueMany([{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
        let started = 0;
        let finished = 0;
        const allStarted = deferred();
        const worker = queue.work(
          async () => {
            started += 1;
            if (started === 3) allStarted.resolve();
            await sleep(150);
            finished += 1;
            return 'finished';
          },
          { concurrency: 3, pollIntervalMs: FAST_POLL_MS },
        );
        try {
          await allStarted.promise;
          const closing = worker.close();
          const late = await queue.enqueueMany([{ payload: 4 }, { payload: 5 }]);
          await closing;
          expect(finished).toBe(3);
          expect(worker.running).toBe(0);
          expect(await queue.stats()).toStrictEqual(jobStats({ completed: 3, waiting: 2 }));
          await sleep(100);
          expect(await queue.stats()).toStrictEqual(jobStats({ completed: 3, waiting: 2 }));
          for (const { id } of late) expect((await jobOf(queue, id)).attempts).toBe(0);
        } finally {
          await worker.close();
        }
      },
    },
    {
      name: 'close is idempotent and a worker can be disposed with await using',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const worker = queue.work(() => undefined, { pollIntervalMs: FAST_POLL_MS });
        await Promise.all([worker.close(), worker.close()]);
        await worker.close();
        await worker[Symbol.asyncDispose]();
        await queue.enqueue('after close');
        await sleep(80);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1 }));
      },
    },
    {
      name: "close past closeTimeoutMs aborts the handler's signal with an ABORTED error and returns without waiting for it",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        await queue.enqueue('stubborn');
        const started = deferred<AbortSignal>();
        const handlerDone = deferred();
        const worker = queue.work(
          async (_job, { signal }) => {
            started.resolve(signal);
            // Ignores its signal on purpose.
            await sleep(300);
            handlerDone.resolve();
          },
          { closeTimeoutMs: 50, pollIntervalMs: FAST_POLL_MS, onError: () => {} },
        );
        try {
          const signal = await started.promise;
          expect(signal.aborted).toBe(false);
          const before = Date.now();
          await worker.close();
          const took = Date.now() - before;
          expect(took, 'close waited at least closeTimeoutMs').toBeGreaterThanOrEqual(48);
          expect(took, 'close waited for the stubborn handler').toBeLessThan(250);
          expect(signal.aborted).toBe(true);
          await expectBerthError(Promise.reject(signal.reason), 'ABORTED');
        } finally {
          await worker.close();
          // Let the stubborn handler end before the backend closes.
          await handlerDone.promise;
        }
      },
    },
    {
      name: 'aborting WorkerOptions.signal stops the worker like close: jobs in flight finish, nothing new is fetched',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        const { id } = await queue.enqueue(1);
        const controller = new AbortController();
        const started = deferred();
        const release = deferred();
        const worker = queue.work(
          async () => {
            started.resolve();
            await release.promise;
            return 'finished';
          },
          { signal: controller.signal, pollIntervalMs: FAST_POLL_MS },
        );
        await withWorker(worker, async () => {
          await started.promise;
          controller.abort(new Error('shutting down'));
          const { id: late } = await queue.enqueue(2);
          release.resolve();
          await statsReach(queue, jobStats({ completed: 1, waiting: 1 }));
          await sleep(100);
          expect(await queue.stats()).toStrictEqual(jobStats({ completed: 1, waiting: 1 }));
          expect((await jobOf(queue, id)).result).toBe('finished');
          expect((await jobOf(queue, late)).attempts).toBe(0);
        });
      },
    },
    {
      name: 'a worker started with an already-aborted signal fetches nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        await queue.enqueue(1);
        const controller = new AbortController();
        controller.abort();
        let calls = 0;
        const worker = queue.work(
          () => {
            calls += 1;
          },
          { signal: controller.signal, pollIntervalMs: FAST_POLL_MS },
        );
        await withWorker(worker, async () => {
          await sleep(100);
          expect(calls).toBe(0);
          expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1 }));
        });
      },
    },
    {
      name: 'prefetched jobs that never started are released on close, waiting again with attempts not counted',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        const results = await queue.enqueueMany(Array.from({ length: 10 }, (_, payload) => ({ payload })));
        const started = deferred<number>();
        const release = deferred();
        let calls = 0;
        const worker = queue.work(
          async (job) => {
            calls += 1;
            started.resolve(job.payload);
            await release.promise;
          },
          { concurrency: 1, prefetch: 5, pollIntervalMs: FAST_POLL_MS },
        );
        try {
          const first = await started.promise;
          // One job in flight and five leased ahead of a free slot.
          await statsReach(queue, jobStats({ active: 6, waiting: 4 }));
          const closing = worker.close();
          release.resolve();
          await closing;
          expect(calls).toBe(1);
          expect(await queue.stats()).toStrictEqual(jobStats({ completed: 1, waiting: 9 }));
          for (const { id } of results) {
            const job = await jobOf(queue, id);
            if (job.payload === first) continue;
            expect(job.state).toBe('waiting');
            expect(job.attempts, `attempts of job ${job.payload}`).toBe(0);
            expect(job.errors).toStrictEqual([]);
          }
        } finally {
          release.resolve();
          await worker.close();
        }
      },
    },
    {
      name: 'a handler whose lease is lost (the job was cancelled) sees its signal abort',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('cancel me');
        const started = deferred();
        const abortedAt = deferred<number>();
        const worker = queue.work(
          async (_job, { signal }) => {
            started.resolve();
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, SOON_MS);
              signal.addEventListener('abort', () => {
                clearTimeout(timer);
                abortedAt.resolve(Date.now());
                resolve();
              });
            });
          },
          { leaseMs: 300, pollIntervalMs: FAST_POLL_MS, onError: () => {} },
        );
        await withWorker(worker, async () => {
          await started.promise;
          const cancelledAt = Date.now();
          expect(await queue.cancel(id)).toBe(true);
          const at = await Promise.race([abortedAt.promise, sleep(SOON_MS).then(() => null)]);
          expect(at, "the handler's signal never aborted").not.toBeNull();
          expect((at ?? 0) - cancelledAt).toBeLessThan(SOON_MS);
          await sleep(50);
          expect((await jobOf(queue, id)).state).toBe('cancelled');
        });
        expect(await queue.stats()).toStrictEqual({ ...NO_JOBS, cancelled: 1 });
      },
    },
    {
      name: 'a worker whose backend was closed reports the CONNECTION error once and stops polling',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { errors, onError } = errorCollector();
        const worker = queue.work(() => undefined, { pollIntervalMs: 5, onError });
        try {
          await sleep(30);
          await context.backend.close();
          // At a 5 ms poll a worker that keeps going would report dozens of times.
          await sleep(300);
          expect(errors, 'reports after the backend closed').toHaveLength(1);
          await expectBerthError(Promise.reject(errors[0]), 'CONNECTION', { retryable: false });
        } finally {
          await worker.close();
        }
      },
    },
  ],
);
