import type { JobQueue, Lease, QueueBackend } from '@berth/core';
import { expect } from 'vitest';
import { expectBerthError, sleep } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import {
  dequeueNow,
  dequeueSoon,
  expectStampedBetween,
  hasQueue,
  jobOf,
  jobStats,
  waitFor,
  withToken,
} from './queue-assertions.js';

/** Short enough to wait out in a test, long enough to do a call or two inside it. */
const SHORT_LEASE_MS = 40;

/** Asserts complete, fail, extendLease and release all reject `lease` with CONFLICT (not retryable). */
async function expectLeaseRejected<T>(queue: JobQueue<T>, lease: Lease<T>): Promise<void> {
  const conflict = { retryable: false };
  await expectBerthError(() => queue.complete(lease, { done: true }), 'CONFLICT', conflict);
  await expectBerthError(() => queue.fail(lease, new Error('late failure')), 'CONFLICT', conflict);
  await expectBerthError(() => queue.fail(lease, new Error('late failure'), { retry: false }), 'CONFLICT', conflict);
  await expectBerthError(() => queue.extendLease(lease, 60_000), 'CONFLICT', conflict);
  await expectBerthError(() => queue.release(lease), 'CONFLICT', conflict);
}

/**
 * Leases: `dequeue` leases a job with its own token, an expired lease is redelivered and invalid, and stale
 * tokens are refused with `CONFLICT`.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueLeaseGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueLeaseGroup, options);
 * ```
 */
