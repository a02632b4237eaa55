import { describe, expect, it, vi } from 'vitest';
import type { QueueBackend } from '../backend/backend.js';
import { ConnectionError, isBerthError } from '../errors.js';
import { instrument, type OperationEvent } from '../observe/instrument.js';
import { RecordingLogger } from '../testing/recording-logger.js';
import type { Lease } from './job.js';
import type { JobHandler, JobQueue, Settlement, WorkerOptions } from './job-queue.js';
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

/** A queue that finds no jobs and records the ids of the leases it is asked to release. */
function releasingQueue(name: string): { queue: JobQueue<string>; released: string[] } {
  const released: string[] = [];
  const queue = {
    name,
    dequeueMany: async () => [],
    release: async (lease: Lease<string>) => {
      released.push(lease.job.id);
    },
    complete: async () => undefined,
  } as unknown as JobQueue<string>;
  return { queue, released };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function leaseOf(id: string): Lease<unknown> {
  return {
    job: { id, queue: 'q', payload: id, attempts: 1, leaseMs: 30_000 },
    token: `t-${id}`,
    expiresAt: new Date(Date.now() + 30_000),
  } as unknown as Lease<unknown>;
}

/** A call to an engine that is unreachable without the socket noticing: it never answers. */
const never = (): Promise<never> => new Promise(() => undefined);

/** Resolves with 'closed' when `worker.close()` does, or 'still closing' after a generous 10 s. */
function closeOutcome(worker: { close(): Promise<void> }): Promise<string> {
  return Promise.race([worker.close().then(() => 'closed'), sleep(10_000).then(() => 'still closing')]);
}

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

  it('reports errors to the logger of its options, else to the one the adapter passed, when there is no onError', async () => {
    const closed = new ConnectionError('backend is closed', { retryable: false });
    const fromOptions = new RecordingLogger();
    const fromAdapter = new RecordingLogger();
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const first = startWorker(
        failingQueue(closed).queue,
        () => undefined,
        { logger: fromOptions },
        undefined,
        fromAdapter,
      );
      const second = startWorker(failingQueue(closed).queue, () => undefined, {}, undefined, fromAdapter);
      await sleep(50);
      await first.close();
      await second.close();
      const line = {
        level: 'error',
        message: 'berth worker on queue failing',
        details: { error: closed, queue: 'failing' },
      };
      expect(fromOptions.lines).toStrictEqual([line]);
      expect(fromAdapter.lines).toStrictEqual([line]);
      expect(printed).not.toHaveBeenCalled();
    } finally {
      printed.mockRestore();
    }
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

  it('keeps no answer of the engine reachable once it has used it (no reactions pile up on a long-lived promise)', async () => {
    let calls = 0;
    const queue = {
      name: 'answers',
      release: async () => undefined,
      // About 80 KB each (on the heap, which heapUsed counts), and 4,000 of them: 320 MB if the worker kept them.
      settleAndClaim: async () => {
        calls += 1;
        await new Promise((resolve) => setImmediate(resolve));
        // One job a call, so the worker never sleeps; outcomes for what it settles are optional.
        return { outcomes: [], leases: [leaseOf(`j${calls}`)], ballast: new Array(10_000).fill(0.5) };
      },
    } as unknown as JobQueue<string>;
    const before = process.memoryUsage().heapUsed;
    const worker = startWorker(queue, () => undefined, { pollIntervalMs: 1 });
    try {
      while (calls < 4_000) await sleep(5);
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(150 * 2 ** 20);
    } finally {
      await worker.close();
    }
  });

  it.each(['dequeueMany', 'settleAndClaim'] as const)(
    'looks again once the lease of a claim whose answer was lost runs out, not at its next poll (%s)',
    async (path) => {
      // The engine leases the job, then the connection drops before the answer
      // arrives: the job is active under a lease nobody holds until it runs out.
      const leaseMs = 200;
      let expiresAt = 0;
      let claims = 0;
      const claim = async (count: number): Promise<Lease<string>[]> => {
        claims += 1;
        if (claims === 1) {
          expiresAt = Date.now() + leaseMs;
          throw new ConnectionError('connection terminated while waiting for the answer');
        }
        if (count === 0 || Date.now() < expiresAt || expiresAt === -1) return [];
        expiresAt = -1;
        return [leaseOf('lost') as Lease<string>];
      };
      const completed: string[] = [];
      const queue = {
        name: 'lost-claim',
        ...(path === 'dequeueMany'
          ? {
              dequeueMany: (count: number) => claim(count),
              complete: async (lease: Lease<string>) => {
                completed.push(lease.job.id);
              },
            }
          : {
              settleAndClaim: async (settlements: Settlement[], count: number) => {
                for (const settlement of settlements) completed.push((settlement.lease as Lease<string>).job.id);
                return { outcomes: settlements.map(() => ({})), leases: await claim(count) };
              },
            }),
        extendLease: async (lease: Lease<string>) => lease,
      } as unknown as JobQueue<string>;
      const reported: unknown[] = [];
      const started = Date.now();
      // Polls every 10 minutes: only the worker's own look after the lease finds the job.
      const worker = startWorker(queue, () => undefined, {
        leaseMs,
        pollIntervalMs: 600_000,
        onError: (error) => reported.push(error),
      });
      try {
        while (completed.length === 0 && Date.now() - started < 10_000) await sleep(10);
        expect(completed).toStrictEqual(['lost']);
        // After the lease (200 ms) and the margin for the engine's clock (1 s).
        expect(Date.now() - started).toBeGreaterThanOrEqual(leaseMs);
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(reported).toHaveLength(1);
        expect(isBerthError(reported[0], 'CONNECTION')).toBe(true);
      } finally {
        await worker.close();
      }
    },
  );

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

  it('offers itself to the notifier while idle; jobs handed over start before any fetch, and close withdraws the offer', async () => {
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
    // The offer ended with take(); the handler starts from the worker's loop, after take() returned.
    expect(withdrawn).toBe(1);
    expect(started).toStrictEqual([]);
    while (started.length === 0) await sleep(5);
    // Before any fetch.
    expect(started).toStrictEqual([{ id: 'j1', fetches: fetchesBefore }]);
    while (completed.length === 0) await sleep(5);
    expect(completed).toStrictEqual(['j1']);
    // Idle again after the fetch that follows: offered again, then withdrawn by close().
    while (idle === undefined) await sleep(5);
    await worker.close();
    expect(idle).toBeUndefined();
  });

  it('releases jobs handed over after it closed instead of running or keeping them', async () => {
    const { queue, released } = releasingQueue('late');
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
    offered.take([leaseOf('late')]);
    while (released.length === 0) await sleep(5);
    expect(started).toStrictEqual([]);
    expect(released).toStrictEqual(['late']);
  });
  it('a hand-over from inside onIdle wakes the worker and ends the offer; a take on the ended offer releases the jobs', async () => {
    const { queue, released } = releasingQueue('eager');
    const offers: IdleWorker[] = [];
    let withdrawn = 0;
    const notifier = {
      onJobAvailable: () => () => {},
      onIdle: (worker: IdleWorker) => {
        offers.push(worker);
        // A notifier that hands over synchronously, from inside onIdle.
        if (offers.length === 1) worker.take([leaseOf('j1')]);
        return () => {
          withdrawn += 1;
        };
      },
    };
    const started: string[] = [];
    let finish: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const worker = startWorker(
      queue,
      async (job) => {
        started.push(job.id);
        await blocked;
      },
      { concurrency: 1, pollIntervalMs: 60_000 },
      notifier,
    );
    while (started.length === 0) await sleep(5);
    const first = offers[0] as IdleWorker;
    expect(withdrawn).toBe(1);
    expect(first.capacity).toBe(0);
    // The notifier kept the ended offer and hands over again: the one slot is taken, the job goes back.
    first.take([leaseOf('j2')]);
    while (released.length === 0) await sleep(5);
    expect(released).toStrictEqual(['j2']);
    expect(started).toStrictEqual(['j1']);
    expect(worker.running).toBe(1);
    finish();
    await worker.close();
    expect(started).toStrictEqual(['j1']);
    expect(released).toStrictEqual(['j2']);
  });

  it('releases jobs handed over beyond its free slots, and those handed over after its offer ended', async () => {
    const { queue, released } = releasingQueue('late-offer');
    let jobAvailable: () => void = () => undefined;
    const offers: IdleWorker[] = [];
    const notifier = {
      onJobAvailable: (listener: () => void) => {
        jobAvailable = listener;
        return () => {};
      },
      onIdle: (worker: IdleWorker) => {
        offers.push(worker);
        return () => {};
      },
    };
    const started: string[] = [];
    const worker = startWorker(
      queue,
      (job) => void started.push(job.id),
      { concurrency: 1, pollIntervalMs: 60_000 },
      notifier,
    );
    try {
      while (offers.length === 0) await sleep(5);
      const first = offers[0] as IdleWorker;
      expect(first.capacity).toBe(1);
      first.take([leaseOf('j1'), leaseOf('j2')]);
      while (started.length === 0 || released.length === 0) await sleep(5);
      expect(started).toStrictEqual(['j1']);
      expect(released).toStrictEqual(['j2']);
      // Idle again once j1 is done; then a notification wakes the worker, and a hand-over comes after it.
      while (offers.length < 2) await sleep(5);
      const second = offers[1] as IdleWorker;
      jobAvailable();
      expect(second.capacity).toBe(0);
      second.take([leaseOf('j3')]);
      while (released.length < 2) await sleep(5);
      expect(released).toStrictEqual(['j2', 'j3']);
      expect(started).toStrictEqual(['j1']);
    } finally {
      await worker.close();
    }
    expect(started).toStrictEqual(['j1']);
  });

  it.each(['settleAndClaim', 'dequeueMany', 'prune'] as const)(
    'close() returns after closeTimeoutMs when a call to the engine (%s) never answers',
    async (hung) => {
      const lease = leaseOf('j1');
      let calls = 0;
      const queue = {
        name: 'partitioned',
        ...(hung === 'settleAndClaim'
          ? {
              // The first call brings the job; the one carrying its completion never answers.
              settleAndClaim: async () => {
                calls += 1;
                return calls === 1 ? { outcomes: [], leases: [lease] } : never();
              },
            }
          : {
              dequeueMany: async () => {
                calls += 1;
                return hung === 'dequeueMany' ? never() : [];
              },
            }),
        prune: async () => (hung === 'prune' ? never() : 0),
        complete: async () => undefined,
        extendLease: async () => lease,
      } as unknown as JobQueue<unknown>;
      const handled: string[] = [];
      const worker = startWorker(queue, (job) => void handled.push(job.id), {
        pollIntervalMs: 60_000,
        closeTimeoutMs: 100,
        onError: () => undefined,
      });
      if (hung === 'settleAndClaim') while (calls < 2) await sleep(5);
      else while (calls < 1) await sleep(5);
      expect(await closeOutcome(worker)).toBe('closed');
      expect(handled).toStrictEqual(hung === 'settleAndClaim' ? ['j1'] : []);
    },
    30_000,
  );

  it('under instrument(), a completion the engine never confirmed before close() gave up ends its handle span failed (ABORTED)', async () => {
    const lease = leaseOf('j1');
    let calls = 0;
    const queue = {
      name: 'partitioned',
      settleAndClaim: async () => {
        calls += 1;
        return calls === 1 ? { outcomes: [], leases: [lease] } : never();
      },
      extendLease: async () => lease,
      work(handler: JobHandler<unknown>, options?: WorkerOptions) {
        return startWorker(this as unknown as JobQueue<unknown>, handler, options);
      },
    };
    const standIn = { kind: 'stand-in', queue: () => queue, close: async () => undefined };
    const events: OperationEvent[] = [];
    const backend = instrument(standIn as unknown as QueueBackend, { onOperation: (event) => events.push(event) });
    const worker = backend
      .queue('partitioned')
      .work(() => 'done', { pollIntervalMs: 60_000, closeTimeoutMs: 100, retentionIntervalMs: 0, onError: () => {} });
    while (calls < 2) await sleep(5);
    expect(await closeOutcome(worker)).toBe('closed');
    const handles = events.filter((event) => event.operation === 'handle');
    expect(handles).toHaveLength(1);
    const [handle] = handles as [OperationEvent];
    // The job is not completed: it runs again once its lease expires.
    expect(handle.ok).toBe(false);
    expect(isBerthError(handle.error, 'ABORTED')).toBe(true);
  }, 30_000);
});
