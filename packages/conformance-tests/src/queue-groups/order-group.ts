import type { JobQueue, QueueBackend } from '@berth/core';
import { expect } from 'vitest';
import { sleep } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { dequeueSoon, hasQueue, jobOf, SOON_MS } from './queue-assertions.js';
import { runQueueModel } from './queue-model.js';

/** Dequeues until the queue is empty, completing each job; returns the payloads in delivery order. */
async function drain<T>(queue: JobQueue<T>): Promise<T[]> {
  const payloads: T[] = [];
  for (;;) {
    const lease = await queue.dequeue();
    if (lease === null) return payloads;
    payloads.push(lease.job.payload);
    await queue.complete(lease);
  }
}

/**
 * Slack for the rounding of an engine that stores times with less precision
 * than a millisecond clock reads them.
 */
const ROUNDING_MS = 2;

/**
 * Delivery order: priority first, then due time, then enqueue order (first in, first out).
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueOrderGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueOrderGroup, options);
 * ```
 */
export const queueOrderGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-order',
  [
    {
      name: 'jobs of equal priority and due time are delivered first in, first out',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const runAt = new Date(Date.now() - 1_000);
        for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) await queue.enqueue(name, { runAt });
        expect(await drain(queue)).toStrictEqual(['a', 'b', 'c', 'd', 'e', 'f']);
      },
    },
    {
      name: 'enqueueMany keeps the order of its items for jobs that tie',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const runAt = new Date(Date.now() - 1_000);
        await queue.enqueueMany(['m1', 'm2', 'm3', 'm4'].map((payload) => ({ payload, runAt })));
        expect(await drain(queue)).toStrictEqual(['m1', 'm2', 'm3', 'm4']);
      },
    },
    {
      name: 'higher priority is delivered first, whatever the enqueue order, negative priorities last',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        await queue.enqueue('p0-first');
        await queue.enqueue('p5-first', { priority: 5 });
        await queue.enqueue('p-1', { priority: -1 });
        await queue.enqueue('p5-second', { priority: 5 });
        await queue.enqueue('p10', { priority: 10 });
        await queue.enqueue('p0-second', { priority: 0 });
        expect(await drain(queue)).toStrictEqual(['p10', 'p5-first', 'p5-second', 'p0-first', 'p0-second', 'p-1']);
      },
    },
    {
      name: 'among equal priorities the earliest runAt is delivered first, and a runAt in the past is due now',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const now = Date.now();
        await queue.enqueue('due-now');
        await queue.enqueue('1s-ago', { runAt: new Date(now - 1_000) });
        await queue.enqueue('3s-ago', { runAt: new Date(now - 3_000) });
        await queue.enqueue('2s-ago', { runAt: new Date(now - 2_000) });
        await queue.enqueue('an-hour-ago', { runAt: new Date(now - 3_600_000) });
        expect(await drain(queue)).toStrictEqual(['an-hour-ago', '3s-ago', '2s-ago', '1s-ago', 'due-now']);
      },
    },
    {
      name: 'priority decides before due time, and due time before enqueue order',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const now = Date.now();
        await queue.enqueue('p0-old', { runAt: new Date(now - 60_000) });
        await queue.enqueue('p1-new', { priority: 1 });
        await queue.enqueue('p1-old', { priority: 1, runAt: new Date(now - 30_000) });
        await queue.enqueue('p0-new');
        await queue.enqueue('p1-new-2', { priority: 1 });
        expect(await drain(queue)).toStrictEqual(['p1-old', 'p1-new', 'p1-new-2', 'p0-old', 'p0-new']);
      },
    },
    {
      name: 'a job enqueued with delayMs is never delivered before it is due, and is delivered once it is',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const delayMs = 80;
        const before = Date.now();
        const { id } = await queue.enqueue('delayed', { delayMs });
        expect(await queue.dequeue()).toBeNull();
        const { lease, receivedAt } = await dequeueSoon(queue, 'the delayed job', {}, delayMs + SOON_MS);
        expect(lease.job.id).toBe(id);
        expect(receivedAt - before, 'delivered before it was due').toBeGreaterThanOrEqual(delayMs - ROUNDING_MS);
      },
    },
    {
      name: 'a job enqueued with a runAt in the future is never delivered before it, and is delivered once due',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const runAt = Date.now() + 80;
        const { id } = await queue.enqueue('scheduled', { runAt: new Date(runAt) });
        expect(await queue.dequeue()).toBeNull();
        expect(await queue.dequeueMany(5)).toStrictEqual([]);
        const { lease, receivedAt } = await dequeueSoon(queue, 'the scheduled job', {}, 80 + SOON_MS);
        expect(lease.job.id).toBe(id);
        expect(receivedAt, 'delivered before runAt').toBeGreaterThanOrEqual(runAt - ROUNDING_MS);
      },
    },
    {
      name: 'a job that is not yet due is skipped even when its priority is higher',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        await queue.enqueue('urgent-later', { priority: 100, delayMs: 60_000 });
        await queue.enqueue('far-future', { runAt: new Date(Date.now() + 3_600_000) });
        await queue.enqueue('normal-now');
        expect(await drain(queue)).toStrictEqual(['normal-now']);
        const stats = await queue.stats();
        expect(stats.waiting).toBe(2);
      },
    },
    {
      name: 'a delayed job joins the order by priority once due',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('high-delayed', { priority: 9, delayMs: 40 });
        await queue.enqueue('low-1');
        await queue.enqueue('low-2');
        const job = await jobOf(queue, id);
        // Wait until the delayed job is due by the engine's clock as well.
        await sleep(Math.max(0, job.runAt.getTime() - Date.now()) + 60);
        expect(await drain(queue)).toStrictEqual(['high-delayed', 'low-1', 'low-2']);
      },
    },
    {
      name: 'dequeueMany leases up to count due jobs in delivery order',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        await queue.enqueue('c');
        await queue.enqueue('a', { priority: 2 });
        await queue.enqueue('later', { priority: 50, delayMs: 60_000 });
        await queue.enqueue('b', { priority: 1 });
        await queue.enqueue('d');
        await queue.enqueue('e', { priority: -1 });
        const first = await queue.dequeueMany(3);
        expect(first.map((lease) => lease.job.payload)).toStrictEqual(['a', 'b', 'c']);
        for (const lease of first) {
          expect(lease.job.state).toBe('active');
          expect(lease.job.attempts).toBe(1);
        }
        expect(new Set(first.map((lease) => lease.token)).size).toBe(3);
        const rest = await queue.dequeueMany(10);
        expect(rest.map((lease) => lease.job.payload)).toStrictEqual(['d', 'e']);
        expect(await queue.dequeueMany(10)).toStrictEqual([]);
        const stats = await queue.stats();
        expect(stats.active).toBe(5);
        expect(stats.waiting).toBe(1);
      },
    },
    {
      name: 'retrying a cancelled job does not disturb the order of the other jobs',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const now = Date.now();
        await queue.enqueue('x', { runAt: new Date(now - 1_000) });
        const { id } = await queue.enqueue('y', { runAt: new Date(now - 500) });
        await queue.enqueue('z', { runAt: new Date(now - 100) });
        await queue.enqueue('d', { runAt: new Date(now - 400) });
        expect(await queue.cancel(id)).toBe(true);
        expect(await queue.retry(id)).toBe(true);
        // y is due again from the retry on, so it now comes last.
        expect(await drain(queue)).toStrictEqual(['x', 'd', 'z', 'y']);
      },
    },
    {
      name: 'random enqueues, dequeues, fails, releases, cancels and retries always deliver in the order of the model',
      requires: hasQueue,
      async run(context) {
        const fixed = process.env.BERTH_CONFORMANCE_SEED;
        if (fixed !== undefined && fixed.trim() !== '') {
          await runQueueModel(context.backend.queue<number>(context.queueName('model')), Number(fixed), 150);
          return;
        }
        // As many random runs as a quarter of the case's time allows, so slow
        // engines still finish; each failure names its seed for a replay with
        // BERTH_CONFORMANCE_SEED.
        const deadline = Date.now() + context.timeoutMs / 4;
        for (let run = 0; run < 20 && (run < 2 || Date.now() < deadline); run++) {
          const seed = (Math.random() * 0x7fffffff) | 0;
          await runQueueModel(context.backend.queue<number>(context.queueName('model')), seed, 150);
        }
      },
    },
    {
      name: 'dequeue on an empty queue returns null and dequeueMany an empty array',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        expect(await queue.dequeue()).toBeNull();
        expect(await queue.dequeueMany(5)).toStrictEqual([]);
        await queue.enqueue('only');
        await queue.complete(await dequeueSoon(queue).then(({ lease }) => lease));
        expect(await queue.dequeue()).toBeNull();
        expect(await queue.dequeueMany(5)).toStrictEqual([]);
      },
    },
  ],
);
