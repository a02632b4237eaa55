import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../errors.js';
import type { Lease } from './job.js';
import type { JobQueue } from './job-queue.js';
import { type IdleWorker, startWorker } from './job-worker.js';

// A stand-in queue whose fetches always fail: enough to test how the shared
// worker paces itself. The behaviour on real backends (a closed one stops the
// worker) is a conformance case in @berth/conformance-tests.

function failingQueue(error: Error): { queue: JobQueue<string>; fetches: () => number } {
  let fetches = 0;
  const queue = {
    name: 'failing',
    dequeueMany: async () => {
      fetches += 1;
      throw error;
    },
  } as unknown as JobQueue<string>;
  return { queue, fetches: () => fetches };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the shared worker', () => {
  it('backs off after retryable fetch errors instead of polling at the poll interval', async () => {
    const { queue, fetches } = failingQueue(new ConnectionError('engine restarting'));
    const reported: unknown[] = [];
    const worker = startWorker(queue, () => undefined, {
      pollIntervalMs: 5,
      onError: (error) => reported.push(error),
    });
    await sleep(400);
    await worker.close();
    // At a fixed 5 ms that would be ~80 fetches; doubling from 5 ms gives 7 (5+10+…+320 > 400).
    expect(fetches()).toBeGreaterThanOrEqual(3);
    expect(fetches()).toBeLessThanOrEqual(9);
    expect(reported).toHaveLength(fetches());
  });

  it('stops after a non-retryable CONNECTION error and reports it once', async () => {
    const closed = new ConnectionError('backend is closed', { retryable: false });
    const { queue, fetches } = failingQueue(closed);
    const reported: unknown[] = [];
    const worker = startWorker(queue, () => undefined, {
      pollIntervalMs: 1,
      onError: (error) => reported.push(error),
    });
    await sleep(100);
    expect(fetches()).toBe(1);
    expect(reported).toStrictEqual([closed]);
    await worker.close();
  });

  it('fetches again at once when a job was announced while a fetch was in flight', async () => {
    // The first fetch reads an empty queue; the job is committed, and announced, before it returns.
    let listener: () => void = () => undefined;
    const notifier = {
      onJobAvailable: (callback: () => void) => {
        listener = callback;
        return () => undefined;
      },
    };
    let fetches = 0;
    const handled: string[] = [];
    const lease = {
      job: { id: 'j1', payload: 'late', attempts: 1, leaseMs: 30_000 },
      token: 't',
      expiresAt: new Date(Date.now() + 30_000),
    };
    const queue = {
      name: 'racy',
      dequeueMany: async () => {
        fetches += 1;
        if (fetches === 1) {
          await sleep(20);
          listener();
          return [];
        }
        return fetches === 2 ? [lease] : [];
      },
      extendLease: async () => lease,
      complete: async () => undefined,
    } as unknown as JobQueue<string>;
    const worker = startWorker(
      queue,
      (job) => {
        handled.push(job.payload);
      },
      { pollIntervalMs: 60_000 },
      notifier,
    );
    const deadline = Date.now() + 2_000;
    while (handled.length === 0 && Date.now() < deadline) await sleep(5);
    await worker.close();
    expect(handled).toStrictEqual(['late']);
  });

  it('close() returns after closeTimeoutMs when the engine is down and settlements cannot be sent', async () => {
    const lease = {
      job: { id: 'j1', payload: 'x', attempts: 1, leaseMs: 30_000 },
      token: 't',
      expiresAt: new Date(Date.now() + 30_000),
    };
    let calls = 0;
    const queue = {
      name: 'down',
      settleAndClaim: async () => {
        calls += 1;
        if (calls === 1) return { outcomes: [], leases: [lease] };
        throw new ConnectionError('the server is down');
      },
      extendLease: async () => lease,
    } as unknown as JobQueue<string>;
    let finished = false;
    const worker = startWorker(
      queue,
      () => {
        finished = true;
      },
      { pollIntervalMs: 5, closeTimeoutMs: 100, onError: () => undefined },
    );
    while (!finished) await sleep(5);
    const outcome = await Promise.race([worker.close().then(() => 'closed'), sleep(5_000).then(() => 'still closing')]);
    expect(outcome).toBe('closed');
    // The completion was tried again, not given up at once.
    expect(calls).toBeGreaterThan(2);
  });

  it('offers itself to the notifier while idle; jobs handed over start at once, and close withdraws the offer', async () => {
    let fetches = 0;
    const completed: string[] = [];
    const queue = {
      name: 'idle',
      dequeueMany: async () => {
        fetches += 1;
        return [];
      },
      complete: async (lease: Lease<string>) => {
        completed.push(lease.job.id);
      },
    } as unknown as JobQueue<string>;
    let idle: IdleWorker | undefined;
    let withdrawn = 0;
    const notifier = {
      onJobAvailable: () => () => {},
      onIdle: (worker: IdleWorker) => {
        idle = worker;
        return () => {
          withdrawn += 1;
          idle = undefined;
        };
      },
    };
    const started: { id: string; fetches: number }[] = [];
    const worker = startWorker(
      queue,
      (job) => void started.push({ id: job.id, fetches }),
      {
        concurrency: 3,
        pollIntervalMs: 60_000,
      },
      notifier,
    );
    while (idle === undefined) await sleep(5);
    expect(idle.capacity).toBe(3);
    expect(idle.leaseMs).toBeUndefined();
    const fetchesBefore = fetches;
    const lease = {
      job: { id: 'j1', queue: 'idle', payload: 'x', attempts: 1, leaseMs: 30_000 },
      token: 't1',
      expiresAt: new Date(Date.now() + 30_000),
    } as unknown as Lease<unknown>;
    idle.take([lease]);
    // Started within take(), before any fetch; the offer ended with it.
    expect(started).toStrictEqual([{ id: 'j1', fetches: fetchesBefore }]);
    expect(withdrawn).toBe(1);
    while (completed.length === 0) await sleep(5);
    expect(completed).toStrictEqual(['j1']);
    // Idle again after the fetch that follows: offered again, then withdrawn by close().
    while (idle === undefined) await sleep(5);
    await worker.close();
    expect(idle).toBeUndefined();
  });

  it('releases jobs handed over after it closed instead of running or keeping them', async () => {
    const released: string[] = [];
    const queue = {
      name: 'late',
      dequeueMany: async () => [],
      release: async (lease: Lease<string>) => {
        released.push(lease.job.id);
      },
    } as unknown as JobQueue<string>;
    let idle: IdleWorker | undefined;
    const notifier = {
      onJobAvailable: () => () => {},
      onIdle: (worker: IdleWorker) => {
        idle = worker;
        return () => {};
      },
    };
    const started: string[] = [];
    const worker = startWorker(queue, (job) => void started.push(job.id), { pollIntervalMs: 60_000 }, notifier);
    while (idle === undefined) await sleep(5);
    const offered = idle;
    await worker.close();
    // An adapter that hands over late: the worker has closed in between.
    offered.take([
      {
        job: { id: 'late', queue: 'late', payload: 'x', attempts: 1, leaseMs: 30_000 },
        token: 't',
        expiresAt: new Date(Date.now() + 30_000),
      } as unknown as Lease<unknown>,
    ]);
    while (released.length === 0) await sleep(5);
    expect(started).toStrictEqual([]);
    expect(released).toStrictEqual(['late']);
  });
});
