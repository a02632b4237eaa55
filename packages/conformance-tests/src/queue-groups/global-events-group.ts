import type {
  Backend,
  Capabilities,
  DocumentValue,
  JobEvent,
  JobQueue,
  QueueBackend,
  QueueEvent,
  RepositoryBackend,
  SubscribeOptions,
} from '@berth/core';
import { expect } from 'vitest';
import { sleep } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { closeAll, dequeueNow, dequeueSoon, exported, hasQueue, jobOf, SOON_MS, waitFor } from './queue-assertions.js';

/** Subscribes and keeps every event; `stop` unsubscribes. */
function record(queue: JobQueue<unknown>, options?: SubscribeOptions): { events: JobEvent[]; stop: () => void } {
  const events: JobEvent[] = [];
  const stop = queue.subscribe((event) => events.push(event), options);
  return { events, stop };
}

/** The events as `type:jobId`, in order. */
function story(events: readonly JobEvent[]): string[] {
  return events.map((event) => `${event.type}:${event.jobId}`);
}

const global = (capabilities: Capabilities): boolean =>
  hasQueue(capabilities) && capabilities.queue.events === 'global';

/** Durable storage can be shared: the harness then requires `openSameStorage`. */
const processOnShared = (capabilities: Capabilities): boolean =>
  hasQueue(capabilities) && capabilities.queue.events !== 'global' && capabilities.repository.durable;

/** How long a case waits, after the expected events arrived, for events that should never come. */
const QUIET_MS = 300;

/** The second backend on the same storage, or a failure that says what the adapter must provide. */
async function secondBackend(context: QueueConformanceContext): Promise<QueueBackend> {
  if (context.openSameStorage === undefined) {
    return expect.unreachable(
      "capabilities.queue.events is 'global': pass openSameStorage to the suite so it can check that a second backend on the same storage receives the events",
    );
  }
  return context.openSameStorage();
}

/** Waits until `events` holds `count` events (failing the case after SOON_MS), then for QUIET_MS more. */
async function settleAt(events: readonly JobEvent[], count: number, what: string): Promise<void> {
  await waitFor(`${what}: ${count} events (got ${events.length})`, () => events.length >= count, SOON_MS);
  await sleep(QUIET_MS);
}

/**
 * Waits until `there` (a queue of the second backend) receives the events
 * of changes made through `here`: listening starts a moment after the first
 * `subscribe()` returns (the engine confirms a LISTEN or SUBSCRIBE). Marker
 * jobs prove it (due in an hour, so nothing dequeues them); they are
 * cancelled and purged before it returns, so a case starts on an empty
 * queue. The returned function ends the probe's subscription: call it once
 * the case's own subscribers are in place, so listening never stops.
 */
async function untilListening(there: JobQueue<DocumentValue>, here: JobQueue<DocumentValue>): Promise<() => void> {
  const probe = record(there);
  const markers: string[] = [];
  await waitFor(
    "the second backend to receive the first backend's events",
    async () => {
      markers.push((await here.enqueue('marker', { delayMs: 3_600_000 })).id);
      await sleep(20);
      return probe.events.some((event) => markers.includes(event.jobId));
    },
    SOON_MS * 3,
    0,
  );
  for (const id of markers) await here.cancel(id);
  await waitFor("the markers' cancellations to arrive", () =>
    markers.every((id) => probe.events.some((event) => event.jobId === id && event.type === 'cancelled')),
  );
  await here.purge({ finishedBefore: new Date(Date.now() + 60_000) });
  return probe.stop;
}

/**
 * A queue on the case's backend (`here`) and the same queue on a second
 * backend on the same storage (`there`), once `there` receives `here`'s
 * events, with a recorder on each: `local` on `here`, `remote` on `there`.
 */
async function watchedPair(context: QueueConformanceContext): Promise<{
  here: JobQueue<DocumentValue>;
  local: { events: JobEvent[] };
  remote: { events: JobEvent[] };
}> {
  const name = context.queueName('q');
  const second = await secondBackend(context);
  const here = context.backend.queue<DocumentValue>(name);
  const there = second.queue<DocumentValue>(name);
  const stopProbe = await untilListening(there, here);
  const local = record(here);
  const remote = record(there);
  stopProbe();
  return { here, local, remote };
}

/**
 * `capabilities.queue.events: 'global'`: a subscriber on one backend
 * receives the events of changes made through every other backend on the
 * same storage (another process, another machine), once each, in order,
 * with the fields a local subscriber gets; an adapter that declares
 * `process` (the default) delivers none of them. Runs with `openSameStorage`.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueGlobalEventsGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueGlobalEventsGroup, options);
 * ```
 */
