import type { DocumentValue, JobEvent, JobQueue, QueueBackend, SettleAndClaimResult, Settlement } from '@berth/core';
import { expect } from 'vitest';
import { expectBerthError, invalid } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { repeated } from './admin-fixtures.js';
import { dequeueNow, hasQueue, jobOf, jobStats, withToken } from './queue-assertions.js';

type SettleAndClaim<T> = NonNullable<JobQueue<T>['settleAndClaim']>;

/**
 * The queue's settleAndClaim. The suite registers this group only for
 * adapters whose queues have one (see `queueConformance`), so a missing
 * method here is a failure.
 */
function settleAndClaimOf<T>(queue: JobQueue<T>): SettleAndClaim<T> {
  const method = queue.settleAndClaim;
  if (typeof method !== 'function') return expect.unreachable('the queue has no settleAndClaim');
  return method.bind(queue) as SettleAndClaim<T>;
}

function outcomeOf<T>(result: SettleAndClaimResult<T>, index: number) {
  return result.outcomes[index] ?? expect.unreachable(`no outcome ${index}`);
}

/**
 * `settleAndClaim`: one outcome per settlement, claims in delivery order, the same events as the separate
 * calls, and no job handed out twice. Registered by `queueConformance` only when the adapter's queues have the
 * method.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueSettleAndClaimGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueSettleAndClaimGroup, options);
 * ```
 */
