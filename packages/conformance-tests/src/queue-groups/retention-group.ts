import type { Job, JobQueue, PruneOptions, QueueBackend, QueueOptions } from '@berth/core';
import { DEFAULT_RETENTION } from '@berth/core/adapter';
import { expect } from 'vitest';
import { expectBerthError, invalid, sleep } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { jobInState, jobsById } from './admin-fixtures.js';
import { closeAll, dequeueNow, hasQueue, jobStats, SOON_MS, waitFor } from './queue-assertions.js';

type Finished = 'completed' | 'dead' | 'cancelled';

/** Makes `count` jobs finished in `state`, one after another (so their finishedAt ascend). */
async function finished(queue: JobQueue<number>, state: Finished, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) ids.push(await jobInState(queue, state, n));
  return ids;
}

function finishedAt(job: Job<unknown>): number {
  return job.finishedAt?.getTime() ?? expect.unreachable(`job ${job.id} has no finishedAt`);
}

/** Ids of the `keep` jobs that finished last. */
function newestFinished(jobs: readonly Job<unknown>[], keep: number): string[] {
  return [...jobs]
    .sort((a, b) => finishedAt(a) - finishedAt(b) || (a.id < b.id ? -1 : 1))
    .slice(-keep)
    .map((job) => job.id)
    .sort();
}

/** A queue of this test with a retention policy. */
function queueWith(context: QueueConformanceContext, retention: QueueOptions['retention']): JobQueue<number> {
  return context.backend.queue<number>(context.queueName('r'), { retention });
}

/** Waiting, delayed and active jobs, which no retention rule may touch. */
async function unfinished(queue: JobQueue<number>): Promise<string[]> {
  const { id: active } = await queue.enqueue(-1, { priority: 99 });
  expect((await dequeueNow(queue, { leaseMs: 60_000 })).job.id).toBe(active);
  const { id: waiting } = await queue.enqueue(-2);
  const { id: delayed } = await queue.enqueue(-3, { delayMs: 60_000 });
  return [active, waiting, delayed];
}

/**
 * Retention of finished jobs: `prune` by count and by age, per state, the default policy, and `limit` per
 * call.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueRetentionGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueRetentionGroup, options);
 * ```
 */