export const queueLeaseGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-lease',
  [
    {
      name: 'dequeue leases the job: active, one attempt, a token and expiresAt = now + leaseMs',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<{ n: number }>();
        const { id } = await queue.enqueue({ n: 1 });
        const before = Date.now();
        const lease = await dequeueNow(queue);
        const after = Date.now();
        expect(lease.job.id).toBe(id);
        expect(lease.job.payload).toStrictEqual({ n: 1 });
        expect(lease.job.state).toBe('active');
        expect(lease.job.attempts).toBe(1);
        expect(typeof lease.token).toBe('string');
        expect(lease.token.length).toBeGreaterThan(0);
        expectStampedBetween(lease.expiresAt, before + 30_000, after + 30_000, 'expiresAt');
        expect(lease.job.leaseExpiresAt).toStrictEqual(lease.expiresAt);
        const stored = await jobOf(queue, id);
        expect(stored.state).toBe('active');
        expect(stored.attempts).toBe(1);
        expect(stored.leaseExpiresAt).toStrictEqual(lease.expiresAt);
        expect(await queue.stats()).toStrictEqual(jobStats({ active: 1 }));
      },
    },
    {
      name: "the lease lasts the job's leaseMs, or the leaseMs passed to dequeue",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        await queue.enqueue('own', { leaseMs: 5_000 });
        await queue.enqueue('override', { leaseMs: 5_000 });
        let before = Date.now();
        const own = await dequeueNow(queue);
        expectStampedBetween(own.expiresAt, before + 5_000, Date.now() + 5_000, "the job's own lease");
        before = Date.now();
        const override = await dequeueNow(queue, { leaseMs: 120_000 });
        expectStampedBetween(override.expiresAt, before + 120_000, Date.now() + 120_000, 'the overridden lease');
      },
    },
    {
      name: 'a leased job is not delivered again while its lease is valid',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        await queue.enqueue('once');
        const lease = await dequeueNow(queue);
        expect(await queue.dequeue()).toBeNull();
        expect(await queue.dequeueMany(10)).toStrictEqual([]);
        await sleep(20);
        expect(await queue.dequeue()).toBeNull();
        await queue.complete(lease);
        expect(await queue.dequeue()).toBeNull();
      },
    },
    {
      name: 'every lease gets its own token',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        await queue.enqueueMany(Array.from({ length: 10 }, (_, payload) => ({ payload })));
        const leases = await queue.dequeueMany(10);
        expect(leases).toHaveLength(10);
        expect(new Set(leases.map((lease) => lease.token)).size).toBe(10);
      },
    },
    {
      name: 'a job whose lease expired is delivered again with a new token, its attempt counted and recorded as "lease expired"',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('flaky worker', { leaseMs: SHORT_LEASE_MS });
        const before = Date.now();
        const first = await dequeueNow(queue);
        const second = await dequeueSoon(queue, 'the job whose lease expired');
        expect(second.receivedAt - before, 'delivered again before the lease expired').toBeGreaterThanOrEqual(
          SHORT_LEASE_MS - 2,
        );
        expect(second.lease.job.id).toBe(id);
        expect(second.lease.token).not.toBe(first.token);
        expect(second.lease.job.state).toBe('active');
        expect(second.lease.job.attempts).toBe(2);
        expect(second.lease.expiresAt.getTime()).toBeGreaterThan(first.expiresAt.getTime());
        const job = await jobOf(queue, id);
        expect(job.errors).toHaveLength(1);
        expect(job.errors[0]?.attempt).toBe(1);
        expect(job.errors[0]?.message).toMatch(/lease expired/i);
        expect(job.errors[0]?.at).toBeInstanceOf(Date);
      },
    },
    {
      name: "an expired lease is redelivered even when another job's lease was extended past it",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        await queue.enqueue('extended');
        const { id } = await queue.enqueue('abandoned');
        const extended = await dequeueNow(queue, { leaseMs: SHORT_LEASE_MS });
        const abandoned = await dequeueNow(queue, { leaseMs: SHORT_LEASE_MS * 2 });
        expect(abandoned.job.id).toBe(id);
        await queue.extendLease(extended, 60_000);
        const { lease } = await dequeueSoon(queue, 'the job whose lease expired');
        expect(lease.job.id).toBe(id);
        expect(lease.job.attempts).toBe(2);
      },
    },
    {
      name: "after a redelivery, the old lease's complete, fail, extendLease and release are CONFLICT and change nothing",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('contended', { leaseMs: SHORT_LEASE_MS });
        const stale = await dequeueNow(queue);
        const { lease: current } = await dequeueSoon(queue, 'the redelivered job', { leaseMs: 60_000 });
        const before = await jobOf(queue, id);
        await expectLeaseRejected(queue, stale);
        expect(await jobOf(queue, id)).toStrictEqual(before);
        expect(await queue.stats()).toStrictEqual(jobStats({ active: 1 }));
        // The current lease still works.
        await queue.complete(current, 'done');
        expect((await jobOf(queue, id)).state).toBe('completed');
      },
    },
    {
      name: 'an expired lease is invalid even when nobody has taken the job since',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('abandoned', { leaseMs: SHORT_LEASE_MS });
        const lease = await dequeueNow(queue);
        await sleep(SHORT_LEASE_MS * 3);
        await expectLeaseRejected(queue, lease);
        const job = await jobOf(queue, id);
        expect(job.state).not.toBe('completed');
        expect(job.result).toBeUndefined();
        const again = await dequeueNow(queue);
        expect(again.job.id).toBe(id);
        expect(again.job.attempts).toBe(2);
      },
    },
    {
      name: 'a made-up token or the token of another job is CONFLICT and changes nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        await queue.enqueue('a');
        await queue.enqueue('b');
        const a = await dequeueNow(queue);
        const b = await dequeueNow(queue);
        const beforeA = await jobOf(queue, a.job.id);
        await expectLeaseRejected(queue, withToken(a, `${a.token}x`));
        await expectLeaseRejected(queue, withToken(a, b.token));
        await expectLeaseRejected(queue, { ...a, job: { ...a.job, id: 'missing-job' } });
        expect(await jobOf(queue, a.job.id)).toStrictEqual(beforeA);
        await queue.complete(a);
        await queue.complete(b);
      },
    },
    {
      name: 'a lease is invalid once the job is completed: completing or failing it again is CONFLICT',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('twice');
        const lease = await dequeueNow(queue);
        await queue.complete(lease, 1);
        const completed = await jobOf(queue, id);
        await expectLeaseRejected(queue, lease);
        expect(await jobOf(queue, id)).toStrictEqual(completed);
      },
    },
    {
      name: 'extendLease pushes expiresAt to now + leaseMs and keeps the job from being delivered past the original expiry',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('long task');
        const lease = await dequeueNow(queue, { leaseMs: 250 });
        const before = Date.now();
        const extended = await queue.extendLease(lease, 2_000);
        expectStampedBetween(extended.expiresAt, before + 2_000, Date.now() + 2_000, 'extended expiresAt');
        expect(extended.expiresAt.getTime()).toBeGreaterThan(lease.expiresAt.getTime());
        expect(extended.job.id).toBe(id);
        expect(extended.job.state).toBe('active');
        expect(extended.job.attempts).toBe(1);
        expect((await jobOf(queue, id)).leaseExpiresAt).toStrictEqual(extended.expiresAt);
        // Past the original expiry, the job is still leased to us.
        const until = Date.now() + 450;
        while (Date.now() < until) {
          expect(await queue.dequeue()).toBeNull();
          await sleep(10);
        }
        await queue.complete(extended, 'finished late');
        const job = await jobOf(queue, id);
        expect(job.state).toBe('completed');
        expect(job.attempts).toBe(1);
        expect(job.errors).toStrictEqual([]);
      },
    },
    {
      name: "extendLease without a duration renews by the job's leaseMs",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        await queue.enqueue('renew', { leaseMs: 45_000 });
        const lease = await dequeueNow(queue, { leaseMs: 1_000 });
        const before = Date.now();
        const extended = await queue.extendLease(lease);
        expectStampedBetween(extended.expiresAt, before + 45_000, Date.now() + 45_000, 'renewed expiresAt');
      },
    },
    {
      name: 'release gives the job back as due now without counting the attempt',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('shutting down');
        await queue.enqueue('next in line');
        const lease = await dequeueNow(queue);
        expect(lease.job.id).toBe(id);
        await queue.release(lease);
        const released = await jobOf(queue, id);
        expect(released.state).toBe('waiting');
        expect(released.attempts).toBe(0);
        expect(released.leaseExpiresAt).toBeUndefined();
        expect(released.errors).toStrictEqual([]);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 2 }));
        await expectLeaseRejected(queue, lease);
        const again = await dequeueSoon(queue, 'the released job');
        const ids = [again.lease.job.id];
        const other = await dequeueNow(queue);
        ids.push(other.job.id);
        expect(ids).toContain(id);
        const redelivered = again.lease.job.id === id ? again.lease : other;
        expect(redelivered.job.attempts).toBe(1);
        expect(redelivered.token).not.toBe(lease.token);
      },
    },
    {
      name: 'an expired lease on the last attempt makes the job dead with a "lease expired" error instead of delivering it',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('last chance', { maxAttempts: 1, leaseMs: SHORT_LEASE_MS });
        const lease = await dequeueNow(queue);
        const job = await waitFor('the job to go dead', async () => {
          expect(await queue.dequeue(), 'a job out of attempts was delivered again').toBeNull();
          const current = await jobOf(queue, id);
          return current.state === 'dead' ? current : null;
        });
        expect(job.attempts).toBe(1);
        expect(job.errors).toHaveLength(1);
        expect(job.errors[0]?.attempt).toBe(1);
        expect(job.errors[0]?.message).toMatch(/lease expired/i);
        expect(job.finishedAt).toBeInstanceOf(Date);
        expect(job.leaseExpiresAt).toBeUndefined();
        expect(await queue.stats()).toStrictEqual(jobStats({ dead: 1 }));
        await expectLeaseRejected(queue, lease);
      },
    },
    {
      name: 'no double lease: 20 concurrent consumers of 50 jobs complete each exactly once, never two holding one job',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        const results = await queue.enqueueMany(Array.from({ length: 50 }, (_, payload) => ({ payload })));
        const ids = results.map((result) => result.id);
        const held = new Set<string>();
        const completions = new Map<string, number>();
        const overlaps: string[] = [];
        const consume = async (consumer: number): Promise<void> => {
          for (;;) {
            const lease = await queue.dequeue();
            if (lease === null) return;
            if (held.has(lease.job.id)) overlaps.push(lease.job.id);
            held.add(lease.job.id);
            // Yield so that the other consumers run while this one holds the lease.
            await sleep(consumer % 3);
            await queue.complete(lease, consumer);
            held.delete(lease.job.id);
            completions.set(lease.job.id, (completions.get(lease.job.id) ?? 0) + 1);
          }
        };
        await Promise.all(Array.from({ length: 20 }, (_, consumer) => consume(consumer)));
        expect(overlaps, 'jobs held by two leases at once').toStrictEqual([]);
        expect([...completions.keys()].sort()).toStrictEqual([...ids].sort());
        expect([...completions.values()].every((count) => count === 1)).toBe(true);
        expect(await queue.stats()).toStrictEqual(jobStats({ completed: 50 }));
        for (const id of ids) expect((await jobOf(queue, id)).attempts).toBe(1);
      },
    },
    {
      name: 'concurrent dequeueMany calls never hand out one job twice',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        await queue.enqueueMany(Array.from({ length: 30 }, (_, payload) => ({ payload })));
        const batches = await Promise.all(Array.from({ length: 6 }, () => queue.dequeueMany(8)));
        const leased = batches.flat().map((lease) => lease.job.payload);
        expect(leased).toHaveLength(30);
        expect(new Set(leased).size).toBe(30);
        expect(await queue.dequeue()).toBeNull();
      },
    },
  ],
);
