import type {
  Backend,
  Capabilities,
  JobEvent,
  JobEventType,
  JobQueue,
  QueueBackend,
  QueueEvent,
  RepositoryBackend,
  SubscribeOptions,
} from '@berth/core';
import { expect, vi } from 'vitest';
import { expectBerthError, invalid, sleep } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { closeAll, dequeueNow, dequeueSoon, hasQueue, jobOf, SOON_MS, waitFor } from './queue-assertions.js';

/** Subscribes and keeps every event; `stop` unsubscribes. */
function record(queue: JobQueue<unknown>, options?: SubscribeOptions): { events: JobEvent[]; stop: () => void } {
  const events: JobEvent[] = [];
  const stop = queue.subscribe((event) => events.push(event), options);
  return { events, stop };
}

/** The events of one job as `type` or `type@attempt`, in order. */
function story(events: readonly JobEvent[], jobId: string): string[] {
  return events
    .filter((event) => event.jobId === jobId)
    .map((event) => ('attempt' in event ? `${event.type}@${event.attempt}` : event.type));
}

/** Checks what every event carries. */
function expectWellFormed(events: readonly JobEvent[], queue: string, from: number): void {
  for (const event of events) {
    expect(event.queue).toBe(queue);
    expect(event.jobId).toBeTypeOf('string');
    expect(event.at).toBeInstanceOf(Date);
    expect(event.at.getTime()).toBeGreaterThanOrEqual(from - 2_000);
    expect(event.at.getTime()).toBeLessThanOrEqual(Date.now() + 2_000);
  }
}

function find<T extends JobEventType>(events: readonly JobEvent[], type: T): Extract<JobEvent, { type: T }> {
  const event = events.find((candidate) => candidate.type === type);
  return (event as Extract<JobEvent, { type: T }> | undefined) ?? expect.unreachable(`no ${type} event`);
}

const transactionalEnqueue = (capabilities: Capabilities): boolean =>
  hasQueue(capabilities) && capabilities.queue.transactionalEnqueue && capabilities.repository.transactions !== 'none';

/** Events are delivered synchronously after the change, but give an adapter a turn to deliver them. */
const settle = (): Promise<void> => sleep(5);

/**
 * `subscribe` and `events`: the job events each operation emits, in order, and that reads and admin calls
 * that change nothing emit none.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueEventsGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueEventsGroup, options);
 * ```
 */