export const queueSettleAndClaimGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-settle-and-claim',
  [
    {
      name: 'each settlement gets its own outcome: completed, waiting, dead, or the CONFLICT of a stale lease and the VALIDATION of a bad result, which stop nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const settle = settleAndClaimOf(queue);
        for (const name of ['complete', 'retry', 'kill', 'stale', 'bad result', 'after']) {
          await queue.enqueue(name, { maxAttempts: 3, backoff: { type: 'fixed', delayMs: 60_000 } });
        }
        const leases = await queue.dequeueMany(6);
        const [complete, retry, kill, stale, badResult, after] = leases.map((lease) => lease);
        if (after === undefined || complete === undefined || retry === undefined || kill === undefined) {
          return expect.unreachable('fewer than six leases');
        }
        const settlements: Settlement[] = [
          { lease: complete, outcome: 'complete', result: { sent: true } },
          { lease: retry, outcome: 'fail', error: new Error('try again') },
          { lease: kill, outcome: 'fail', error: new Error('fatal'), retry: false },
          { lease: withToken(stale as (typeof leases)[number], 'stale-token'), outcome: 'fail', error: new Error('x') },
          { lease: badResult as (typeof leases)[number], outcome: 'complete', result: invalid<DocumentValue>(() => 1) },
          { lease: after, outcome: 'complete' },
        ];
        const result = await settle(settlements, 0);
        expect(result.leases).toStrictEqual([]);
        expect(result.outcomes).toHaveLength(6);
        expect(outcomeOf(result, 0)).toMatchObject({ state: 'completed' });
        expect(outcomeOf(result, 1)).toMatchObject({ state: 'waiting' });
        expect(outcomeOf(result, 2)).toMatchObject({ state: 'dead' });
        expect(outcomeOf(result, 5)).toMatchObject({ state: 'completed' });
        await expectBerthError(Promise.reject(outcomeOf(result, 3).error), 'CONFLICT');
        await expectBerthError(Promise.reject(outcomeOf(result, 4).error), 'VALIDATION');
        expect(outcomeOf(result, 3).state).toBeUndefined();
        expect((await jobOf(queue, complete.job.id)).result).toStrictEqual({ sent: true });
        expect((await jobOf(queue, retry.job.id)).errors.map((error) => error.message)).toStrictEqual(['try again']);
        expect((await jobOf(queue, kill.job.id)).state).toBe('dead');
        // The refused settlements left their jobs active, their real leases still valid.
        expect(await queue.stats()).toStrictEqual(jobStats({ completed: 2, waiting: 1, dead: 1, active: 2 }));
        await queue.complete(stale as (typeof leases)[number]);
        await queue.complete(badResult as (typeof leases)[number], 'fine');
        await expectBerthError(() => queue.complete(complete), 'CONFLICT');
      },
    },
    {
      name: 'after settling, up to count jobs are claimed in delivery order (priority, due time, enqueue order) with the leaseMs given',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const settle = settleAndClaimOf(queue);
        const { id: first } = await queue.enqueue('first', { priority: 10 });
        const lease = await dequeueNow(queue);
        const low = (await queue.enqueue('low', { priority: -1 })).id;
        const early = (await queue.enqueue('early', { runAt: new Date(Date.now() - 60_000) })).id;
        const plainA = (await queue.enqueue('plain a')).id;
        const plainB = (await queue.enqueue('plain b')).id;
        const high = (await queue.enqueue('high', { priority: 5 })).id;
        await queue.enqueue('later', { delayMs: 60_000 });
        const before = Date.now();
        const result = await settle([{ lease, outcome: 'fail', error: new Error('again'), retryAfterMs: 0 }], 4, {
          leaseMs: 7_000,
        });
        expect(result.outcomes).toStrictEqual([{ state: 'waiting' }]);
        // The job failed in this very call is due again at once, and its priority puts it first.
        expect(result.leases.map((claimed) => claimed.job.id)).toStrictEqual([first, high, early, plainA]);
        for (const claimed of result.leases) {
          expect(claimed.job.state).toBe('active');
          expect(claimed.token).toBeTypeOf('string');
          expect(claimed.expiresAt.getTime()).toBeGreaterThanOrEqual(before + 7_000 - 2_000);
          expect(claimed.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 7_000 + 2_000);
        }
        expect(result.leases[0]?.job.attempts).toBe(2);
        const rest = await settle(
          result.leases.map((claimed) => ({ lease: claimed, outcome: 'complete' as const })),
          10,
        );
        expect(rest.outcomes).toStrictEqual(result.leases.map(() => ({ state: 'completed' })));
        expect(rest.leases.map((claimed) => claimed.job.id)).toStrictEqual([plainB, low]);
        expect(await queue.stats()).toStrictEqual(jobStats({ completed: 4, active: 2, waiting: 1 }));
      },
    },
    {
      name: 'settleAndClaim emits the events the separate calls would: completed, failed, dead, then started for each claim',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const settle = settleAndClaimOf(queue);
        await queue.enqueueMany(['a', 'b', 'c'].map((payload) => ({ payload, maxAttempts: 2 })));
        const leases = await queue.dequeueMany(3);
        const { id: next } = await queue.enqueue('next');
        const events: JobEvent[] = [];
        const stop = queue.subscribe((event) => events.push(event));
        const [a, b, c] = leases;
        if (a === undefined || b === undefined || c === undefined) return expect.unreachable('fewer than 3 leases');
        await settle(
          [
            { lease: a, outcome: 'complete' },
            { lease: b, outcome: 'fail', error: new Error('b'), retryAfterMs: 60_000 },
            { lease: c, outcome: 'fail', error: new Error('c'), retry: false },
            { lease: withToken(a, 'stale'), outcome: 'complete' },
          ],
          1,
        );
        stop();
        expect(events.map((event) => `${event.type}:${event.jobId}`)).toStrictEqual([
          `completed:${a.job.id}`,
          `failed:${b.job.id}`,
          `dead:${c.job.id}`,
          `started:${next}`,
        ]);
      },
    },
    {
      name: 'concurrent settleAndClaim calls never hand out one job twice, and a bad count is VALIDATION',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        const settle = settleAndClaimOf(queue);
        await queue.enqueueMany(Array.from({ length: 40 }, (_, payload) => ({ payload })));
        const claimed: string[] = [];
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            let held = (await settle([], 3)).leases;
            while (held.length > 0) {
              claimed.push(...held.map((lease) => lease.job.id));
              held = (
                await settle(
                  held.map((lease) => ({ lease, outcome: 'complete' as const })),
                  3,
                )
              ).leases;
            }
          }),
        );
        expect(repeated(claimed)).toStrictEqual([]);
        expect(claimed).toHaveLength(40);
        expect(await queue.stats()).toStrictEqual(jobStats({ completed: 40 }));
        for (const count of [-1, 1.5, Number.NaN, '3', null, 1e9]) {
          await expectBerthError(() => settle([], invalid<number>(count)), 'VALIDATION');
        }
        await expectBerthError(() => settle(invalid('not an array'), 1), 'VALIDATION');
      },
    },
  ],
);
