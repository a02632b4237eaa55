import { MemoryBackend } from '@berth/adapter-memory';
import type {
  Capabilities,
  DocumentValue,
  EnqueueOptions,
  HealthStatus,
  Job,
  JobQueue,
  Lease,
  LeaseRef,
  MigrationReport,
  QueueBackend,
  QueueEvent,
  QueueOptions,
  SettleAndClaimResult,
  SettlementOutcome,
  SignalOptions,
  Worker,
} from '@berth/core';
import { startWorker } from '@berth/core';
import { override } from '../override.js';
import { brokenImports } from './broken-admin.js';

/** Replacement methods for a queue; each gets the healthy queue to delegate to. */
export type QueueOverrides = (inner: JobQueue<DocumentValue>) => Partial<JobQueue<DocumentValue>>;

function wrapQueue(
  inner: JobQueue<DocumentValue>,
  overrides: Partial<JobQueue<DocumentValue>>,
): JobQueue<DocumentValue> {
  return override(inner, overrides);
}

/**
 * A memory backend whose queues have one deliberate defect. It claims the
 * healthy backend's capabilities, so the suite holds it to the full contract.
 */
export class BrokenQueueBackend implements QueueBackend {
  readonly kind = 'broken-memory-queue';
  private readonly inner = new MemoryBackend();
  readonly capabilities: Capabilities = this.inner.capabilities;
  // One wrapped queue per name, so a defect that keeps state (a racy dedupe
  // map, remembered tokens) sees every call made on that queue.
  private readonly wrapped = new Map<string, JobQueue<DocumentValue>>();

  constructor(
    private readonly overrides: QueueOverrides,
    /** Replaces the backend's `queues()`; gets the healthy backend to delegate to. */
    private readonly listQueues?: ((inner: MemoryBackend, options?: SignalOptions) => Promise<string[]>) | undefined,
  ) {}

