import { type EnqueueOptions, isBerthError, type Job, type QueueBackend, type WorkerOptions } from '@berth/core';
import { expect } from 'vitest';
import { deferred, expectBerthError, invalid, sleep } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { closeAll, hasQueue, jobOf, SOON_MS, waitFor } from './queue-assertions.js';

const TIMEOUT_MS = 80;

/** Waits until the job is in `state`, and returns it. */
async function reaches<T>(
  queue: { get(id: string): Promise<Job<T> | null> },
  id: string,
  state: Job<T>['state'],
  timeoutMs = SOON_MS,
): Promise<Job<T>> {
  return waitFor(
    `job ${id} to be ${state}`,
    async () => {
      const job = await queue.get(id);
      return job?.state === state ? job : null;
    },
    timeoutMs,
  );
}

/** Whether a recorded error is the worker's timeout. */
function isTimeoutRecord(error: { readonly name?: string | undefined; readonly message: string }): boolean {
  return /timeout|timed out/i.test(`${error.name ?? ''} ${error.message}`);
}

/**
 * Worker timeouts: a handler that ignores its signal loses the job at the timeout and its slot is freed; one
 * that finishes in time completes normally.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueTimeoutGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueTimeoutGroup, options);
 * ```
 */
export const queueTimeoutGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-timeout',
  [
    {
      name: "a job's timeoutMs is stored on the job (undefined when not given); a bad one is VALIDATION",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('bounded', { timeoutMs: 1_234 });
        const [many] = await queue.enqueueMany([{ payload: 'bounded too', timeoutMs: 5 }]);
        const { id: plain } = await queue.enqueue('unbounded');
        expect((await jobOf(queue, id)).timeoutMs).toBe(1_234);
        expect((await jobOf(queue, many?.id as string)).timeoutMs).toBe(5);
        expect((await jobOf(queue, plain)).timeoutMs).toBeUndefined();
        for (const timeoutMs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '100', false]) {
          await expectBerthError(() => queue.enqueue('bad', invalid<EnqueueOptions>({ timeoutMs })), 'VALIDATION', {
            path: 'timeoutMs',
          });
          await expectBerthError(() => queue.enqueueMany([invalid({ payload: 'bad', timeoutMs })]), 'VALIDATION');
          await expectBerthError(
            () => queue.work(() => undefined, invalid<WorkerOptions>({ timeoutMs })),
            'VALIDATION',
          );
        }
        expect(await queue.stats()).toMatchObject({ waiting: 3 });
      },
    },
    {
      name: "past the job's timeoutMs the handler's signal aborts with a TIMEOUT error and the attempt fails: retried, then dead",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('slow', {
          timeoutMs: TIMEOUT_MS,
          maxAttempts: 2,
          backoff: { type: 'fixed', delayMs: 0 },
        });
        const reasons: unknown[] = [];
        const durations: number[] = [];
        const worker = queue.work(
          async (_job, { signal }) => {
            const started = Date.now();
            await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
            durations.push(Date.now() - started);
            reasons.push(signal.reason);
            throw signal.reason;
          },
          { pollIntervalMs: 10, onError: () => undefined },
        );
        try {
          const dead = await reaches(queue, id, 'dead');
          expect(dead.attempts).toBe(2);
          expect(dead.errors).toHaveLength(2);
          for (const error of dead.errors) expect(isTimeoutRecord(error), JSON.stringify(error)).toBe(true);
        } finally {
          await closeAll([worker]);
        }
        expect(reasons).toHaveLength(2);
        for (const reason of reasons) expect(isBerthError(reason, 'TIMEOUT'), String(reason)).toBe(true);
        for (const duration of durations) expect(duration).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      },
    },
    {
      name: "the worker's timeoutMs applies to jobs without their own; a job's own timeoutMs overrides it",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id: bounded } = await queue.enqueue('worker bound', { maxAttempts: 1 });
        const { id: own } = await queue.enqueue('own bound', { maxAttempts: 1, timeoutMs: 5_000 });
        const aborted: string[] = [];
        const worker = queue.work(
          async (job, { signal }) => {
            signal.addEventListener('abort', () => aborted.push(job.payload), { once: true });
            await sleep(TIMEOUT_MS * 3);
            signal.throwIfAborted();
            return 'finished';
          },
          { timeoutMs: TIMEOUT_MS, concurrency: 2, pollIntervalMs: 10, onError: () => undefined },
        );
        try {
          const dead = await reaches(queue, bounded, 'dead');
          expect(isTimeoutRecord(dead.errors[0] ?? { message: '' })).toBe(true);
          const completed = await reaches(queue, own, 'completed');
          expect(completed.result).toBe('finished');
        } finally {
          await closeAll([worker]);
        }
        expect(aborted).toStrictEqual(['worker bound']);
      },
    },
    {
      name: 'a handler that ignores its signal loses the job at the timeout: the attempt fails, the job runs again and the slot is freed',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id: stuck } = await queue.enqueue('ignores its signal', {
          timeoutMs: TIMEOUT_MS,
          maxAttempts: 2,
          backoff: { type: 'fixed', delayMs: 0 },
          priority: 1,
        });
        const { id: next } = await queue.enqueue('waits for the slot');
        const forever = deferred<string>();
        const calls: string[] = [];
        const worker = queue.work(
          async (job) => {
            calls.push(job.payload);
            if (job.payload === 'ignores its signal') return forever.promise;
            return 'ran';
          },
          { concurrency: 1, pollIntervalMs: 10, onError: () => undefined },
        );
        try {
          await reaches(queue, next, 'completed');
          const dead = await reaches(queue, stuck, 'dead');
          expect(dead.attempts).toBe(2);
          for (const error of dead.errors) expect(isTimeoutRecord(error), JSON.stringify(error)).toBe(true);
          expect(calls.filter((payload) => payload === 'ignores its signal')).toHaveLength(2);
          // The abandoned handlers finish late: their results are not taken.
          forever.resolve('too late');
          await sleep(50);
          expect((await jobOf(queue, stuck)).state).toBe('dead');
          expect((await jobOf(queue, stuck)).result).toBeUndefined();
          const { id: after } = await queue.enqueue('after');
          expect((await reaches(queue, after, 'completed')).result).toBe('ran');
        } finally {
          forever.resolve('too late');
          await closeAll([worker]);
        }
      },
    },
    {
      name: 'a job that finishes before its timeout completes normally and its signal never aborts',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        const ids = (
          await queue.enqueueMany(Array.from({ length: 5 }, (_, n) => ({ payload: n, timeoutMs: 300 })))
        ).map((result) => result.id);
        let aborts = 0;
        const worker = queue.work(
          async (job, { signal }) => {
            signal.addEventListener('abort', () => {
              aborts += 1;
            });
            await sleep(10);
            return job.payload * 2;
          },
          { concurrency: 2, timeoutMs: 50, pollIntervalMs: 10 },
        );
        try {
          for (const [n, id] of ids.entries()) expect((await reaches(queue, id, 'completed')).result).toBe(n * 2);
          await sleep(350);
        } finally {
          await closeAll([worker]);
        }
        expect(aborts).toBe(0);
      },
    },
  ],
);
