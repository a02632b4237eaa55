import { AsyncLocalStorage } from 'node:async_hooks';
import type { IdleWorker, Job, JobQueue, QueueEvent } from '@berth/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { databaseFiles } from './fixtures/temp-files.js';
import { SqliteBackend } from './sqlite-backend.js';
import { SqliteQueueNotifier } from './sqlite-queue-notifier.js';

const { newFile } = databaseFiles('handoff');
afterEach(() => vi.restoreAllMocks());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts the claims the worker makes through the queue object (settleAndClaim and dequeueMany). */
function countClaims<T>(queue: JobQueue<T>): { readonly count: () => number } {
  let claims = 0;
  const settleAndClaim = queue.settleAndClaim?.bind(queue);
  const dequeueMany = queue.dequeueMany.bind(queue);
  Object.assign(queue, {
    settleAndClaim: (...args: Parameters<NonNullable<JobQueue<T>['settleAndClaim']>>) => {
      claims += 1;
      return settleAndClaim?.(...args);
    },
    dequeueMany: (...args: Parameters<JobQueue<T>['dequeueMany']>) => {
      claims += 1;
      return dequeueMany(...args);
    },
  });
  return { count: () => claims };
}

/** Watches the offers idle workers make to their notifier; `idle()` waits until one is open. */
function watchIdle(): { readonly idle: () => Promise<void> } {
  let open = 0;
  const onIdle = SqliteQueueNotifier.prototype.onIdle;
  vi.spyOn(SqliteQueueNotifier.prototype, 'onIdle').mockImplementation(function (
    this: SqliteQueueNotifier,
    worker: IdleWorker,
  ) {
    open += 1;
    const withdraw = onIdle.call(this, worker);
    return () => {
      open -= 1;
      withdraw();
    };
  });
  return {
    idle: async () => {
      while (open === 0) await sleep(5);
    },
  };
}

/**
 * Starts a worker that records each job's `n`. It polls once a minute, so
 * within a test only a hand-off or a wake-up starts its jobs; `done`
 * resolves once it has seen `count` jobs.
 */
function recordingWorker(queue: JobQueue<{ n: number }>, count: number) {
  const seen: number[] = [];
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const worker = queue.work(
    (job) => {
      seen.push(job.payload.n);
      if (seen.length === count) finished();
    },
    { pollIntervalMs: 60_000 },
  );
  return { seen, done, worker };
}

