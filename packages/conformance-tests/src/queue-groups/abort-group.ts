import type { JobQueue, QueueBackend } from '@berth/core';
import { expect } from 'vitest';
import { expectBerthError } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { abortedSignal, dequeueNow, hasQueue, jobOf } from './queue-assertions.js';

/** Everything observable about a queue's jobs, to compare before and after. */
async function queueSnapshot<T>(queue: JobQueue<T>, ids: readonly string[]) {
  return { stats: await queue.stats(), jobs: await Promise.all(ids.map((id) => jobOf(queue, id))) };
}

/**
 * Every queue operation given an already-aborted signal rejects with `ABORTED` (cause: the signal's reason)
 * and changes nothing.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueAbortGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueAbortGroup, options);
 * ```
 */
export const queueAbortGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-abort',
  [
    {
      name: 'every queue operation with an already-aborted signal rejects with ABORTED whose cause is the signal reason',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id: activeId } = await queue.enqueue('active');
        const lease = await dequeueNow(queue);
        const { id: deadId } = await queue.enqueue('dead');
        await queue.fail(await dequeueNow(queue), new Error('x'), { retry: false });
        const { id: waitingId } = await queue.enqueue('waiting', { dedupeKey: 'w' });
        const ids = [activeId, deadId, waitingId];
        const before = await queueSnapshot(queue, ids);

        const { signal, reason } = abortedSignal();
        const options = { signal };
        const expected = { cause: reason };
        await expectBerthError(() => queue.enqueue('new', options), 'ABORTED', expected);
        await expectBerthError(() => queue.enqueue('new', { dedupeKey: 'fresh', signal }), 'ABORTED', expected);
        await expectBerthError(
          () => queue.enqueueMany([{ payload: 'm1' }, { payload: 'm2' }], options),
          'ABORTED',
          expected,
        );
        await expectBerthError(() => queue.dequeue(options), 'ABORTED', expected);
        await expectBerthError(() => queue.dequeueMany(5, options), 'ABORTED', expected);
        await expectBerthError(() => queue.complete(lease, 'done', options), 'ABORTED', expected);
        await expectBerthError(() => queue.fail(lease, new Error('y'), options), 'ABORTED', expected);
        await expectBerthError(() => queue.fail(lease, new Error('y'), { retry: false, signal }), 'ABORTED', expected);
        await expectBerthError(() => queue.extendLease(lease, 60_000, options), 'ABORTED', expected);
        await expectBerthError(() => queue.release(lease, options), 'ABORTED', expected);
        await expectBerthError(() => queue.get(waitingId, options), 'ABORTED', expected);
        await expectBerthError(() => queue.cancel(waitingId, options), 'ABORTED', expected);
        await expectBerthError(() => queue.cancel(activeId, options), 'ABORTED', expected);
        await expectBerthError(() => queue.retry(deadId, options), 'ABORTED', expected);
        await expectBerthError(() => queue.stats(options), 'ABORTED', expected);
        await expectBerthError(
          () => queue.purge({ finishedBefore: new Date(Date.now() + 3_600_000), signal }),
          'ABORTED',
          expected,
        );

        expect(await queueSnapshot(queue, ids)).toStrictEqual(before);
        // The lease survived every aborted call.
        await queue.complete(lease, 'done');
        expect((await jobOf(queue, activeId)).state).toBe('completed');
      },
    },
  ],
);
