import type { Job, JobQueue, PurgeOptions, QueueBackend } from '@berth/core';
import { expect } from 'vitest';
import { expectBerthError, invalid, sleep } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { dequeueNow, expectStampedBetween, hasQueue, jobOf, jobStats, NO_JOBS } from './queue-assertions.js';

/** Leases the next job, which must be `id`. */
async function leaseOf<T>(queue: JobQueue<T>, id: string) {
  const lease = await dequeueNow(queue);
  expect(lease.job.id).toBe(id);
  return lease;
}

function latestFinish(jobs: readonly Job<unknown>[]): number {
  return Math.max(
    ...jobs.map((job) => {
      if (job.finishedAt === undefined) return expect.unreachable(`job ${job.id} has no finishedAt`);
      return job.finishedAt.getTime();
    }),
  );
}

/**
 * The single-job admin calls: `get`, `cancel`, `retry`, `stats` and `purge`.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueAdminGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueAdminGroup, options);
 * ```
 */
export const queueAdminGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-admin',
  [
    {
      name: 'get of a missing job returns null',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        expect(await queue.get('missing')).toBeNull();
        await queue.enqueue('present');
        expect(await queue.get('missing')).toBeNull();
        expect(await queue.get('00000000-0000-7000-8000-000000000000')).toBeNull();
      },
    },
    {
      name: 'cancel of a waiting job returns true, makes it cancelled and it is never delivered',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('unwanted');
        const { id: delayedId } = await queue.enqueue('unwanted later', { delayMs: 30 });
        const before = Date.now();
        expect(await queue.cancel(id)).toBe(true);
        expect(await queue.cancel(delayedId)).toBe(true);
        const after = Date.now();
        const job = await jobOf(queue, id);
        expect(job.state).toBe('cancelled');
        expectStampedBetween(job.finishedAt, before, after, 'finishedAt');
        expect(await queue.dequeue()).toBeNull();
        await sleep(60);
        expect(await queue.dequeue()).toBeNull();
        expect(await queue.stats()).toStrictEqual(jobStats({ cancelled: 2 }));
        expect(await queue.cancel(id)).toBe(false);
      },
    },
    {
      name: "cancel of an active job returns true and invalidates its lease: the lease's complete is CONFLICT",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('in progress');
        const lease = await leaseOf(queue, id);
        expect(await queue.cancel(id)).toBe(true);
        const cancelled = await jobOf(queue, id);
        expect(cancelled.state).toBe('cancelled');
        expect(cancelled.leaseExpiresAt).toBeUndefined();
        await expectBerthError(() => queue.complete(lease, 'too late'), 'CONFLICT', { retryable: false });
        await expectBerthError(() => queue.fail(lease, new Error('too late')), 'CONFLICT', { retryable: false });
        await expectBerthError(() => queue.extendLease(lease), 'CONFLICT', { retryable: false });
        await expectBerthError(() => queue.release(lease), 'CONFLICT', { retryable: false });
        expect(await jobOf(queue, id)).toStrictEqual(cancelled);
        expect(await queue.dequeue()).toBeNull();
      },
    },
    {
      name: 'cancel of a completed, dead, cancelled or missing job returns false and changes nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id: completed } = await queue.enqueue('completed');
        await queue.complete(await leaseOf(queue, completed));
        const { id: dead } = await queue.enqueue('dead');
        await queue.fail(await leaseOf(queue, dead), new Error('x'), { retry: false });
        const { id: cancelled } = await queue.enqueue('cancelled');
        await queue.cancel(cancelled);
        const ids = [completed, dead, cancelled];
        const before = await Promise.all(ids.map((id) => jobOf(queue, id)));
        for (const id of ids) expect(await queue.cancel(id), id).toBe(false);
        expect(await queue.cancel('missing')).toBe(false);
        expect(await Promise.all(ids.map((id) => jobOf(queue, id)))).toStrictEqual(before);
      },
    },
    {
      name: 'stats counts jobs per state, waiting including jobs not yet due',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        expect(await queue.stats()).toStrictEqual(NO_JOBS);
        const ids: string[] = [];
        for (const name of ['complete-1', 'complete-2', 'dead', 'retry', 'active', 'cancel-active']) {
          ids.push((await queue.enqueue(name, { backoff: { type: 'fixed', delayMs: 60_000 } })).id);
        }
        await queue.enqueue('waiting-now');
        await queue.enqueue('waiting-later', { delayMs: 60_000 });
        const { id: cancelWaiting } = await queue.enqueue('cancel-waiting', { delayMs: 60_000 });
        const [c1, c2, dead, retry, active, cancelActive] = await queue.dequeueMany(6);
        if (c1 === undefined || c2 === undefined || dead === undefined || retry === undefined) {
          return expect.unreachable('fewer than six jobs were leased');
        }
        expect([c1, c2, dead, retry, active, cancelActive].map((lease) => lease?.job.id)).toStrictEqual(ids);
        expect(await queue.stats()).toStrictEqual({ waiting: 3, active: 6, completed: 0, dead: 0, cancelled: 0 });
        await queue.complete(c1);
        await queue.complete(c2, { ok: true });
        await queue.fail(dead, new Error('fatal'), { retry: false });
        await queue.fail(retry, new Error('transient'));
        await queue.cancel(cancelActive?.job.id ?? '');
        await queue.cancel(cancelWaiting);
        await queue.enqueue('waiting-new');
        expect(await queue.stats()).toStrictEqual({ waiting: 4, active: 1, completed: 2, dead: 1, cancelled: 2 });
        await queue.retry(dead.job.id);
        expect(await queue.stats()).toStrictEqual({ waiting: 5, active: 1, completed: 2, dead: 0, cancelled: 2 });
      },
    },
    {
      name: 'purge removes finished jobs that finished before the bound and returns how many',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id: completed } = await queue.enqueue('completed');
        await queue.complete(await leaseOf(queue, completed));
        const { id: dead } = await queue.enqueue('dead');
        await queue.fail(await leaseOf(queue, dead), new Error('x'), { retry: false });
        const { id: cancelled } = await queue.enqueue('cancelled');
        await queue.cancel(cancelled);
        const early = await Promise.all([completed, dead, cancelled].map((id) => jobOf(queue, id)));
        // Bounds are taken from the engine's own timestamps, so clock skew cannot move a job across them.
        const bound = new Date(latestFinish(early) + 1);
        await sleep(20);
        const { id: lateCompleted } = await queue.enqueue('late');
        await queue.complete(await leaseOf(queue, lateCompleted));
        const { id: active } = await queue.enqueue('active');
        await leaseOf(queue, active);
        const { id: waiting } = await queue.enqueue('waiting');
        expect(latestFinish([await jobOf(queue, lateCompleted)])).toBeGreaterThanOrEqual(bound.getTime());

        expect(await queue.purge({ finishedBefore: bound })).toBe(3);
        for (const id of [completed, dead, cancelled]) expect(await queue.get(id), id).toBeNull();
        for (const id of [lateCompleted, active, waiting]) expect(await queue.get(id), id).not.toBeNull();
        expect(await queue.stats()).toStrictEqual({ waiting: 1, active: 1, completed: 1, dead: 0, cancelled: 0 });
        expect(await queue.purge({ finishedBefore: bound })).toBe(0);
      },
    },
    {
      name: 'purge with states removes only finished jobs of the listed states',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const finish = async (how: 'completed' | 'dead' | 'cancelled'): Promise<string> => {
          const { id } = await queue.enqueue(how);
          if (how === 'cancelled') await queue.cancel(id);
          else {
            const lease = await leaseOf(queue, id);
            if (how === 'completed') await queue.complete(lease);
            else await queue.fail(lease, new Error('x'), { retry: false });
          }
          return id;
        };
        const ids = {
          completed: [await finish('completed'), await finish('completed')],
          dead: [await finish('dead')],
          cancelled: [await finish('cancelled')],
        };
        const all = await Promise.all(
          Object.values(ids)
            .flat()
            .map((id) => jobOf(queue, id)),
        );
        const bound = new Date(latestFinish(all) + 1);
        const { id: waiting } = await queue.enqueue('waiting');

        expect(await queue.purge({ finishedBefore: bound, states: ['completed'] })).toBe(2);
        expect(await queue.stats()).toStrictEqual({ waiting: 1, active: 0, completed: 0, dead: 1, cancelled: 1 });
        expect(await queue.purge({ finishedBefore: bound, states: ['dead', 'cancelled'] })).toBe(2);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1 }));
        expect(await queue.get(waiting)).not.toBeNull();
      },
    },
    {
      name: 'purge never removes waiting or active jobs, even with a bound in the future',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id: active } = await queue.enqueue('active');
        await leaseOf(queue, active);
        await queue.enqueue('waiting');
        await queue.enqueue('delayed', { delayMs: 60_000 });
        const future = new Date(Date.now() + 3_600_000);
        expect(await queue.purge({ finishedBefore: future })).toBe(0);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 2, active: 1 }));
      },
    },
    {
      name: 'purge without a valid finishedBefore Date is a VALIDATION error and removes nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('done');
        await queue.complete(await leaseOf(queue, id));
        for (const options of [{}, { finishedBefore: new Date(Number.NaN) }, { finishedBefore: '2030-01-01' }]) {
          await expectBerthError(() => queue.purge(invalid<PurgeOptions>(options)), 'VALIDATION');
        }
        expect(await queue.stats()).toStrictEqual(jobStats({ completed: 1 }));
      },
    },
    {
      name: 'a purged dedupe key stays free, and purging one queue leaves another untouched',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const other = context.backend.queue<string>(context.queueName('other'));
        const { id } = await queue.enqueue('one', { dedupeKey: 'k' });
        await queue.complete(await leaseOf(queue, id));
        const { id: otherId } = await other.enqueue('x');
        await other.complete(await leaseOf(other, otherId));
        const future = new Date(Date.now() + 3_600_000);
        expect(await queue.purge({ finishedBefore: future })).toBe(1);
        expect(await other.stats()).toStrictEqual(jobStats({ completed: 1 }));
        expect((await queue.enqueue('two', { dedupeKey: 'k' })).deduplicated).toBe(false);
      },
    },
  ],
);
