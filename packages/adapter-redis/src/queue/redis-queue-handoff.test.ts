import type { IdleWorker, Job, QueueEvent } from '@berth/core';
import { HandOffNotifier } from '@berth/core/adapter';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { rawClient, requireRedis, uniqueKeyPrefix } from '../fixtures/redis-server.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from '../redis-scan.js';

import { RedisQueues } from './redis-queues.js';

const keyPrefix = uniqueKeyPrefix('queue_handoff');
const opened: { queues: RedisQueues; client: Redis }[] = [];

beforeAll(requireRedis);
afterEach(async () => {
  vi.restoreAllMocks();
  for (const { queues, client } of opened.splice(0)) {
    await queues.close();
    client.disconnect();
  }
});
afterAll(async () => {
  const client = rawClient();
  await client.connect();
  await forEachKeyBatch(client, prefixPattern(keyPrefix), unlinkKeys, undefined, 'cleanup');
  client.disconnect();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** RedisQueues on a client of its own (a process sharing the queues). */
async function open(): Promise<RedisQueues> {
  const client = rawClient();
  await client.connect();
  const queues = new RedisQueues({ client, keyPrefix });
  opened.push({ queues, client });
  return queues;
}

/** Resolves once a worker of this process has offered itself as idle to its queue's notifier. */
function firstIdleOffer(): Promise<void> {
  const onIdle = HandOffNotifier.prototype.onIdle;
  return new Promise((resolve) => {
    vi.spyOn(HandOffNotifier.prototype, 'onIdle').mockImplementation(function (
      this: HandOffNotifier,
      worker: IdleWorker,
    ) {
      const withdraw = onIdle.call(this, worker);
      resolve();
      return withdraw;
    });
  });
}

describe('RedisJobQueue hand-off to an idle worker', () => {
  it('an enqueue leases the job for an idle worker of this process in its own script: the worker claims nothing', async () => {
    const queue = (await open()).queue<{ n: number }>('handoff');
    const started: { job: Job<{ n: number }>; claims: number }[] = [];
    let claims = 0;
    const settleAndClaim = queue.settleAndClaim?.bind(queue);
    queue.settleAndClaim = (...args) => {
      claims += 1;
      return (settleAndClaim as NonNullable<typeof settleAndClaim>)(...args);
    };
    const idle = firstIdleOffer();
    const worker = queue.work((job) => void started.push({ job, claims }), { pollIntervalMs: 60_000 });
    try {
      await idle;
      claims = 0;
      const [result] = await queue.enqueueMany([{ payload: { n: 1 } }]);
      const deadline = Date.now() + 10_000;
      while (started.length === 0 && Date.now() < deadline) await sleep(2);
      expect(started.map(({ job }) => [job.id, job.attempts])).toStrictEqual([[result?.id, 1]]);
      // Without the hand-off the worker is woken and claims the job itself: one claim before the handler.
      expect(started[0]?.claims).toBe(0);
    } finally {
      await worker.close();
    }
    expect(await queue.stats()).toStrictEqual({ waiting: 0, active: 0, completed: 1, dead: 0, cancelled: 0 });
  });

  it('the idle worker gets the queue’s next job (an older ready one goes first), then the new one; events in order', async () => {
    const [queues, other] = [await open(), await open()];
    const queue = queues.queue<{ n: number }>('order');
    const events: QueueEvent[] = [];
    const unsubscribe = queue.subscribe((event) => void events.push(event));
    const order: number[] = [];
    const idle = firstIdleOffer();
    const worker = queue.work((job) => void order.push(job.payload.n), { pollIntervalMs: 60_000 });
    try {
      await idle;
      // Due only later: the published delay arms a timer here, so the worker idles until then.
      await other.queue<{ n: number }>('order').enqueue({ n: 1 }, { delayMs: 5_000 });
      const { id } = await queue.enqueue({ n: 2 });
      const deadline = Date.now() + 10_000;
      while (order.length < 1 && Date.now() < deadline) await sleep(5);
      expect(order).toStrictEqual([2]);
      while (!events.some((event) => event.type === 'completed' && event.jobId === id)) await sleep(5);
      const ofNew = events.filter((event) => 'jobId' in event && event.jobId === id).map((event) => event.type);
      expect(ofNew).toStrictEqual(['enqueued', 'started', 'completed']);
    } finally {
      unsubscribe();
      await worker.close();
    }
  });

  it('the hand-off claims as a fetch would: an older ready job goes first, the new one after it', async () => {
    const [queues, other] = [await open(), await open()];
    const queue = queues.queue<{ n: number }>('older_first');
    const order: number[] = [];
    let claimedWith: number[] = [];
    const idle = firstIdleOffer();
    // This process ignores published wake-ups, so its worker stays idle while another process enqueues.
    vi.spyOn(HandOffNotifier.prototype, 'woken').mockImplementation(() => {});
    const worker = queue.work(
      (job, { lease }) => {
        order.push(job.payload.n);
        claimedWith = [...claimedWith, lease.job.attempts];
      },
      { pollIntervalMs: 60_000 },
    );
    try {
      await idle;
      await other.queue<{ n: number }>('older_first').enqueue({ n: 1 });
      await sleep(50);
      expect(order).toStrictEqual([]);
      await queue.enqueue({ n: 2 });
      const deadline = Date.now() + 10_000;
      while (order.length < 2 && Date.now() < deadline) await sleep(5);
      expect(order).toStrictEqual([1, 2]);
      expect(claimedWith).toStrictEqual([1, 1]);
    } finally {
      await worker.close();
    }
  });

  it('a wake-up published during a hand-off wakes the workers only once the jobs are handed over', async () => {
    const notifier = new HandOffNotifier(() => {});
    const seen: string[] = [];
    notifier.onJobAvailable(() => void seen.push('woken'));
    await notifier.handingOff(async () => {
      // The enqueue script's own message, delivered before its reply.
      notifier.woken(0);
      await sleep(5);
      seen.push('handed over');
    });
    await sleep(0);
    expect(seen).toStrictEqual(['handed over', 'woken']);
    notifier.woken(0);
    await sleep(0);
    expect(seen).toStrictEqual(['handed over', 'woken', 'woken']);
  });

  it('a delayed job enqueued beside a due one is not handed over before it is due', async () => {
    const queue = (await open()).queue<{ n: number }>('delayed');
    const seen: number[] = [];
    const idle = firstIdleOffer();
    const worker = queue.work((job) => void seen.push(job.payload.n), { concurrency: 5, pollIntervalMs: 60_000 });
    try {
      await idle;
      const [later, now] = await queue.enqueueMany([{ payload: { n: 1 }, delayMs: 60_000 }, { payload: { n: 2 } }]);
      while ((await queue.get(now?.id as string))?.state !== 'completed') await sleep(5);
      expect(seen).toStrictEqual([2]);
      expect((await queue.get(later?.id as string))?.state).toBe('waiting');
    } finally {
      await worker.close();
    }
  });
});
