import { MemoryBackend } from '@berth/adapter-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { isBerthError } from '../errors.js';
import type { DocumentValue } from '../values/document.js';
import type { LeaseRef } from './job.js';
import type { QueueOptions } from './job-admin.js';
import type { DequeueOptions, JobHandler, JobQueue, Settlement, Worker, WorkerOptions } from './job-queue.js';
import { WORKER_OBSERVER, type WorkerObserver } from './worker-observer.js';

// The shared worker on the real memory queue, on both of its paths: the
// batched one (settleAndClaim) and the plain one (dequeueMany + complete/fail).
// The worker is started through the adapter's own work(), so the adapter's
// notifier wakes it; the worker observer hook (what instrument() uses) routes
// the worker's traffic through a recording wrapper of the same queue.

type Path = 'plain' | 'batched';

interface Recorded {
  /** Per settleAndClaim call: how many settlements it carried and how many jobs it asked for. */
  readonly exchanges: { readonly settlements: number; readonly count: number }[];
  readonly completes: string[];
  readonly extendLeases: { readonly id: string; readonly token: string; readonly at: number }[];
  readonly prunes: number[];
  /** Most settleAndClaim calls in flight at once. */
  maxConcurrentExchanges: number;
}

interface Hooks {
  /** Runs inside each settleAndClaim call before it applies anything (1-based call number). */
  readonly beforeExchange?: (call: number) => Promise<void>;
  /** Replaces prune, to watch the worker's pacing of it. */
  readonly prune?: () => Promise<number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function deferred<T = void>(): { readonly promise: Promise<T>; readonly resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function recording<T>(queue: JobQueue<T>, path: Path, hooks: Hooks): { queue: JobQueue<T>; recorded: Recorded } {
  const recorded: Recorded = { exchanges: [], completes: [], extendLeases: [], prunes: [], maxConcurrentExchanges: 0 };
  let exchanging = 0;
  const settleAndClaim = (queue.settleAndClaim as NonNullable<JobQueue<T>['settleAndClaim']>).bind(queue);
  const overrides: Partial<Record<keyof JobQueue<T>, unknown>> = {
    settleAndClaim:
      path === 'plain'
        ? undefined
        : async (settlements: readonly Settlement[], count: number, options?: DequeueOptions) => {
            recorded.exchanges.push({ settlements: settlements.length, count });
            exchanging += 1;
            recorded.maxConcurrentExchanges = Math.max(recorded.maxConcurrentExchanges, exchanging);
            try {
              await hooks.beforeExchange?.(recorded.exchanges.length);
              return await settleAndClaim(settlements, count, options);
            } finally {
              exchanging -= 1;
            }
          },
    complete: (lease: LeaseRef, result?: DocumentValue) => {
      recorded.completes.push(lease.job.id);
      return queue.complete(lease, result);
    },
    extendLease: (lease: LeaseRef, leaseMs?: number) => {
      recorded.extendLeases.push({ id: lease.job.id, token: lease.token, at: Date.now() });
      return queue.extendLease(lease, leaseMs);
    },
    ...(hooks.prune === undefined
      ? {}
      : {
          prune: () => {
            recorded.prunes.push(Date.now());
            return (hooks.prune as () => Promise<number>)();
          },
        }),
  };
  const wrapped = new Proxy(queue, {
    get(target, key) {
      if (key in overrides) return overrides[key as keyof JobQueue<T>];
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { queue: wrapped, recorded };
}

const open: MemoryBackend[] = [];
const workers: Worker[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.close()));
  await Promise.all(open.splice(0).map((backend) => backend.close()));
});

function memoryQueue<T>(options?: QueueOptions): { queue: JobQueue<T>; backend: MemoryBackend } {
  const backend = new MemoryBackend();
  open.push(backend);
  return { queue: backend.queue<T>('jobs', options), backend };
}

/** Starts the adapter's worker with its traffic going through a recording wrapper on `path`. */
function work<T>(
  queue: JobQueue<T>,
  path: Path,
  handler: JobHandler<T>,
  options: WorkerOptions = {},
  hooks: Hooks = {},
): { worker: Worker; recorded: Recorded; errors: unknown[] } {
  let recorded: Recorded | undefined;
  const observer: WorkerObserver = {
    wrap: <Q>(inner: JobQueue<Q>) => {
      const wrapped = recording(inner, path, hooks);
      recorded = wrapped.recorded;
      return wrapped.queue;
    },
    job: () => () => undefined,
    stopped: () => undefined,
  };
  const errors: unknown[] = [];
  const worker = queue.work(handler, {
    pollIntervalMs: 20,
    retentionIntervalMs: 0,
    closeTimeoutMs: 200,
    onError: (error) => errors.push(error),
    ...options,
    [WORKER_OBSERVER]: observer,
  } as WorkerOptions);
  workers.push(worker);
  return { worker, recorded: recorded as unknown as Recorded, errors };
}

async function enqueueAll<T>(queue: JobQueue<T>, payloads: readonly T[]): Promise<string[]> {
  const results = await queue.enqueueMany(payloads.map((payload) => ({ payload })));
  return results.map((result) => result.id);
}

describe('the batched path', () => {
  it('sends settlements that finish while a call is in flight together in the next call, one call at a time', async () => {
    const { queue } = memoryQueue<string>();
    await enqueueAll(queue, ['a', 'b', 'c', 'd', 'e']);
    const release = new Map(['a', 'b', 'c', 'd', 'e'].map((name) => [name, deferred<void>()]));
    const secondCall = deferred();
    const { recorded, errors } = work(
      queue,
      'batched',
      (job) => (release.get(job.payload) as ReturnType<typeof deferred<void>>).promise,
      { concurrency: 4 },
      { beforeExchange: (call) => (call === 2 ? secondCall.promise : Promise.resolve()) },
    );
    await waitFor('the first claim', () => recorded.exchanges.length === 1);
    await sleep(20);
    release.get('a')?.resolve();
    await waitFor('the second call', () => recorded.exchanges.length === 2);
    // b, c and d finish while the second call is in flight.
    for (const name of ['b', 'c', 'd']) release.get(name)?.resolve();
    await sleep(30);
    expect(recorded.exchanges).toHaveLength(2);
    secondCall.resolve();
    release.get('e')?.resolve();
    await waitFor('every job to complete', async () => (await queue.stats()).completed === 5);
    expect(recorded.exchanges.slice(0, 3)).toStrictEqual([
      { settlements: 0, count: 4 },
      { settlements: 1, count: 1 },
      { settlements: 3, count: 3 },
    ]);
    expect(recorded.maxConcurrentExchanges).toBe(1);
    expect(recorded.completes).toStrictEqual([]);
    expect(errors).toStrictEqual([]);
  });

  it('settles and claims in one call per round for synchronous handlers: 300 jobs at concurrency 10 in about 31 calls', async () => {
    const { queue } = memoryQueue<number>();
    await enqueueAll(
      queue,
      Array.from({ length: 300 }, (_, n) => n),
    );
    const { recorded } = work(queue, 'batched', () => undefined, { concurrency: 10 });
    await waitFor('every job to complete', async () => (await queue.stats()).completed === 300);
    expect(recorded.exchanges.length).toBeLessThanOrEqual(35);
    expect(recorded.exchanges.reduce((sum, call) => sum + call.settlements, 0)).toBe(300);
  });

  it('fails an attempt whose result the engine refuses (VALIDATION) in the next call, and reports a CONFLICT', async () => {
    const { queue } = memoryQueue<string>();
    const [bad, cancelled] = await queue
      .enqueueMany([
        { payload: 'bad-result', maxAttempts: 1 },
        { payload: 'cancelled', maxAttempts: 1 },
      ])
      .then((results) => results.map((result) => result.id));
    const { recorded, errors } = work(
      queue,
      'batched',
      async (job) => {
        if (job.payload === 'bad-result') return { n: Symbol('not a document value') } as unknown as DocumentValue;
        await queue.cancel(job.id);
        return 'too late';
      },
      { concurrency: 2 },
    );
    await waitFor('both jobs to finish', async () => {
      const stats = await queue.stats();
      return stats.dead === 1 && stats.cancelled === 1;
    });
    const failed = await queue.get(bad as string);
    expect(failed?.state).toBe('dead');
    expect(failed?.errors[0]?.name).toBe('VALIDATION');
    expect((await queue.get(cancelled as string))?.state).toBe('cancelled');
    await waitFor('the conflict report', () => errors.length === 1);
    expect(isBerthError(errors[0], 'CONFLICT')).toBe(true);
    expect(recorded.completes).toStrictEqual([]);
  });

  it('drains settlements on close: a handler finishing while closing is completed before close resolves', async () => {
    const { queue } = memoryQueue<string>();
    const { id } = await queue.enqueue('slow');
    const started = deferred();
    const { worker, recorded } = work(queue, 'batched', async () => {
      started.resolve();
      await sleep(50);
      return 'done';
    });
    await started.promise;
    await worker.close();
    const job = await queue.get(id);
    expect(job?.state).toBe('completed');
    expect(job?.result).toBe('done');
    expect(recorded.exchanges.at(-1)).toStrictEqual({ settlements: 1, count: 0 });
  });

  it('releases prefetched jobs on close and starts newly enqueued jobs on the notification', async () => {
    const { queue } = memoryQueue<number>();
    const gate = deferred();
    const seen: number[] = [];
    const { worker } = work(
      queue,
      'batched',
      async (job) => {
        seen.push(job.payload);
        if (job.payload === 1) await gate.promise;
      },
      { concurrency: 1, prefetch: 3, pollIntervalMs: 60_000 },
    );
    await sleep(30);
    // The worker is idle with a one-minute poll: only the notification can start these.
    await enqueueAll(queue, [1, 2, 3, 4, 5]);
    await waitFor('the first job', () => seen.length === 1);
    await waitFor('the prefetch', async () => (await queue.stats()).active === 4);
    const closing = worker.close();
    gate.resolve();
    await closing;
    expect(seen).toStrictEqual([1]);
    expect(await queue.stats()).toMatchObject({ completed: 1, waiting: 4, active: 0 });
    const { jobs } = await queue.listJobs({ state: 'waiting' });
    expect(jobs.map((job) => job.attempts)).toStrictEqual([0, 0, 0, 0]);
  });

  it('an idle worker whose backend closed reports the CONNECTION error once and stops', async () => {
    const { queue, backend } = memoryQueue<string>();
    const { recorded, errors } = work(queue, 'batched', () => undefined, { pollIntervalMs: 5 });
    await sleep(30);
    await backend.close();
    await sleep(100);
    const calls = recorded.exchanges.length;
    await sleep(50);
    expect(recorded.exchanges.length).toBe(calls);
    expect(errors).toHaveLength(1);
    expect(isBerthError(errors[0], 'CONNECTION')).toBe(true);
  });
});

describe.each(['plain', 'batched'] as const)('the %s path', (path) => {
  it('stops renewing every lease, prefetched ones included, once a closed backend stopped the worker', async () => {
    const { queue, backend } = memoryQueue<number>();
    await enqueueAll(queue, [1, 2, 3, 4]);
    const { worker, recorded, errors } = work(
      queue,
      path,
      async () => {
        await sleep(150);
      },
      {
        concurrency: 1,
        prefetch: 3,
        leaseMs: 60,
      },
    );
    await waitFor('a renewal', () => recorded.extendLeases.length > 0);
    await backend.close();
    await worker.close();
    const renewals = recorded.extendLeases.length;
    await sleep(150);
    expect(recorded.extendLeases.length).toBe(renewals);
    expect(errors.filter((error) => isBerthError(error, 'CONNECTION'))).toHaveLength(1);
  });

  it('times out a handler: its signal aborts with TIMEOUT, the attempt fails, and the slot goes to the next job', async () => {
    const { queue } = memoryQueue<string>();
    const [hanging, next] = await queue
      .enqueueMany([
        { payload: 'hangs', maxAttempts: 2, backoff: { type: 'fixed', delayMs: 60_000 } },
        { payload: 'next' },
      ])
      .then((results) => results.map((result) => result.id));
    const reasons: unknown[] = [];
    const { errors } = work(
      queue,
      path,
      (job, { signal }) => {
        if (job.payload === 'next') return 'ran';
        signal.addEventListener('abort', () => reasons.push(signal.reason));
        return new Promise<never>(() => undefined);
      },
      { concurrency: 1, timeoutMs: 60 },
    );
    await waitFor('the next job to complete', async () => (await queue.get(next as string))?.state === 'completed');
    expect(reasons).toHaveLength(1);
    expect(isBerthError(reasons[0], 'TIMEOUT')).toBe(true);
    const timedOut = await queue.get(hanging as string);
    expect(timedOut?.state).toBe('waiting');
    expect(timedOut?.errors.map((error) => error.name)).toStrictEqual(['TIMEOUT']);
    expect(errors).toStrictEqual([]);
  });

  it('WorkerOptions.timeoutMs applies to jobs without their own; a handler that ignores its signal loses the job and its late result is dropped', async () => {
    const { queue } = memoryQueue<string>();
    const { id } = await queue.enqueue('ignores its signal', { backoff: { type: 'fixed', delayMs: 0 } });
    let calls = 0;
    const { recorded } = work(
      queue,
      path,
      async () => {
        calls += 1;
        await sleep(700);
        return 'late';
      },
      // The lease (600 ms, renewed every 200 ms) outlives the 300 ms deadline
      // by 300 ms, so a stalled event loop on a busy machine does not let the
      // lease run out before the timeout is handled.
      { concurrency: 2, timeoutMs: 300, leaseMs: 600 },
    );
    await waitFor('the job to be dead', async () => (await queue.get(id))?.state === 'dead', 10_000);
    const job = await queue.get(id);
    expect(job?.errors.map((error) => error.name)).toStrictEqual(['TIMEOUT', 'TIMEOUT', 'TIMEOUT']);
    expect(calls).toBe(3);
    // Each attempt's lease was renewed (at about 200 ms) only before its 300 ms deadline, never after.
    const renewalsPerToken = new Map<string, number>();
    for (const renewal of recorded.extendLeases) {
      renewalsPerToken.set(renewal.token, (renewalsPerToken.get(renewal.token) ?? 0) + 1);
    }
    expect(renewalsPerToken.size).toBeGreaterThan(0);
    for (const count of renewalsPerToken.values()) expect(count).toBe(1);
    await sleep(800);
    expect((await queue.get(id))?.result).toBeUndefined();
  });

  it('renews many leases with one timer: 40 held leases add at most two pending timers, and each is extended', async () => {
    const { queue } = memoryQueue<number>();
    await enqueueAll(
      queue,
      Array.from({ length: 40 }, (_, n) => n),
    );
    const gate = deferred();
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timers();
    const { recorded } = work(queue, path, () => gate.promise, { concurrency: 40, leaseMs: 90 });
    await waitFor('every job to start', async () => (await queue.stats()).active === 40);
    expect(timers() - before).toBeLessThanOrEqual(2);
    await sleep(120);
    const renewed = new Set(recorded.extendLeases.map((renewal) => renewal.id));
    expect(renewed.size).toBe(40);
    gate.resolve();
    await waitFor('every job to complete', async () => (await queue.stats()).completed === 40);
  });

  it('a signal read only after close gave up is already aborted with ABORTED; one read before aborts too', async () => {
    const { queue } = memoryQueue<string>();
    await enqueueAll(queue, ['reads late', 'reads early']);
    const late = deferred<AbortSignal>();
    const early: AbortSignal[] = [];
    const closeStarted = deferred();
    const { worker } = work(
      queue,
      path,
      async (job, context) => {
        if (job.payload === 'reads early') early.push(context.signal);
        await closeStarted.promise;
        await sleep(60);
        if (job.payload === 'reads late') late.resolve(context.signal);
        await sleep(1_000);
      },
      { concurrency: 2, closeTimeoutMs: 20 },
    );
    await waitFor('both handlers', async () => (await queue.stats()).active === 2);
    const closing = worker.close();
    closeStarted.resolve();
    await closing;
    expect(early[0]?.aborted).toBe(true);
    expect(isBerthError(early[0]?.reason, 'ABORTED')).toBe(true);
    const signal = await late.promise;
    expect(signal.aborted).toBe(true);
    expect(isBerthError(signal.reason, 'ABORTED')).toBe(true);
  });

  it('applies retention at start and every retentionIntervalMs, again soon after a full step, never two at once', async () => {
    const { queue } = memoryQueue<string>();
    let pruning = 0;
    let overlapped = false;
    const removed = [1_000, 1_000, 3];
    const { recorded, errors } = work(
      queue,
      path,
      () => undefined,
      { retentionIntervalMs: 250 },
      {
        prune: async () => {
          pruning += 1;
          overlapped ||= pruning > 1;
          await sleep(10);
          pruning -= 1;
          const count = removed.shift();
          if (count === undefined) throw new Error('prune failed');
          return count;
        },
      },
    );
    await waitFor('four steps', () => recorded.prunes.length === 4, 2_000);
    const [start, second, third, fourth] = recorded.prunes as [number, number, number, number];
    // Two full steps: the next ones come soon; the third removed 3, so the fourth waits the interval.
    expect(second - start).toBeLessThan(200);
    expect(third - second).toBeLessThan(200);
    expect(fourth - third).toBeGreaterThanOrEqual(240);
    await waitFor('the failure report', () => errors.length === 1);
    expect(errors).toStrictEqual([new Error('prune failed')]);
    expect(overlapped).toBe(false);
  });

  it("a job's own timeoutMs overrides the worker's, both ways", async () => {
    const { queue } = memoryQueue<string>();
    const [short, long] = await queue
      .enqueueMany([
        { payload: 'own 40 ms', timeoutMs: 40, maxAttempts: 1 },
        { payload: 'own 5 s', timeoutMs: 5_000, maxAttempts: 1 },
      ])
      .then((results) => results.map((result) => result.id as string));
    work(
      queue,
      path,
      async () => {
        await sleep(150);
        return 'finished';
      },
      { concurrency: 2, timeoutMs: 100 },
    );
    await waitFor('both jobs to finish', async () => {
      const stats = await queue.stats();
      return stats.dead + stats.completed === 2;
    });
    expect((await queue.get(short as string))?.errors.map((error) => error.name)).toStrictEqual(['TIMEOUT']);
    expect((await queue.get(long as string))?.state).toBe('completed');
  });

  it('context.progress stores progress under the current lease, and rejects with CONFLICT once the lease is lost', async () => {
    const { queue } = memoryQueue<string>();
    const { id } = await queue.enqueue('reports progress');
    const outcomes: unknown[] = [];
    const cancelled = deferred();
    work(
      queue,
      path,
      async (_job, context) => {
        await context.progress({ step: 1 });
        // Past at least one renewal, so the lease passed on is the renewed one.
        await sleep(60);
        await context.progress({ step: 2 });
        outcomes.push((await queue.get(id))?.progress);
        await cancelled.promise;
        outcomes.push(await context.progress({ step: 3 }).catch((error: unknown) => error));
      },
      { leaseMs: 45 },
    );
    await waitFor('the second step', () => outcomes.length === 1);
    expect(outcomes[0]).toStrictEqual({ step: 2 });
    await queue.cancel(id);
    cancelled.resolve();
    await waitFor('the third step', () => outcomes.length === 2);
    expect(isBerthError(outcomes[1], 'CONFLICT')).toBe(true);
    expect((await queue.get(id))?.progress).toStrictEqual({ step: 2 });
  });

  it("applies the queue's retention while working: completed jobs beyond maxCount are removed", async () => {
    const { queue } = memoryQueue<number>({ retention: { completed: { maxCount: 5 } } });
    await enqueueAll(
      queue,
      Array.from({ length: 30 }, (_, n) => n),
    );
    work(queue, path, () => undefined, { concurrency: 5, retentionIntervalMs: 30 });
    await waitFor('retention to catch up', async () => {
      const stats = await queue.stats();
      return stats.waiting === 0 && stats.active === 0 && stats.completed === 5;
    });
  });
});

describe('worker options', () => {
  it('refuses a bad timeoutMs or retentionIntervalMs with VALIDATION before touching a job', async () => {
    const { queue } = memoryQueue<string>();
    await queue.enqueue('untouched');
    const bad: readonly WorkerOptions[] = [
      { timeoutMs: 0 },
      { timeoutMs: 1.5 },
      { timeoutMs: Number.NaN },
      { timeoutMs: '100' as unknown as number },
      { retentionIntervalMs: -1 },
      { retentionIntervalMs: Number.POSITIVE_INFINITY },
    ];
    for (const options of bad) {
      let thrown: unknown;
      try {
        workers.push(queue.work(() => undefined, options));
      } catch (error) {
        thrown = error;
      }
      expect(isBerthError(thrown, 'VALIDATION'), JSON.stringify(options)).toBe(true);
    }
    await sleep(30);
    expect((await queue.stats()).waiting).toBe(1);
  });
});