export const queueGlobalEventsGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-global-events',
  [
    {
      name: 'a second backend receives every kind of event of jobs changed through the first, once each, in order, equal to the local ones (100 KiB progress, 20 KiB error)',
      requires: global,
      async run(context) {
        const { here, local, remote } = await watchedPair(context);
        const big = { text: 'é𝄞<'.repeat(12_800), n: 2 ** 53 + 2, small: 5e-324, nested: [[[{ deep: true }]]] };
        const longMessage = `first ${'x'.repeat(20_000)}`;

        const { id: happy } = await here.enqueue('happy', { delayMs: 0 });
        const lease = await dequeueNow(here);
        await here.progress(lease, big);
        await here.complete(lease, 'ok');

        const { id: flaky } = await here.enqueue('flaky', { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 0 } });
        await here.fail(await dequeueNow(here), new Error(longMessage));
        await here.fail((await dequeueSoon(here)).lease, new RangeError('second'));

        const { id: released } = await here.enqueue('released', { priority: 9 });
        await here.release(await dequeueNow(here));
        const { id: later } = await here.enqueue('later', { delayMs: 60_000 });
        await here.cancel(later);
        await here.retry(later);
        expect((await here.cancelJobs()).changed).toBe(2);
        expect((await here.retryJobs({ state: 'cancelled' })).changed).toBe(2);
        expect((await here.cancelJobs()).changed).toBe(2);

        const { id: stalled } = await here.enqueue('stalled', { leaseMs: 40, maxAttempts: 2, priority: 10 });
        expect((await dequeueNow(here)).job.id).toBe(stalled);
        const redelivered = await dequeueSoon(here, 'the redelivery of the stalled job');
        expect(redelivered.lease.job.id).toBe(stalled);
        await here.complete(redelivered.lease);

        await settleAt(remote.events, local.events.length, 'the second backend');
        expect(story(remote.events)).toStrictEqual(story(local.events));
        expect(remote.events).toEqual(local.events);
        for (const event of remote.events) {
          expect(event.at).toBeInstanceOf(Date);
          if (event.type === 'failed' || event.type === 'dead') expect(event.error.at).toBeInstanceOf(Date);
        }
        const progress = remote.events.find((event) => event.type === 'progress');
        expect(progress?.type === 'progress' && progress.progress).toStrictEqual(big);
        const failed = remote.events.find((event) => event.type === 'failed');
        expect(failed?.type === 'failed' && failed.error.message).toBe(longMessage);
        expect(failed?.type === 'failed' && failed.retryAt).toBeInstanceOf(Date);
        for (const type of ['enqueued', 'started', 'progress', 'completed', 'failed', 'dead', 'expired'] as const) {
          expect(
            remote.events.some((event) => event.type === type),
            `a ${type} event`,
          ).toBe(true);
        }
        for (const type of ['released', 'cancelled', 'retried'] as const) {
          expect(
            remote.events.some((event) => event.type === type),
            `a ${type} event`,
          ).toBe(true);
        }
        expect(new Set(remote.events.map((event) => event.jobId))).toStrictEqual(
          new Set([happy, flaky, released, later, stalled]),
        );
      },
    },
    {
      name: "each backend's own subscribers see its own changes once, and both see the other's: every event reaches every subscriber exactly once",
      requires: global,
      async run(context) {
        const name = context.queueName('q');
        const second = await secondBackend(context);
        const a = context.backend.queue<string>(name);
        const b = second.queue<string>(name);
        const stopProbes = [await untilListening(b, a), await untilListening(a, b)];
        const seenA = record(a);
        const seenB = record(b);
        for (const stop of stopProbes) stop();
        const { id: fromA } = await a.enqueue('from a');
        const { id: fromB } = await b.enqueue('from b');
        const lease = await dequeueNow(b);
        expect(lease.job.id).toBe(fromA);
        await b.complete(lease);
        const all = [`enqueued:${fromA}`, `enqueued:${fromB}`, `started:${fromA}`, `completed:${fromA}`];
        await settleAt(seenA.events, 4, 'the first backend');
        await settleAt(seenB.events, 4, 'the second backend');
        for (const seen of [seenA.events, seenB.events]) {
          expect(seen).toHaveLength(4);
          expect(new Set(story(seen))).toStrictEqual(new Set(all));
          // What one backend did arrives in the order it did it.
          const positions = all.slice(1).map((event) => story(seen).indexOf(event));
          expect(positions).toStrictEqual([...positions].sort((x, y) => x - y));
        }
      },
    },
    {
      name: 'remote events honour types and other queue names, reach events() iterators, and stop when the subscriber leaves',
      requires: global,
      async run(context) {
        const name = context.queueName('q');
        const second = await secondBackend(context);
        const here = context.backend.queue<string>(name);
        const otherHere = context.backend.queue<string>(context.queueName('other'));
        const there = second.queue<string>(name);
        const stopProbe = await untilListening(there, here);
        const completed = record(there, { types: ['completed'] });
        const all = record(there);
        stopProbe();
        const controller = new AbortController();
        const iterator = there.events({ types: ['enqueued', 'completed'], signal: controller.signal });
        const { id } = await here.enqueue('watched');
        await otherHere.enqueue('elsewhere');
        await here.complete(await dequeueNow(here));
        await settleAt(all.events, 3, 'the second backend');
        expect(story(all.events)).toStrictEqual([`enqueued:${id}`, `started:${id}`, `completed:${id}`]);
        expect(story(completed.events)).toStrictEqual([`completed:${id}`]);
        const first = (await iterator.next()).value as QueueEvent;
        const next = (await iterator.next()).value as QueueEvent;
        expect([first.type, next.type]).toStrictEqual(['enqueued', 'completed']);
        controller.abort();
        all.stop();
        completed.stop();
        await here.enqueue('after everyone left');
        await sleep(QUIET_MS * 2);
        expect(all.events).toHaveLength(3);
        expect(completed.events).toHaveLength(1);
        expect((await iterator.next()).done).toBe(true);
        // Subscribing again listens again (the probe is a subscriber too).
        const stopAgain = await untilListening(there, here);
        const again = record(there);
        stopAgain();
        const { id: back } = await here.enqueue('listening again');
        await settleAt(again.events, 1, 'a new subscriber');
        expect(story(again.events)).toStrictEqual([`enqueued:${back}`]);
        again.stop();
      },
    },
    {
      name: "a worker's jobs on one backend are watched from another: started, progress and completed, or failed",
      requires: global,
      async run(context) {
        const { here, remote: watcher } = await watchedPair(context);
        const { id: good } = await here.enqueue('good');
        const { id: bad } = await here.enqueue('bad', { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 60_000 } });
        const worker = here.work(
          async (job, jobContext) => {
            await jobContext.progress({ step: job.payload });
            if (job.payload === 'bad') throw new Error('handler failed');
            return 'fine';
          },
          { pollIntervalMs: 10, onError: () => undefined },
        );
        try {
          await settleAt(watcher.events, 8, 'the watching backend');
        } finally {
          await closeAll([worker]);
        }
        const of = (id: string) => watcher.events.filter((event) => event.jobId === id).map((event) => event.type);
        expect(of(good)).toStrictEqual(['enqueued', 'started', 'progress', 'completed']);
        expect(of(bad)).toStrictEqual(['enqueued', 'started', 'progress', 'failed']);
        expect((await jobOf(here, bad)).state).toBe('waiting');
      },
    },
    {
      name: 'a transactional enqueue reaches the second backend after the commit, and a rolled back one never',
      requires: (capabilities) =>
        global(capabilities) &&
        capabilities.queue.transactionalEnqueue &&
        capabilities.repository.transactions !== 'none',
      async run(context) {
        const backend = context.backend as QueueBackend & Partial<RepositoryBackend>;
        if (typeof backend.transaction !== 'function') {
          return expect.unreachable('the adapter claims transactional enqueue but has no transaction()');
        }
        const name = context.queueName('q');
        const second = await secondBackend(context);
        const there = second.queue<string>(name);
        const stopProbe = await untilListening(there, backend.queue<string>(name));
        const watcher = record(there);
        stopProbe();
        class RollBack extends Error {}
        await expect(
          (backend as Backend).transaction(async (tx) => {
            await tx.queue<string>(name).enqueueMany([{ payload: 'rolled back' }, { payload: 'also' }]);
            await sleep(QUIET_MS);
            throw new RollBack('no');
          }),
        ).rejects.toBeInstanceOf(RollBack);
        let seenInside = -1;
        const { id } = await (backend as Backend).transaction(async (tx) => {
          const result = await tx.queue<string>(name).enqueue('committed');
          await sleep(QUIET_MS);
          seenInside = watcher.events.length;
          return result;
        });
        await settleAt(watcher.events, 1, 'the second backend');
        expect(seenInside, 'the second backend saw the enqueue before the commit').toBe(0);
        expect(story(watcher.events)).toStrictEqual([`enqueued:${id}`]);
      },
    },
    {
      name: 'importJobs reaches the second backend as the local events: enqueued for each imported waiting job, with its runAt',
      requires: global,
      async run(context) {
        const { here, local, remote } = await watchedPair(context);
        const now = new Date();
        const jobs = [
          exported({ state: 'waiting' }),
          exported({ state: 'dead', attempts: 1, maxAttempts: 1, errors: [{ attempt: 1, message: 'gone', at: now }] }),
          exported({ state: 'waiting', runAt: new Date(now.getTime() + 3_600_000) }),
        ];
        expect(await here.importJobs(jobs)).toStrictEqual({ imported: 3, skipped: 0 });
        await settleAt(remote.events, 2, 'the second backend');
        expect(story(remote.events)).toStrictEqual([`enqueued:${jobs[0]?.id}`, `enqueued:${jobs[2]?.id}`]);
        expect(remote.events).toStrictEqual(local.events);
      },
    },
    {
      name: "an adapter that declares events: 'process' delivers nothing of another backend's changes",
      requires: processOnShared,
      async run(context) {
        if (context.openSameStorage === undefined) {
          return expect.unreachable('the storage is durable: pass openSameStorage to the suite');
        }
        const name = context.queueName('q');
        const second = await context.openSameStorage();
        const here = context.backend.queue<string>(name);
        const watcher = record(second.queue<string>(name));
        const local = record(here);
        await here.enqueue('unseen elsewhere');
        await here.complete(await dequeueNow(here));
        await sleep(QUIET_MS * 2);
        expect(local.events).toHaveLength(3);
        expect(
          watcher.events,
          "the adapter delivers other backends' events: declare capabilities.queue.events 'global'",
        ).toStrictEqual([]);
      },
    },
  ],
);
