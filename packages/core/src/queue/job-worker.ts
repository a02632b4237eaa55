import { AbortedError, isBerthError, ValidationError } from '../errors.js';
import type { DocumentValue } from '../values/document.js';
import type { Lease } from './job.js';
import { checkDuration } from './job-options.js';
import type { JobContext, JobHandler, JobQueue, Worker, WorkerOptions } from './job-queue.js';
import { WORKER_OBSERVER, type WorkerObserver } from './worker-observer.js';

/** How an adapter tells workers that a job may be available (LISTEN/NOTIFY, pub/sub, in-process events). */
export interface JobNotifier {
  /** Calls `listener` when a job may have become due; returns the unsubscribe function. */
  onJobAvailable(listener: () => void): () => void;
}

/** Leases of prefetched jobs stay short, so a crashed worker does not sit on them. */
const PREFETCH_LEASE_MS = 10_000;

/** The longest pause between fetches while the queue keeps failing with retryable errors. */
const MAX_FETCH_BACKOFF_MS = 30_000;

/**
 * A closed or unreachable-for-good backend: fetching again cannot succeed, so
 * the worker stops instead of polling it forever.
 */
function isFatal(error: unknown): boolean {
  return isBerthError(error, 'CONNECTION') && !error.retryable;
}

type ObservedWorkerOptions = WorkerOptions & { readonly [WORKER_OBSERVER]?: WorkerObserver | undefined };

interface Running<T> {
  lease: Lease<T>;
  readonly controller: AbortController;
  lost: boolean;
}

/**
 * Whether a handler's error asks for no further attempts: an error whose
 * `retryable` is `false` (a non-retryable Berth error, or any error you mark
 * so) makes the job dead at once.
 */
export function isPermanentFailure(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false;
}

function checkCount(name: string, value: number | undefined, fallback: number, min: number): number {
  const count = value ?? fallback;
  if (!Number.isSafeInteger(count) || count < min || count > 10_000) {
    throw new ValidationError(`${name} must be an integer from ${min} to 10000, got ${String(count)}`, name);
  }
  return count;
}

/**
 * The worker every queue adapter hands out from `queue.work()`: written once,
 * on top of the JobQueue port, so all engines get the same behaviour.
 */
class QueueWorker<T> implements Worker {
  private readonly concurrency: number;
  private readonly prefetch: number;
  private readonly pollIntervalMs: number;
  private readonly closeTimeoutMs: number;
  private readonly leaseMs: number | undefined;
  private readonly inFlight = new Set<Running<T>>();
  private readonly prefetched: Lease<T>[] = [];
  private readonly renewals = new Map<string, ReturnType<typeof setInterval>>();
  private readonly unsubscribe: (() => void) | undefined;
  private readonly loopDone: Promise<void>;
  private closing = false;
  /** Set once the backend failed for good; later errors of the same kind are not reported again. */
  private stoppedByFatalError = false;
  private closed: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** A job became available while no sleep was waiting for it (see `jobAvailable`). */
  private missedWakeUp = false;
  private drained: (() => void) | undefined;
  private readonly queue: JobQueue<T>;
  private readonly observer: WorkerObserver | undefined;

  constructor(
    queue: JobQueue<T>,
    private readonly handler: JobHandler<T>,
    private readonly options: WorkerOptions,
    notifier: JobNotifier | undefined,
  ) {
    this.concurrency = checkCount('concurrency', options.concurrency, 1, 1);
    this.prefetch = checkCount('prefetch', options.prefetch, 0, 0);
    this.pollIntervalMs = checkDuration('pollIntervalMs', options.pollIntervalMs ?? 1_000, 1);
    this.closeTimeoutMs = checkDuration('closeTimeoutMs', options.closeTimeoutMs ?? 30_000);
    this.leaseMs = options.leaseMs === undefined ? undefined : checkDuration('leaseMs', options.leaseMs, 1);
    if (typeof handler !== 'function') throw new ValidationError('work() needs a handler function', 'handler');
    this.observer = (options as ObservedWorkerOptions)[WORKER_OBSERVER];
    this.queue = this.observer === undefined ? queue : this.observer.wrap(queue);
    this.unsubscribe = notifier?.onJobAvailable(() => this.jobAvailable());
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
    this.loopDone = this.loop();
    if (options.signal?.aborted) void this.close();
  }