export const queueRetentionGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-retention',
  [
    {
      name: 'prune keeps at most maxCount jobs per finished state, removing the oldest finished first, and returns how many',
      requires: hasQueue,
      async run(context) {
        const queue = queueWith(context, {
          completed: { maxCount: 2 },
          dead: { maxCount: 1 },
          cancelled: { maxCount: 0 },
        });
        const ids = {
          completed: await finished(queue, 'completed', 5),
          dead: await finished(queue, 'dead', 3),
          cancelled: await finished(queue, 'cancelled', 2),
        };
        const keep = [
          ...newestFinished(await jobsById(queue, ids.completed), 2),
          ...newestFinished(await jobsById(queue, ids.dead), 1),
        ];
        const live = await unfinished(queue);
        expect(await queue.prune()).toBe(3 + 2 + 2);
        for (const id of Object.values(ids).flat()) {
          if (keep.includes(id)) expect(await queue.get(id), id).not.toBeNull();
          else expect(await queue.get(id), id).toBeNull();
        }
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 2, active: 1, completed: 2, dead: 1 }));
        for (const id of live) expect(await queue.get(id)).not.toBeNull();
        expect(await queue.prune()).toBe(0);
      },
    },
    {
      name: 'prune removes jobs that finished longer ago than maxAgeMs, per state, and keeps the younger ones',
      requires: hasQueue,
      async run(context) {
        const queue = queueWith(context, { completed: { maxAgeMs: 60_000 }, dead: null, cancelled: null });
        const old = [...(await finished(queue, 'completed', 3)), ...(await finished(queue, 'dead', 2))];
        const oldLatest = Math.max(...(await jobsById(queue, old)).map(finishedAt));
        await sleep(250);
        const young = [...(await finished(queue, 'completed', 2)), ...(await finished(queue, 'cancelled', 1))];
        const youngEarliest = Math.min(...(await jobsById(queue, young)).map(finishedAt));
        expect(youngEarliest - oldLatest).toBeGreaterThanOrEqual(200);
        // The bound falls between the two sets, with room on both sides for the time prune itself takes.
        const maxAgeMs = Date.now() - Math.floor((oldLatest + youngEarliest) / 2);
        expect(await queue.prune({ retention: { completed: { maxAgeMs } } })).toBe(3);
        expect(await queue.stats()).toStrictEqual(jobStats({ completed: 2, dead: 2, cancelled: 1 }));
        expect(await queue.prune({ retention: { dead: { maxAgeMs }, cancelled: { maxAgeMs } } })).toBe(2);
        for (const id of young) expect(await queue.get(id)).not.toBeNull();
        expect(await queue.prune()).toBe(0);
        await sleep(5);
        expect(await queue.prune({ retention: { completed: { maxAgeMs: 0 }, cancelled: { maxAgeMs: 0 } } })).toBe(3);
        expect(await queue.stats()).toStrictEqual(jobStats({}));
      },
    },
    {
      name: 'without a policy a queue keeps DEFAULT_RETENTION: at most 10 000 cancelled (and completed) jobs, young dead jobs kept',
      requires: hasQueue,
      async run(context) {
        expect(DEFAULT_RETENTION.cancelled?.maxCount).toBe(10_000);
        const queue = context.queue<number>();
        const extra = 3;
        await queue.enqueueMany(Array.from({ length: 10_000 + extra }, (_, n) => ({ payload: n })));
        for (let step = 0; step < 3; step++) await queue.cancelJobs({ limit: 10_000 });
        const dead = await finished(queue, 'dead', 2);
        expect(await queue.stats()).toStrictEqual(jobStats({ cancelled: 10_000 + extra, dead: 2 }));
        expect(await queue.prune()).toBe(extra);
        expect(await queue.stats()).toStrictEqual(jobStats({ cancelled: 10_000, dead: 2 }));
        for (const id of dead) expect(await queue.get(id)).not.toBeNull();
      },
    },
    {
      name: 'null keeps a state forever; a prune policy overrides the queue policy state by state',
      requires: hasQueue,
      async run(context) {
        const queue = queueWith(context, { completed: null, cancelled: { maxCount: 0 } });
        await finished(queue, 'completed', 3);
        await finished(queue, 'cancelled', 2);
        expect(await queue.prune({ retention: { cancelled: null } })).toBe(0);
        expect(await queue.prune()).toBe(2);
        expect(await queue.stats()).toStrictEqual(jobStats({ completed: 3 }));
        expect(await queue.prune({ retention: { completed: { maxCount: 1 } } })).toBe(2);
        expect(await queue.stats()).toStrictEqual(jobStats({ completed: 1 }));
      },
    },
    {
      name: 'prune removes at most limit jobs per call; later calls go on until nothing is left to remove',
      requires: hasQueue,
      async run(context) {
        const queue = queueWith(context, { completed: { maxCount: 0 }, dead: { maxCount: 0 } });
        await finished(queue, 'completed', 6);
        await finished(queue, 'dead', 4);
        const live = await unfinished(queue);
        expect(await queue.prune({ limit: 4 })).toBe(4);
        expect(await queue.prune({ limit: 4 })).toBe(4);
        expect(await queue.prune({ limit: 4 })).toBe(2);
        expect(await queue.prune({ limit: 4 })).toBe(0);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 2, active: 1 }));
        for (const id of live) expect(await queue.get(id)).not.toBeNull();
      },
    },
    {
      name: 'prune never removes waiting or active jobs, however old, even with maxCount 0 and maxAgeMs 0',
      requires: hasQueue,
      async run(context) {
        const queue = queueWith(context, {
          completed: { maxCount: 0, maxAgeMs: 0 },
          dead: { maxCount: 0, maxAgeMs: 0 },
          cancelled: { maxCount: 0, maxAgeMs: 0 },
        });
        const live = await unfinished(queue);
        const { id: retried } = await queue.enqueue(-4, { priority: 50, maxAttempts: 5 });
        await queue.fail(await dequeueNow(queue), new Error('once'), { retryAfterMs: 60_000 });
        await sleep(20);
        await finished(queue, 'completed', 1);
        expect(await queue.prune()).toBe(1);
        expect(await queue.prune({ limit: 10_000 })).toBe(0);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 3, active: 1 }));
        for (const id of [...live, retried]) expect(await queue.get(id)).not.toBeNull();
        const other = context.backend.queue<number>(context.queueName('other'));
        await finished(other, 'completed', 2);
        expect(await queue.prune()).toBe(0);
        expect(await other.stats()).toStrictEqual(jobStats({ completed: 2 }));
      },
    },
    {
      name: 'an invalid retention policy is VALIDATION at backend.queue(name, { retention }); an invalid prune option too',
      requires: hasQueue,
      async run(context) {
        const bad: unknown[] = [
          'forever',
          [],
          { completed: 5 },
          { completed: { maxAgeMs: -1 } },
          { completed: { maxAgeMs: 1.5 } },
          { dead: { maxAgeMs: Number.NaN } },
          { dead: { maxAgeMs: '1d' } },
          { cancelled: { maxCount: -1 } },
          { cancelled: { maxCount: 2.5 } },
          { completed: { maxAge: 1 } },
          { waiting: { maxCount: 1 } },
          { active: null },
          JSON.parse('{"__proto__": {"maxCount": 1}}'),
          { completed: JSON.parse('{"__proto__": {"maxCount": 1}}') },
        ];
        for (const retention of bad) {
          await expectBerthError(
            () => context.backend.queue(context.queueName('bad'), invalid<QueueOptions>({ retention })),
            'VALIDATION',
          );
        }
        const queue = context.queue<number>();
        for (const retention of bad) {
          await expectBerthError(() => queue.prune(invalid<PruneOptions>({ retention })), 'VALIDATION');
        }
        for (const limit of [0, 10_001, -5, 1.5, 'all', false]) {
          await expectBerthError(() => queue.prune(invalid<PruneOptions>({ limit })), 'VALIDATION', { path: 'limit' });
        }
        expect(await queue.prune({ retention: {}, limit: 10_000 })).toBe(0);
      },
    },
    {
      name: "a worker applies the queue's retention while it runs, every retentionIntervalMs",
      requires: hasQueue,
      async run(context) {
        const queue = queueWith(context, { completed: { maxCount: 1 } });
        await finished(queue, 'completed', 4);
        const worker = queue.work(() => 'done', { retentionIntervalMs: 30, pollIntervalMs: 10 });
        try {
          await waitFor('the worker to prune on start', async () => (await queue.stats()).completed === 1);
          await queue.enqueueMany([1, 2, 3].map((payload) => ({ payload })));
          await waitFor(
            'the worker to prune again',
            async () => {
              const stats = await queue.stats();
              return stats.waiting === 0 && stats.active === 0 && stats.completed === 1;
            },
            SOON_MS * 2,
          );
        } finally {
          await closeAll([worker]);
        }
      },
    },
  ],
);