export const queueEventsGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-events',
  [
    {
      name: 'a job that succeeds emits enqueued (with runAt), started, progress and completed, in order',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const from = Date.now();
        const { events } = record(queue);
        const { id } = await queue.enqueue('happy', { delayMs: 0 });
        const lease = await dequeueNow(queue);
        await queue.progress(lease, { half: true });
        await queue.complete(lease, 'ok');
        await settle();
        expect(story(events, id)).toStrictEqual(['enqueued', 'started@1', 'progress@1', 'completed@1']);
        expectWellFormed(events, queue.name, from);
        expect(find(events, 'enqueued').runAt.getTime()).toBe((await jobOf(queue, id)).runAt.getTime());
        expect(find(events, 'progress').progress).toStrictEqual({ half: true });
      },
    },
    {
      name: 'a failing job emits failed with the error and retryAt, then dead with the last error once attempts run out',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { events } = record(queue);
        const { id } = await queue.enqueue('flaky', { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 0 } });
        await queue.fail(await dequeueNow(queue), new Error('first'));
        const waiting = await jobOf(queue, id);
        await queue.fail((await dequeueSoon(queue)).lease, new RangeError('second'));
        const { id: fatal } = await queue.enqueue('fatal');
        await queue.fail(await dequeueNow(queue), new Error('unrecoverable'), { retry: false });
        await settle();
        expect(story(events, id)).toStrictEqual(['enqueued', 'started@1', 'failed@1', 'started@2', 'dead@2']);
        const failed = find(events, 'failed');
        expect(failed.error.message).toBe('first');
        expect(failed.error.attempt).toBe(1);
        expect(failed.retryAt.getTime()).toBe(waiting.runAt.getTime());
        const dead = events.find((event) => event.type === 'dead' && event.jobId === id);
        expect(dead?.type === 'dead' && dead.error.message).toBe('second');
        expect(story(events, fatal)).toStrictEqual(['enqueued', 'started@1', 'dead@1']);
      },
    },
    {
      name: 'a lease that expires emits expired before the redelivery starts; on the last attempt it ends in dead',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { events } = record(queue);
        const { id } = await queue.enqueue('stalled', { leaseMs: 40, maxAttempts: 2 });
        await dequeueNow(queue);
        const again = await dequeueSoon(queue, 'the redelivery');
        expect(again.lease.job.id).toBe(id);
        await waitFor('the second lease to expire and the job to go dead', async () => {
          await queue.dequeue();
          return (await jobOf(queue, id)).state === 'dead';
        });
        await settle();
        const life = story(events, id);
        expect(life.slice(0, 4)).toStrictEqual(['enqueued', 'started@1', 'expired@1', 'started@2']);
        // The last attempt's expiry may be announced as expired before dead, or as dead alone.
        expect([['expired@2', 'dead@2'], ['dead@2']]).toContainEqual(life.slice(4));
        const dead = events.find((event) => event.type === 'dead');
        expect(dead?.type === 'dead' && dead.error.message).toMatch(/lease expired/i);
      },
    },
    {
      name: 'release, cancel (waiting and active), retry, cancelJobs and retryJobs emit released, cancelled and retried',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { events } = record(queue);
        const { id: released } = await queue.enqueue('released', { priority: 9 });
        await queue.release(await dequeueNow(queue));
        const { id: waiting } = await queue.enqueue('cancel waiting', { delayMs: 60_000 });
        await queue.cancel(waiting);
        await queue.retry(waiting);
        const lease = await dequeueNow(queue);
        expect(lease.job.id).toBe(released);
        await queue.cancel(released);
        const bulk = (await queue.enqueueMany([{ payload: 'b1' }, { payload: 'b2' }])).map((result) => result.id);
        const { id: later } = await queue.enqueue('later', { delayMs: 60_000 });
        await queue.cancel(waiting);
        expect((await queue.cancelJobs()).changed).toBe(3);
        expect((await queue.retryJobs({ state: 'cancelled' })).changed).toBe(5);
        await settle();
        expect(story(events, released)).toStrictEqual([
          'enqueued',
          'started@1',
          'released',
          'started@1',
          'cancelled',
          'retried',
        ]);
        expect(story(events, waiting)).toStrictEqual(['enqueued', 'cancelled', 'retried', 'cancelled', 'retried']);
        for (const id of [...bulk, later])
          expect(story(events, id)).toStrictEqual(['enqueued', 'cancelled', 'retried']);
      },
    },
    {
      name: 'a deduplicated enqueue, get, stats, listJobs, prune and purge emit nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('one', { dedupeKey: 'k' });
        const lease = await dequeueNow(queue);
        await queue.complete(lease);
        await queue.enqueue('two', { dedupeKey: 'k' });
        const { events } = record(queue);
        expect((await queue.enqueue('three', { dedupeKey: 'k' })).deduplicated).toBe(true);
        expect((await queue.enqueueMany([{ payload: 'four', dedupeKey: 'k' }]))[0]?.deduplicated).toBe(true);
        await queue.get(id);
        await queue.stats();
        await queue.listJobs();
        expect(await queue.prune({ retention: { completed: { maxCount: 0 } } })).toBe(1);
        expect(await queue.purge({ finishedBefore: new Date(Date.now() + 60_000) })).toBe(0);
        await settle();
        expect(events).toStrictEqual([]);
      },
    },
    {
      name: 'every queue object of a name sees the same events; other queues and unsubscribed listeners see none',
      requires: hasQueue,
      async run(context) {
        const name = context.queueName('q');
        const a = context.backend.queue<string>(name);
        const b = context.backend.queue<string>(name);
        const other = context.backend.queue<string>(context.queueName('other'));
        const seenA = record(a);
        const seenB = record(b);
        const seenOther = record(other);
        const gone = record(a);
        gone.stop();
        gone.stop();
        const { id } = await b.enqueue('shared');
        const many = await a.enqueueMany([{ payload: 'x' }, { payload: 'y' }]);
        await settle();
        const expected = [id, ...many.map((result) => result.id)];
        expect(seenA.events.map((event) => event.jobId)).toStrictEqual(expected);
        expect(seenB.events).toStrictEqual(seenA.events);
        expect(seenOther.events).toStrictEqual([]);
        expect(gone.events).toStrictEqual([]);
        seenA.stop();
        await b.enqueue('after stop');
        await settle();
        expect(seenA.events).toHaveLength(3);
        expect(seenB.events).toHaveLength(4);
      },
    },
    {
      name: 'types filters what a subscriber and an iterator receive; an unknown type is VALIDATION',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const completed = record(queue, { types: ['completed'] });
        const none = record(queue, { types: [] });
        const controller = new AbortController();
        const iterator = queue.events({ types: ['started', 'completed'], signal: controller.signal });
        const { id } = await queue.enqueue('filtered');
        await queue.complete(await dequeueNow(queue));
        await settle();
        expect(completed.events.map((event) => event.type)).toStrictEqual(['completed']);
        expect(none.events).toStrictEqual([]);
        expect((await iterator.next()).value).toMatchObject({ type: 'started', jobId: id });
        expect((await iterator.next()).value).toMatchObject({ type: 'completed', jobId: id });
        controller.abort();
        for (const types of [['done'], ['gap'], 'completed', [null], ['Completed']]) {
          await expectBerthError(
            () => queue.subscribe(() => undefined, invalid<SubscribeOptions>({ types })),
            'VALIDATION',
          );
          await expectBerthError(() => queue.events(invalid<SubscribeOptions>({ types })), 'VALIDATION');
        }
        await expectBerthError(() => queue.subscribe(invalid('not a function')), 'VALIDATION');
      },
    },
    {
      name: 'events() yields events as they happen and ends when its signal aborts, even while waiting; an aborted signal ends it at once',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const controller = new AbortController();
        const iterator = queue.events({ signal: controller.signal });
        const pending = iterator.next();
        const { id } = await queue.enqueue('watched');
        expect((await pending).value).toMatchObject({ type: 'enqueued', jobId: id });
        const waiting = iterator.next();
        controller.abort();
        expect(await waiting).toStrictEqual({ value: undefined, done: true });
        await queue.enqueue('after the end');
        expect((await iterator.next()).done).toBe(true);
        const stopped = new AbortController();
        stopped.abort();
        const never = queue.events({ signal: stopped.signal });
        await queue.enqueue('unseen');
        expect((await never.next()).done).toBe(true);
      },
    },
    {
      name: 'breaking out of a for await loop (return()) ends events() and stops buffering',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const iterator = queue.events();
        const seen: QueueEvent[] = [];
        await queue.enqueueMany([{ payload: 'a' }, { payload: 'b' }, { payload: 'c' }]);
        for await (const event of iterator) {
          seen.push(event);
          if (seen.length === 2) break;
        }
        expect(seen.map((event) => event.type)).toStrictEqual(['enqueued', 'enqueued']);
        await queue.enqueue('after break');
        expect(await iterator.next()).toStrictEqual({ value: undefined, done: true });
      },
    },
    {
      name: 'a consumer that falls behind its bufferSize gets one gap counting the dropped events, then the newest ones',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<number>();
        const controller = new AbortController();
        const iterator = queue.events({ bufferSize: 3, signal: controller.signal });
        const ids = (await queue.enqueueMany(Array.from({ length: 10 }, (_, n) => ({ payload: n })))).map(
          (result) => result.id,
        );
        await settle();
        const gap = (await iterator.next()).value as QueueEvent;
        expect(gap).toMatchObject({ type: 'gap', queue: queue.name, dropped: 7 });
        expect(gap.at).toBeInstanceOf(Date);
        const rest = [await iterator.next(), await iterator.next(), await iterator.next()].map(
          (result) => (result.value as JobEvent).jobId,
        );
        expect(rest).toStrictEqual(ids.slice(7));
        controller.abort();
        for (const bufferSize of [0, -1, 1.5, 'big', 1_000_001]) {
          await expectBerthError(() => queue.events(invalid({ bufferSize })), 'VALIDATION');
        }
      },
    },
    {
      name: 'a transactional enqueue emits enqueued only after the commit, and nothing when the transaction rolls back',
      requires: transactionalEnqueue,
      async run(context) {
        const backend = context.backend as QueueBackend & Partial<RepositoryBackend>;
        if (typeof backend.transaction !== 'function') {
          return expect.unreachable('the adapter claims transactional enqueue but has no transaction()');
        }
        const name = context.queueName('q');
        const queue = backend.queue<string>(name);
        const { events } = record(queue);
        let seenInside = -1;
        const { id } = await (backend as Backend).transaction(async (tx) => {
          const result = await tx.queue<string>(name).enqueue('committed');
          await settle();
          seenInside = events.length;
          return result;
        });
        await settle();
        expect(seenInside, 'enqueued was emitted before the commit').toBe(0);
        expect(story(events, id)).toStrictEqual(['enqueued']);
        class RollBack extends Error {}
        await expect(
          (backend as Backend).transaction(async (tx) => {
            await tx.queue<string>(name).enqueueMany([{ payload: 'rolled back' }, { payload: 'also' }]);
            throw new RollBack('no');
          }),
        ).rejects.toBeInstanceOf(RollBack);
        await settle();
        expect(events).toHaveLength(1);
        expect(await queue.stats()).toMatchObject({ waiting: 1 });
      },
    },
    {
      name: 'a listener that throws is reported, stays subscribed, and neither the operation nor other listeners notice',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const reported = vi.spyOn(console, 'error').mockImplementation(() => undefined);
        try {
          let calls = 0;
          queue.subscribe(() => {
            calls += 1;
            throw new Error('listener bug');
          });
          const { events } = record(queue);
          const { id } = await queue.enqueue('survives');
          await queue.complete(await dequeueNow(queue));
          await settle();
          expect(calls).toBe(3);
          expect(story(events, id)).toStrictEqual(['enqueued', 'started@1', 'completed@1']);
          expect((await jobOf(queue, id)).state).toBe('completed');
          expect(reported).toHaveBeenCalled();
        } finally {
          reported.mockRestore();
        }
      },
    },
    {
      name: 'a worker emits started, progress and completed for each job it handles, and failed for a handler that throws',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { events } = record(queue);
        const { id: good } = await queue.enqueue('good');
        const { id: bad } = await queue.enqueue('bad', { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 60_000 } });
        const worker = queue.work(
          async (job, jobContext) => {
            await jobContext.progress(job.payload);
            if (job.payload === 'bad') throw new Error('handler failed');
            return 'fine';
          },
          { pollIntervalMs: 10, onError: () => undefined },
        );
        try {
          await waitFor(
            'both jobs to be settled',
            () => events.filter((event) => event.type === 'completed' || event.type === 'failed').length === 2,
            SOON_MS,
          );
        } finally {
          await closeAll([worker]);
        }
        expect(story(events, good)).toStrictEqual(['enqueued', 'started@1', 'progress@1', 'completed@1']);
        expect(story(events, bad)).toStrictEqual(['enqueued', 'started@1', 'progress@1', 'failed@1']);
      },
    },
  ],
);
