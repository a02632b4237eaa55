import type { QueueBackend } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { dequeueNow, hasQueue, jobOf, jobStats } from './queue-assertions.js';

/**
 * Deduplication keys: a key is held while its job waits or runs and freed once the job is completed, dead or
 * cancelled.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueDedupeGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueDedupeGroup, options);
 * ```
 */
export const queueDedupeGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-dedupe',
  [
    {
      name: "enqueueing a key that a waiting job holds returns that job's id, deduplicated, and keeps its payload",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<{ v: number }>();
        const first = await queue.enqueue({ v: 1 }, { dedupeKey: 'user:42' });
        expect(first.deduplicated).toBe(false);
        const second = await queue.enqueue({ v: 2 }, { dedupeKey: 'user:42', priority: 9 });
        expect(second).toStrictEqual({ id: first.id, deduplicated: true });
        const job = await jobOf(queue, first.id);
        expect(job.payload).toStrictEqual({ v: 1 });
        expect(job.priority).toBe(0);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1 }));
      },
    },
    {
      name: 'a delayed job holds its key while it waits',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const first = await queue.enqueue('later', { dedupeKey: 'nightly', delayMs: 60_000 });
        expect(await queue.enqueue('now', { dedupeKey: 'nightly' })).toStrictEqual({
          id: first.id,
          deduplicated: true,
        });
        expect(await queue.dequeue()).toBeNull();
      },
    },
    {
      name: "enqueueing a key that an active job holds returns that job's id, deduplicated",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const first = await queue.enqueue('running', { dedupeKey: 'sync' });
        const lease = await dequeueNow(queue);
        expect(lease.job.id).toBe(first.id);
        expect(await queue.enqueue('again', { dedupeKey: 'sync' })).toStrictEqual({
          id: first.id,
          deduplicated: true,
        });
        expect(await queue.stats()).toStrictEqual(jobStats({ active: 1 }));
        expect(await queue.dequeue()).toBeNull();
      },
    },
    {
      name: 'jobs without a key or with different keys are never deduplicated',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const results = [
          await queue.enqueue('a'),
          await queue.enqueue('a'),
          await queue.enqueue('a', { dedupeKey: 'k1' }),
          await queue.enqueue('a', { dedupeKey: 'K1' }),
          await queue.enqueue('a', { dedupeKey: 'k1 ' }),
        ];
        expect(results.map((result) => result.deduplicated)).toStrictEqual([false, false, false, false, false]);
        expect(new Set(results.map((result) => result.id)).size).toBe(5);
      },
    },
    {
      name: 'once the job holding a key is completed, the key is free and enqueue adds a new job',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const first = await queue.enqueue('one', { dedupeKey: 'report' });
        await queue.complete(await dequeueNow(queue));
        const second = await queue.enqueue('two', { dedupeKey: 'report' });
        expect(second.deduplicated).toBe(false);
        expect(second.id).not.toBe(first.id);
        expect((await jobOf(queue, second.id)).payload).toBe('two');
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1, completed: 1 }));
      },
    },
    {
      name: 'once the job holding a key is dead, the key is free',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const first = await queue.enqueue('one', { dedupeKey: 'report' });
        expect(await queue.fail(await dequeueNow(queue), new Error('broken'), { retry: false })).toBe('dead');
        const second = await queue.enqueue('two', { dedupeKey: 'report' });
        expect(second.deduplicated).toBe(false);
        expect(second.id).not.toBe(first.id);
      },
    },
    {
      name: 'once the job holding a key is cancelled, the key is free',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const first = await queue.enqueue('one', { dedupeKey: 'report' });
        expect(await queue.cancel(first.id)).toBe(true);
        const second = await queue.enqueue('two', { dedupeKey: 'report' });
        expect(second.deduplicated).toBe(false);
        expect(second.id).not.toBe(first.id);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1, cancelled: 1 }));
      },
    },
    {
      name: 'a failed job waiting for its retry still holds its key',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const first = await queue.enqueue('one', {
          dedupeKey: 'retrying',
          backoff: { type: 'fixed', delayMs: 60_000 },
        });
        expect(await queue.fail(await dequeueNow(queue), new Error('later'))).toBe('waiting');
        expect(await queue.enqueue('two', { dedupeKey: 'retrying' })).toStrictEqual({
          id: first.id,
          deduplicated: true,
        });
      },
    },
    {
      name: 'enqueueMany deduplicates within the call and against existing jobs',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const existing = await queue.enqueue('existing', { dedupeKey: 'old' });
        const results = await queue.enqueueMany([
          { payload: 'a', dedupeKey: 'new' },
          { payload: 'b', dedupeKey: 'old' },
          { payload: 'c', dedupeKey: 'new' },
          { payload: 'd' },
        ]);
        expect(results[0]?.deduplicated).toBe(false);
        expect(results[1]).toStrictEqual({ id: existing.id, deduplicated: true });
        expect(results[2]).toStrictEqual({ id: results[0]?.id, deduplicated: true });
        expect(results[3]?.deduplicated).toBe(false);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 3 }));
      },
    },
    {
      name: '20 concurrent enqueues with one key create exactly one job and all return its id',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, n) => queue.enqueue(n, { dedupeKey: 'thundering-herd' })),
        );
        const ids = new Set(results.map((result) => result.id));
        expect(ids.size, 'distinct job ids').toBe(1);
        expect(results.filter((result) => !result.deduplicated)).toHaveLength(1);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1 }));
        expect((await dequeueNow(queue)).job.id).toBe(results[0]?.id);
        expect(await queue.dequeue()).toBeNull();
      },
    },
    {
      name: 'concurrent enqueues with a key of a job completed meanwhile create at most one new job',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        await queue.enqueue(0, { dedupeKey: 'rolling' });
        const lease = await dequeueNow(queue);
        const [results] = await Promise.all([
          Promise.all(Array.from({ length: 10 }, (_, n) => queue.enqueue(n + 1, { dedupeKey: 'rolling' }))),
          queue.complete(lease),
        ]);
        const fresh = results.filter((result) => !result.deduplicated);
        expect(fresh.length).toBeLessThanOrEqual(1);
        const stats = await queue.stats();
        expect(stats.completed).toBe(1);
        expect(stats.waiting).toBe(fresh.length);
      },
    },
    {
      name: 'dedupe keys are per queue: the same key on two queues makes two jobs',
      requires: hasQueue,
      async run(context) {
        const mail = context.backend.queue<string>(context.queueName('mail'));
        const sms = context.backend.queue<string>(context.queueName('sms'));
        const a = await mail.enqueue('a', { dedupeKey: 'welcome:ada' });
        const b = await sms.enqueue('b', { dedupeKey: 'welcome:ada' });
        expect(a.deduplicated).toBe(false);
        expect(b.deduplicated).toBe(false);
        expect(a.id).not.toBe(b.id);
        expect((await jobOf(mail, a.id)).payload).toBe('a');
        expect((await jobOf(sms, b.id)).payload).toBe('b');
      },
    },
  ],
);