  get running(): number {
    return this.inFlight.size;
  }

  private report(error: unknown, lease?: Lease<T>): void {
    if (isFatal(error)) {
      // The backend is gone: say it once and stop, as close() would, instead
      // of failing (and reporting) every poll, renewal and settlement after it.
      if (this.stoppedByFatalError) return;
      this.stoppedByFatalError = true;
      void this.close();
    }
    const job = lease?.job as Lease<unknown>['job'] | undefined;
    if (this.options.onError !== undefined) this.options.onError(error, job);
    // Without a hook, say it rather than lose it.
    else console.error(`berth worker on queue ${this.queue.name}${job ? `, job ${job.id}` : ''}:`, error);
  }

  /**
   * A notification that comes while the worker is fetching (not sleeping)
   * is kept, so the next sleep is skipped: the fetch in flight may have read
   * the queue before the job was committed.
   */
  private jobAvailable(): void {
    if (this.wakeUp === undefined) this.missedWakeUp = true;
    else this.wake();
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private sleep(ms: number): Promise<void> {
    if (this.missedWakeUp) {
      this.missedWakeUp = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.closing) {
      const capacity = this.concurrency + this.prefetch - this.inFlight.size - this.prefetched.length;
      if (capacity > 0) {
        let leases: Lease<T>[];
        try {
          const leaseMs =
            this.prefetch > 0 ? Math.min(this.leaseMs ?? PREFETCH_LEASE_MS, PREFETCH_LEASE_MS) : this.leaseMs;
          leases = await this.queue.dequeueMany(capacity, leaseMs === undefined ? {} : { leaseMs });
        } catch (error) {
          this.report(error);
          if (this.stoppedByFatalError) break;
          failures += 1;
          if (!this.closing) await this.sleep(this.fetchBackoffMs(failures));
          continue;
        }
        failures = 0;
        for (const lease of leases) {
          this.prefetched.push(lease);
          this.startRenewal(lease);
        }
        this.startHandlers();
        // Never sleep after a non-empty fetch: there may be more due jobs.
        if (leases.length > 0) continue;
      }
      if (this.closing) break;
      await this.sleep(this.pollIntervalMs);
    }
  }

  /** Doubles the poll interval with each failed fetch in a row, so a failing engine is not hammered. */
  private fetchBackoffMs(failures: number): number {
    const ceiling = Math.max(this.pollIntervalMs, MAX_FETCH_BACKOFF_MS);
    return Math.min(ceiling, this.pollIntervalMs * 2 ** Math.min(failures - 1, 30));
  }

  private prefetchLeaseMs(lease: Lease<T>): number {
    return Math.min(this.leaseMs ?? lease.job.leaseMs, PREFETCH_LEASE_MS);
  }

  private startHandlers(): void {
    while (!this.closing && this.inFlight.size < this.concurrency && this.prefetched.length > 0) {
      const lease = this.prefetched.shift() as Lease<T>;
      void this.handle(lease);
    }
  }

  /** Renews a lease at a third of its duration until it is released or lost. */
  private startRenewal(lease: Lease<T>): void {
    const duration = Math.max(1, lease.expiresAt.getTime() - Date.now());
    const timer = setInterval(() => void this.renew(lease.job.id), Math.max(1, Math.floor(duration / 3)));
    this.renewals.set(lease.job.id, timer);
  }

  private stopRenewal(jobId: string): void {
    clearInterval(this.renewals.get(jobId));
    this.renewals.delete(jobId);
  }

  private currentLease(jobId: string): { lease: Lease<T>; running: Running<T> | undefined } | undefined {
    for (const running of this.inFlight) if (running.lease.job.id === jobId) return { lease: running.lease, running };
    const lease = this.prefetched.find((candidate) => candidate.job.id === jobId);
    return lease === undefined ? undefined : { lease, running: undefined };
  }

  private async renew(jobId: string): Promise<void> {
    const current = this.currentLease(jobId);
    if (current === undefined || !this.renewals.has(jobId)) return this.stopRenewal(jobId);
    // Prefetched jobs keep short leases; running ones get their full lease.
    const leaseMs = current.running === undefined ? this.prefetchLeaseMs(current.lease) : this.leaseMs;
    try {
      const renewed = await this.queue.extendLease(current.lease, leaseMs);
      if (current.running !== undefined) current.running.lease = renewed;
      else {
        const index = this.prefetched.indexOf(current.lease);
        if (index >= 0) this.prefetched[index] = renewed;
      }
    } catch (error) {
      // Stopped while the renewal was in flight: the job is being settled.
      if (!this.renewals.has(jobId)) return;
      if (!isBerthError(error, 'CONFLICT')) return this.report(error, current.lease);
      // The lease is gone (expired, cancelled): stop the handler, drop the job.
      this.stopRenewal(jobId);
      if (current.running !== undefined) {
        current.running.lost = true;
        current.running.controller.abort(error);
      } else {
        const index = this.prefetched.indexOf(current.lease);
        if (index >= 0) this.prefetched.splice(index, 1);
      }
      this.report(error, current.lease);
    }
  }

  private async handle(lease: Lease<T>): Promise<void> {
    const running: Running<T> = { lease, controller: new AbortController(), lost: false };
    this.inFlight.add(running);
    const endJob = this.observer?.job(lease);
    let failure: { readonly error: unknown } | undefined;
    try {
      const queue = this.queue;
      const context: JobContext<T> = {
        signal: running.controller.signal,
        get lease() {
          return running.lease;
        },
        progress: (progress) => queue.progress(running.lease, progress),
      };
      let result: DocumentValue | undefined;
      try {
        result = (await this.handler(lease.job, context)) ?? undefined;
      } catch (error) {
        failure = { error };
        // Renewal stops before settling, so a renewal racing a slow fail()
        // cannot report a conflict for a job that is already done.
        this.stopRenewal(lease.job.id);
        if (!running.lost) {
          const retry = !isPermanentFailure(error);
          await this.settle(running, () => this.queue.fail(running.lease, error, retry ? {} : { retry: false }));
        }
        return;
      }
      this.stopRenewal(lease.job.id);
      if (running.lost) return;
      await this.settle(running, async () => {
        try {
          await this.queue.complete(running.lease, result);
        } catch (error) {
          // A result the engine cannot store fails the attempt instead of leaving the job active.
          if (!isBerthError(error, 'VALIDATION')) throw error;
          await this.queue.fail(running.lease, error);
        }
      });
    } finally {
      this.stopRenewal(lease.job.id);
      endJob?.(failure);
      this.inFlight.delete(running);
      if (this.inFlight.size === 0) this.drained?.();
      this.startHandlers();
      this.wake();
    }
  }

  private async settle(running: Running<T>, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.report(error, running.lease);
    }
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    try {
      await this.stop();
    } finally {
      this.observer?.stopped();
    }
  }

