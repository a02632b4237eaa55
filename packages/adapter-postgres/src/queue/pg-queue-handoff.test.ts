import type { IdleWorker, Job, QueueEvent } from '@berth/core';
import { HandOffNotifier } from '@berth/core/adapter';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from '../fixtures/pg-test-database.js';
import { PostgresBackend } from '../pg-backend.js';

const schemas: string[] = [];
const opened: PostgresBackend[] = [];

beforeAll(requirePostgres);
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  await Promise.all(opened.map((backend) => backend.close()));
  await dropSchemas(schemas);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `count` backends on one fresh schema, each with its own pool (processes sharing a queue). */
function backends(label: string, count: number): PostgresBackend[] {
  const schema = uniqueSchema(label);
  schemas.push(schema);
  const made = Array.from({ length: count }, () => new PostgresBackend({ connectionString: POSTGRES_URL, schema }));
  opened.push(...made);
  return made;
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

describe('PostgresJobQueue hand-off to an idle worker', () => {
  it('an enqueue leases the job for an idle worker of this process in its own transaction: the worker claims nothing', async () => {
    const [backend] = backends('handoff', 1) as [PostgresBackend];
    const queue = backend.queue<{ n: number }>('handoff');
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
    const [backend, other] = backends('handoff_order', 2) as [PostgresBackend, PostgresBackend];
    const queue = backend.queue<{ n: number }>('order');
    const events: QueueEvent[] = [];
    const unsubscribe = queue.subscribe((event) => void events.push(event));
    const order: number[] = [];
    const idle = firstIdleOffer();
    const worker = queue.work((job) => void order.push(job.payload.n), { pollIntervalMs: 60_000 });
    try {
      await idle;
      // Due only later, so no NOTIFY wakes the worker: it is still idle, and the job ready, when n: 2 comes.
      await other.queue<{ n: number }>('order').enqueue({ n: 1 }, { delayMs: 200 });
      await sleep(300);
      const { id } = await queue.enqueue({ n: 2 });
      const deadline = Date.now() + 10_000;
      while (order.length < 2 && Date.now() < deadline) await sleep(5);
      expect(order).toStrictEqual([1, 2]);
      while (!events.some((event) => event.type === 'completed' && event.jobId === id)) await sleep(5);
      const ofNew = events.filter((event) => 'jobId' in event && event.jobId === id).map((event) => event.type);
      expect(ofNew).toStrictEqual(['enqueued', 'started', 'completed']);
    } finally {
      unsubscribe();
      await worker.close();
    }
    expect(await queue.stats()).toStrictEqual({ waiting: 0, active: 0, completed: 2, dead: 0, cancelled: 0 });
  });

  it('a NOTIFY that arrives during a hand-off wakes the workers only once the jobs are handed over', async () => {
    const notifier = new HandOffNotifier(() => {});
    const seen: string[] = [];
    notifier.onJobAvailable(() => void seen.push('woken'));
    await notifier.handingOff(async () => {
      // The enqueue's own NOTIFY, delivered before its COMMIT is confirmed.
      notifier.woken();
      await sleep(5);
      seen.push('handed over');
    });
    await sleep(0);
    expect(seen).toStrictEqual(['handed over', 'woken']);
    notifier.woken();
    await sleep(0);
    expect(seen).toStrictEqual(['handed over', 'woken', 'woken']);
  });

  it('a delayed job enqueued beside a due one is not handed over before it is due', async () => {
    const [backend] = backends('handoff_delayed', 1) as [PostgresBackend];
    const queue = backend.queue<{ n: number }>('delayed');
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