describe('SqliteJobQueue hand-off to an idle worker', () => {
  it('an enqueue leases the job for an idle worker of this process in its own commit: no claim of the worker in between', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<{ n: number }>('handoff');
    const claims = countClaims(queue);
    const watch = watchIdle();
    const started: { job: Job<{ n: number }>; claimsSoFar: number }[] = [];
    let resolveStarted: () => void = () => {};
    const worker = queue.work(
      (job) => {
        started.push({ job, claimsSoFar: claims.count() });
        resolveStarted();
      },
      { pollIntervalMs: 60_000 },
    );
    try {
      await watch.idle();
      const before = claims.count();
      const startedNow = new Promise<void>((resolve) => {
        resolveStarted = resolve;
      });
      const [result] = await queue.enqueueMany([{ payload: { n: 1 } }]);
      await startedNow;
      expect(started).toHaveLength(1);
      expect(started[0]?.job.id).toBe(result?.id);
      expect(started[0]?.job.attempts).toBe(1);
      // Without the hand-off the worker is woken and claims the job itself: one claim more.
      expect(started[0]?.claimsSoFar).toBe(before);
    } finally {
      await worker.close();
    }
    expect(await queue.stats()).toStrictEqual({ waiting: 0, active: 0, completed: 1, dead: 0, cancelled: 0 });
  });

  it('the idle worker gets the queue’s next job: an older ready job from another connection goes first, the new one after', async () => {
    const file = newFile();
    await using backend = new SqliteBackend({ filename: file });
    await using other = new SqliteBackend({ filename: file });
    const queue = backend.queue<{ n: number }>('fifo');
    const watch = watchIdle();
    const { seen, done, worker } = recordingWorker(queue, 3);
    try {
      await watch.idle();
      // Another process's enqueues do not wake this worker: the jobs wait, ready, until something claims.
      await other.queue<{ n: number }>('fifo').enqueueMany([{ payload: { n: 1 } }, { payload: { n: 2 } }]);
      await queue.enqueue({ n: 3 });
      await done;
    } finally {
      await worker.close();
    }
    expect(seen).toStrictEqual([1, 2, 3]);
  });

  it('a higher-priority ready job is handed over before the new one, and the new one still runs', async () => {
    const file = newFile();
    await using backend = new SqliteBackend({ filename: file });
    await using other = new SqliteBackend({ filename: file });
    const queue = backend.queue<{ n: number }>('priority');
    const watch = watchIdle();
    const { seen, done, worker } = recordingWorker(queue, 2);
    try {
      await watch.idle();
      await other.queue<{ n: number }>('priority').enqueue({ n: 1 }, { priority: 5 });
      await queue.enqueue({ n: 2 }, { priority: 1 });
      await done;
    } finally {
      await worker.close();
    }
    expect(seen).toStrictEqual([1, 2]);
  });

  it('events come in order (enqueued, started, completed) and a delayed job is not handed over before it is due', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<{ n: number }>('events');
    const watch = watchIdle();
    const events: QueueEvent[] = [];
    const unsubscribe = queue.subscribe((event) => {
      events.push(event);
    });
    const { seen, done, worker } = recordingWorker(queue, 1);
    try {
      await watch.idle();
      const [later] = await queue.enqueueMany([{ payload: { n: 1 }, delayMs: 60_000 }]);
      const [now] = await queue.enqueueMany([{ payload: { n: 2 } }]);
      await done;
      // Let the completion commit.
      while (!events.some((event) => event.type === 'completed')) await sleep(5);
      expect(seen).toStrictEqual([2]);
      expect((await queue.get(later?.id as string))?.state).toBe('waiting');
      const ofNow = events.filter((event) => 'jobId' in event && event.jobId === now?.id).map((event) => event.type);
      expect(ofNow).toStrictEqual(['enqueued', 'started', 'completed']);
    } finally {
      unsubscribe();
      await worker.close();
    }
    expect(await queue.stats()).toStrictEqual({ waiting: 1, active: 0, completed: 1, dead: 0, cancelled: 0 });
  });

  it('an enqueue inside transaction() hands nothing over before the commit', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<{ n: number }>('tx');
    const watch = watchIdle();
    const { seen, done, worker } = recordingWorker(queue, 1);
    try {
      await watch.idle();
      await backend.transaction(async (tx) => {
        await tx.queue<{ n: number }>('tx').enqueue({ n: 1 });
        // Still inside the transaction: no handler has run.
        expect(seen).toStrictEqual([]);
      });
      await done;
      expect(seen).toStrictEqual([1]);
    } finally {
      await worker.close();
    }
  });
  it('the handler of a job handed over starts after the enqueue has returned, outside the enqueuer’s async context', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<{ n: number }>('context');
    const claims = countClaims(queue);
    const watch = watchIdle();
    const request = new AsyncLocalStorage<string>();
    const order: string[] = [];
    let claimsAtStart = -1;
    let store: string | undefined = 'not started';
    let resolveStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      resolveStarted = resolve;
    });
    const worker = queue.work(
      () => {
        order.push('handler');
        store = request.getStore();
        claimsAtStart = claims.count();
        resolveStarted();
      },
      { pollIntervalMs: 60_000 },
    );
    try {
      await watch.idle();
      const before = claims.count();
      await request.run('request-42', async () => {
        await queue.enqueue({ n: 1 });
        order.push('enqueue returned');
      });
      await started;
      // Handed over (no claim of the worker's own), yet run as a claimed job would be.
      expect(claimsAtStart).toBe(before);
      expect(order).toStrictEqual(['enqueue returned', 'handler']);
      expect(store).toBeUndefined();
    } finally {
      await worker.close();
    }
  });

  it('a job due a moment after the enqueue’s commit, though before it returns, is still announced (not taken for handed over)', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<{ n: number }>('moment');
    const watch = watchIdle();
    // A clock that stands still, except where the test moves it.
    let now = Date.now();
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const unsubscribe = queue.subscribe(
      () => {
        // Emitted after the commit, before the enqueue announces its jobs: time passes there.
        now += 50;
      },
      { types: ['enqueued'] },
    );
    const seen: number[] = [];
    const worker = queue.work((job) => void seen.push(job.payload.n), { pollIntervalMs: 60_000 });
    try {
      await watch.idle();
      // Not due when the enqueue's transaction decides, due by the time it returns.
      await queue.enqueue({ n: 1 }, { runAt: new Date(now + 10) });
      // Without an announcement the worker would find the job at its next poll, a minute later.
      const deadline = performance.now() + 10_000;
      while (seen.length === 0 && performance.now() < deadline) await sleep(5);
      expect(seen).toStrictEqual([1]);
    } finally {
      unsubscribe();
      await worker.close();
    }
  }, 30_000);
});