  private async stop(): Promise<void> {
    this.closing = true;
    this.unsubscribe?.();
    this.wake();
    await this.loopDone;
    const unstarted = this.prefetched.splice(0);
    await Promise.all(
      unstarted.map(async (lease) => {
        this.stopRenewal(lease.job.id);
        try {
          await this.queue.release(lease);
        } catch (error) {
          this.report(error, lease);
        }
      }),
    );
    if (this.inFlight.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const drained = new Promise<void>((resolve) => {
        this.drained = resolve;
      });
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), this.closeTimeoutMs);
      });
      const outcome = await Promise.race([drained, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        // Past the grace period: tell handlers to stop. Their leases are left
        // to expire, so the jobs are delivered again.
        for (const running of this.inFlight) {
          running.lost = true;
          this.stopRenewal(running.lease.job.id);
          running.controller.abort(new AbortedError('worker closed before the job finished'));
        }
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Starts the shared worker on a queue. Adapters implement `queue.work()` with
 * it, passing their notifier when the engine can wake workers.
 */
export function startWorker<T>(
  queue: JobQueue<T>,
  handler: JobHandler<T>,
  options: WorkerOptions = {},
  notifier?: JobNotifier,
): Worker {
  return new QueueWorker(queue, handler, options, notifier);
}