  queues(options?: SignalOptions): Promise<string[]> {
    return this.listQueues?.(this.inner, options) ?? this.inner.queues(options);
  }
  migrate(options?: SignalOptions): Promise<MigrationReport> {
    return this.inner.migrate(options);
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  health(): Promise<HealthStatus> {
    return this.inner.health();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.inner.close();
  }

  queue<T = DocumentValue>(name: string, options?: QueueOptions): JobQueue<T> {
    // A queue with its own retention is wrapped afresh (the policy belongs to that object).
    if (options !== undefined) {
      const inner = this.inner.queue<DocumentValue>(name, options);
      return wrapQueue(inner, this.overrides(inner)) as unknown as JobQueue<T>;
    }
    let queue = this.wrapped.get(name);
    if (queue === undefined) {
      const inner = this.inner.queue<DocumentValue>(name);
      queue = wrapQueue(inner, this.overrides(inner));
      this.wrapped.set(name, queue);
    }
    return queue as unknown as JobQueue<T>;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Enqueue options with some fields dropped, as an adapter that ignores them would. */
function without(options: (EnqueueOptions & SignalOptions) | undefined, ...fields: (keyof EnqueueOptions)[]) {
  if (options === undefined) return undefined;
  const copy: Record<string, unknown> = { ...options };
  for (const field of fields) delete copy[field];
  return copy as EnqueueOptions & SignalOptions;
}

/** Leases handed out, remembered by job id, so a later call can swap in the newest token. */
const acceptsStaleTokens: QueueOverrides = (inner) => {
  const newest = new Map<string, string>();
  const remember = <L extends Lease<DocumentValue> | null>(lease: L): L => {
    if (lease !== null) newest.set(lease.job.id, lease.token);
    return lease;
  };
  const current = (lease: LeaseRef): LeaseRef => ({ job: lease.job, token: newest.get(lease.job.id) ?? lease.token });
  return {
    dequeue: async (options) => remember(await inner.dequeue(options)),
    dequeueMany: async (count, options) => (await inner.dequeueMany(count, options)).map(remember),
    complete: (lease, result, options) => inner.complete(current(lease), result, options),
    fail: (lease, error, options) => inner.fail(current(lease), error, options),
    extendLease: (lease, leaseMs, options) => inner.extendLease(current(lease), leaseMs, options),
    release: (lease, options) => inner.release(current(lease), options),
  };
};

/** Hands the last lease out again whenever nothing else is due and the job is still active. */
const deliversLeasedJobsAgain: QueueOverrides = (inner) => {
  let last: Lease<DocumentValue> | null = null;
  return {
    dequeue: async (options) => {
      const lease = await inner.dequeue(options);
      if (lease !== null) {
        last = lease;
        return lease;
      }
      if (last !== null && (await inner.get(last.job.id))?.state === 'active') return last;
      return null;
    },
  };
};

/** Hides any job it has leased before and that was never completed, failed or released. */
const neverRedelivers: QueueOverrides = (inner) => {
  const leased = new Set<string>();
  const settle = async <R>(lease: LeaseRef, work: Promise<R>): Promise<R> => {
    const result = await work;
    leased.delete(lease.job.id);
    return result;
  };
  return {
    dequeue: async (options) => {
      const lease = await inner.dequeue(options);
      if (lease === null || leased.has(lease.job.id)) return null;
      leased.add(lease.job.id);
      return lease;
    },
    complete: (lease, result, options) => settle(lease, inner.complete(lease, result, options)),
    fail: (lease, error, options) => settle(lease, inner.fail(lease, error, options)),
    release: (lease, options) => settle(lease, inner.release(lease, options)),
  };
};

/** Deduplicates by looking the key up first and enqueueing after an await: concurrent callers all miss. */
const racyDedupe: QueueOverrides = (inner) => {
  const holders = new Map<string, string>();
  return {
    enqueue: async (payload, options) => {
      const key = options?.dedupeKey;
      if (key === undefined) return inner.enqueue(payload, options);
      const holder = holders.get(key);
      if (holder !== undefined) {
        const job = await inner.get(holder);
        if (job !== null && (job.state === 'waiting' || job.state === 'active')) {
          return { id: holder, deduplicated: true };
        }
      }
      await sleep(1);
      const result = await inner.enqueue(payload, without(options, 'dedupeKey'));
      holders.set(key, result.id);
      return result;
    },
  };
};

/** Keeps every failed attempt's message whole, however long, as an adapter that stores `String(error)` would. */
const keepsWholeErrorMessages: QueueOverrides = (inner) => {
  const messages = new Map<string, string[]>();
  const restore = <J extends Job<DocumentValue> | null>(job: J): J => {
    const whole = job === null ? undefined : messages.get(job.id);
    if (job === null || whole === undefined) return job;
    return { ...job, errors: job.errors.map((error, index) => ({ ...error, message: whole[index] ?? error.message })) };
  };
  return {
    fail: async (lease, error, options) => {
      const state = await inner.fail(lease, error, options);
      const list = messages.get(lease.job.id) ?? [];
      list.push(error instanceof Error ? error.message : String(error));
      messages.set(lease.job.id, list);
      return state;
    },
    get: async (id, options) => restore(await inner.get(id, options)),
  };
};

/** Hands handlers a signal whose abort reason is a plain Error, not a Berth error. */
const abortsWithPlainErrors: QueueOverrides = (inner) => ({
  work: (handler, options) =>
    // A handler that is not a function goes through as is, so only the abort reason is wrong.
    typeof handler !== 'function'
      ? inner.work(handler, options)
      : inner.work((job, context) => {
          const controller = new AbortController();
          context.signal.addEventListener('abort', () => controller.abort(new Error('worker closed')), { once: true });
          return handler(job, {
            signal: controller.signal,
            get lease() {
              return context.lease;
            },
            progress: (progress) => context.progress(progress),
          });
        }, options),
});

/** Starts a fresh worker whenever one stops on an error, so a worker on a closed backend never ends. */
const restartsStoppedWorkers: QueueOverrides = (inner) => ({
  work: (handler, options) => {
    let current: Worker;
    let closed = false;
    const start = (): void => {
      current = inner.work(handler, {
        ...options,
        onError: (error, job) => {
          options?.onError?.(error, job);
          if (!closed) setTimeout(start, 0);
        },
      });
    };
    start();
    const close = async (): Promise<void> => {
      closed = true;
      await current.close();
    };
    return {
      get running() {
        return current.running;
      },
      close,
      [Symbol.asyncDispose]: close,
    };
  },
});

/** Starts every page after the first one job late: a job at each page boundary is never listed. */
const skipsAcrossPages: QueueOverrides = (inner) => ({
  listJobs: async (options) => {
    if (options?.cursor === undefined) return inner.listJobs(options);
    const page = await inner.listJobs({ ...options, limit: Math.min((options.limit ?? 50) + 1, 1_000) });
    return { jobs: page.jobs.slice(1), cursor: page.cursor };
  },
});

/** Starts every retryJobs step from the oldest dead job again, whatever cursor it is given. */
const retryIgnoresCursor: QueueOverrides = (inner) => ({
  retryJobs: (options) => inner.retryJobs({ ...options, cursor: undefined }),
});

/** Prunes, then also removes waiting jobs (cancelled and purged in one go). */
const prunesUnfinishedJobs: QueueOverrides = (inner) => ({
  prune: async (options) => {
    const removed = await inner.prune(options);
    let more = 0;
    for (;;) {
      const { jobs } = await inner.listJobs({ state: 'waiting', limit: 1_000 });
      if (jobs.length === 0) break;
      for (const job of jobs) if (await inner.cancel(job.id)) more += 1;
    }
    if (more > 0) await inner.purge({ finishedBefore: new Date(Date.now() + 60_000), states: ['cancelled'] });
    return removed + more;
  },
});

/** Swallows the CONFLICT of progress on a stale lease, as an adapter that never checks the token would seem to. */
const progressIgnoresStaleLeases: QueueOverrides = (inner) => ({
  progress: async (lease, progress, options) => {
    try {
      await inner.progress(lease, progress, options);
    } catch (error) {
      if (!(error instanceof Error && 'code' in error && error.code === 'CONFLICT')) throw error;
    }
  },
});

/** Never delivers `expired` events, to listeners or iterators. */
const dropsExpiredEvents: QueueOverrides = (inner) => ({
  subscribe: (listener, options) =>
    inner.subscribe((event) => {
      if (event.type !== 'expired') listener(event);
    }, options),
  events: (options) => {
    const source = inner.events(options);
    const iterator: AsyncIterableIterator<QueueEvent> = {
      next: async () => {
        for (;;) {
          const result = await source.next();
          if (result.done === true || result.value.type !== 'expired') return result;
        }
      },
      return: () => source.return?.() ?? Promise.resolve({ value: undefined, done: true }),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  },
});

/** Fires a tick by reading the schedule, then writing it and enqueueing: two racing callers both fire. */
const firesTicksTwice: QueueOverrides = (inner) => ({
  fireSchedule: async (name, tick) => {
    const record = await inner.getSchedule(name);
    if (record === null || record.paused || record.nextRunAt?.getTime() !== tick.runAt.getTime()) {
      return { fired: false };
    }
    await sleep(1);
    await inner.putSchedule({
      name: record.name,
      spec: record.spec,
      payload: record.payload,
      jobOptions: record.jobOptions,
      missed: record.missed,
      overlap: record.overlap,
      paused: record.paused,
      nextRunAt: tick.nextRunAt,
    });
    if (!tick.enqueue) return { fired: true };
    const dedupe = record.overlap === 'skip' ? { dedupeKey: `schedule:${record.name}` } : {};
    return {
      fired: true,
      job: await inner.enqueue(record.payload, { ...record.jobOptions, ...dedupe, runAt: tick.runAt }),
    };
  },
});

/** Hands the worker jobs without their timeoutMs and drops the worker's own: no attempt ever times out. */
const neverTimesOut: QueueOverrides = (inner) => {
  const strip = <L extends Lease<DocumentValue>>(lease: L): L => ({
    ...lease,
    job: { ...lease.job, timeoutMs: undefined },
  });
  const members: Partial<JobQueue<DocumentValue>> = {
    dequeue: async (options) => {
      const lease = await inner.dequeue(options);
      return lease === null ? null : strip(lease);
    },
    dequeueMany: async (count, options) => (await inner.dequeueMany(count, options)).map(strip),
    settleAndClaim: async (settlements, count, options) => {
      const result = await (inner.settleAndClaim as NonNullable<typeof inner.settleAndClaim>)(
        settlements,
        count,
        options,
      );
      return { outcomes: result.outcomes, leases: result.leases.map(strip) };
    },
    // The handler of a case that waits for an abort would hold close() for 30 s: close quickly instead.
    work: (handler, options) => startWorker(self, handler, { ...options, timeoutMs: undefined, closeTimeoutMs: 100 }),
  };
  const self: JobQueue<DocumentValue> = override(inner, members);
  return members;
};

/** Settles one by one and lets the first refused settlement fail the whole call. */
const settlesAllOrNothing: QueueOverrides = (inner) => ({
  settleAndClaim: async (settlements, count, options): Promise<SettleAndClaimResult<DocumentValue>> => {
    const outcomes: SettlementOutcome[] = [];
    for (const settlement of settlements) {
      if (settlement.outcome === 'complete') {
        await inner.complete(settlement.lease, settlement.result);
        outcomes.push({ state: 'completed' });
      } else {
        const state = await inner.fail(settlement.lease, settlement.error, {
          retry: settlement.retry,
          retryAfterMs: settlement.retryAfterMs,
        });
        outcomes.push({ state });
      }
    }
    return { outcomes, leases: count === 0 ? [] : await inner.dequeueMany(count, options) };
  },
});

export const brokenQueues: readonly {
  readonly name: string;
  readonly group: string;
  /** The case that must fail (any case of the group, when absent). */
  readonly rejectedBy?: string | undefined;
  readonly overrides: QueueOverrides;
}[] = [
  {
    name: 'delivers a leased job again while its lease is valid',
    group: 'queue-lease',
    overrides: deliversLeasedJobsAgain,
  },
  {
    name: 'accepts stale tokens by completing through the newest lease of the job',
    group: 'queue-lease',
    overrides: acceptsStaleTokens,
  },
  {
    name: 'never redelivers a job whose lease expired',
    group: 'queue-lease',
    overrides: neverRedelivers,
  },
  {
    name: 'deduplicates by get-then-enqueue, racing under concurrency',
    group: 'queue-dedupe',
    overrides: racyDedupe,
  },
  {
    name: 'ignores priority (first in, first out only)',
    group: 'queue-order',
    overrides: (inner) => ({
      enqueue: (payload, options) => inner.enqueue(payload, without(options, 'priority')),
      enqueueMany: (items, options) =>
        inner.enqueueMany(
          items.map((item) => ({ ...item, priority: undefined })),
          options,
        ),
    }),
  },
  {
    name: 'ignores delays, delivering jobs that are not yet due',
    group: 'queue-order',
    overrides: (inner) => ({
      enqueue: (payload, options) => inner.enqueue(payload, without(options, 'delayMs', 'runAt')),
      enqueueMany: (items, options) =>
        inner.enqueueMany(
          items.map((item) => ({ ...item, delayMs: undefined, runAt: undefined })),
          options,
        ),
    }),
  },
  {
    name: 'retries endlessly, never making a job dead',
    group: 'queue-retry',
    overrides: (inner) => ({
      fail: async (lease, error, options) => {
        if ((await inner.fail(lease, error, options)) === 'dead') await inner.retry(lease.job.id);
        return 'waiting';
      },
    }),
  },
  {
    name: 'drops the result passed to complete',
    group: 'queue-retry',
    overrides: (inner) => ({
      complete: (lease, _result, options) => inner.complete(lease, undefined, options),
    }),
  },
  {
    name: 'counts cancelled jobs as dead in stats',
    group: 'queue-admin',
    overrides: (inner) => ({
      stats: async (options) => {
        const stats = await inner.stats(options);
        return { ...stats, dead: stats.dead + stats.cancelled, cancelled: 0 };
      },
    }),
  },
  {
    name: 'keeps a 5 MB error message whole',
    group: 'queue-retry',
    overrides: keepsWholeErrorMessages,
  },
  {
    name: "aborts a handler's signal on close with a plain Error",
    group: 'queue-worker',
    overrides: abortsWithPlainErrors,
  },
  {
    name: 'keeps polling a closed backend, reporting every failure',
    group: 'queue-worker',
    overrides: restartsStoppedWorkers,
  },
  {
    name: 'runs one handler more than the concurrency allows',
    group: 'queue-worker',
    overrides: (inner) => ({
      work: (handler, options) => inner.work(handler, { ...options, concurrency: (options?.concurrency ?? 1) + 1 }),
    }),
  },
  {
    name: 'skips a job at every page boundary of a listing',
    group: 'queue-listing',
    rejectedBy: 'pages neither skip nor repeat jobs while jobs are added and change state between pages',
    overrides: skipsAcrossPages,
  },
  {
    name: 'ignores the cursor of retryJobs, starting over each step',
    group: 'queue-bulk-admin',
    rejectedBy:
      'each step examines at most limit jobs, oldest first, and the cursor resumes after the last one until it is undefined',
    overrides: retryIgnoresCursor,
  },
  {
    name: 'prunes waiting jobs too',
    group: 'queue-retention',
    rejectedBy: 'prune never removes waiting or active jobs, however old, even with maxCount 0 and maxAgeMs 0',
    overrides: prunesUnfinishedJobs,
  },
  {
    name: 'accepts progress on a stale lease',
    group: 'queue-progress',
    rejectedBy:
      'progress with a stale lease (expired and redelivered, settled, cancelled, made up) is CONFLICT and changes nothing',
    overrides: progressIgnoresStaleLeases,
  },
  {
    name: 'never emits expired',
    group: 'queue-events',
    rejectedBy: 'a lease that expires emits expired before the redelivery starts; on the last attempt it ends in dead',
    overrides: dropsExpiredEvents,
  },
  {
    name: 'fires a tick twice when two schedulers race',
    group: 'queue-schedules',
    rejectedBy:
      'two schedulers racing on one tick (queue objects of one backend, and two backends where the run opens one): exactly one fires',
    overrides: firesTicksTwice,
  },
  {
    name: 'never aborts a handler at its timeout',
    group: 'queue-timeout',
    rejectedBy:
      "past the job's timeoutMs the handler's signal aborts with a TIMEOUT error and the attempt fails: retried, then dead",
    overrides: neverTimesOut,
  },
  {
    name: 'fails a whole settleAndClaim on one stale lease',
    group: 'queue-settle-and-claim',
    rejectedBy:
      'each settlement gets its own outcome: completed, waiting, dead, or the CONFLICT of a stale lease and the VALIDATION of a bad result, which stop nothing',
    overrides: settlesAllOrNothing,
  },
  ...brokenImports,
];
