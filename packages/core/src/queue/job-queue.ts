import type { SignalOptions } from '../operation/abort.js';
import type { DocumentValue } from '../values/document.js';
import type { BackoffPolicy, Job, JobState, JobStats, Lease, LeaseRef } from './job.js';

/** Options of one enqueued job. */
export interface EnqueueOptions {
  /** Run at this time (default: now). Cannot be combined with `delayMs`. */
  readonly runAt?: Date | undefined;
  /** Run after this many milliseconds. */
  readonly delayMs?: number | undefined;
  /** Higher runs first (an integer, default 0). */
  readonly priority?: number | undefined;
  /** Attempts before the job is dead (default 3). */
  readonly maxAttempts?: number | undefined;
  /** Delay between attempts (default exponential from 1 s, capped at 1 h, no jitter). */
  readonly backoff?: BackoffPolicy | undefined;
  /**
   * While a job with this key is waiting or active, enqueueing another with
   * the same key returns the existing job's id instead of adding one.
   */
  readonly dedupeKey?: string | undefined;
  /** Lease duration when this job is dequeued (default 30 s). */
  readonly leaseMs?: number | undefined;
}

/** One job of `enqueueMany`. */
export interface EnqueueItem<T> extends EnqueueOptions {
  readonly payload: T;
}

/** What `enqueue` did. */
export interface EnqueueResult {
  readonly id: string;
  /** `true` when a waiting or active job with the same dedupe key was returned instead. */
  readonly deduplicated: boolean;
}

/** Options of `dequeue`. */
export interface DequeueOptions extends SignalOptions {
  /** Lease duration, overriding the job's own. */
  readonly leaseMs?: number | undefined;
}

/** Options of `fail`. */
export interface FailOptions extends SignalOptions {
  /** `false` makes the job dead now, whatever attempts are left (an unrecoverable error). */
  readonly retry?: boolean | undefined;
  /** Retry after this delay instead of the backoff policy's. */
  readonly retryAfterMs?: number | undefined;
}

/** Options of `purge`. */
export interface PurgeOptions extends SignalOptions {
  /** Remove finished jobs whose `finishedAt` is before this time. */
  readonly finishedBefore: Date;
  /** Which finished states to purge (default: completed, dead and cancelled). */
  readonly states?: readonly JobState[] | undefined;
}

/** What a handler receives besides the job. */
export interface JobContext<T> {
  /**
   * Aborted when the worker closes past its grace period (the reason is an
   * `ABORTED` error), or when the lease is lost (the reason is the `CONFLICT`).
   */
  readonly signal: AbortSignal;
  /** The current lease (renewed by the worker while the handler runs). */
  readonly lease: Lease<T>;
}

/** A job handler: its return value is stored as the job's result; a throw fails the attempt. */
export type JobHandler<T> = (
  job: Job<T>,
  context: JobContext<T>,
  // biome-ignore lint/suspicious/noConfusingVoidType: `void` lets handlers that return nothing type-check.
) => Promise<DocumentValue | undefined | void> | DocumentValue | undefined | void;

/** Options of `queue.work()`. */
export interface WorkerOptions extends SignalOptions {
  /** Jobs handled at once (default 1). */
  readonly concurrency?: number | undefined;
  /**
   * Jobs leased ahead of free slots (default 0). Prefetched jobs hold short
   * leases that the worker renews, and are released on close.
   */
  readonly prefetch?: number | undefined;
  /** Lease duration of handled jobs (default: each job's own). */
  readonly leaseMs?: number | undefined;
  /** How often an idle worker looks for due jobs when no notification wakes it (default 1000 ms). */
  readonly pollIntervalMs?: number | undefined;
  /** How long `close()` waits for jobs in flight before aborting their signals (default 30 000 ms). */
  readonly closeTimeoutMs?: number | undefined;
  /**
   * Called with errors the worker cannot hand to anyone else (a lost lease, a
   * failed fetch); default: `console.error`. A fetch that fails with a
   * retryable error is tried again after a pause that doubles from
   * `pollIntervalMs` up to 30 s; one that fails with a non-retryable
   * `CONNECTION` error (the backend was closed) is reported once and stops
   * the worker, as `close()` would.
   */
  readonly onError?: ((error: unknown, job?: Job<unknown>) => void) | undefined;
}

/** A running worker. */
export interface Worker extends AsyncDisposable {
  /** Jobs being handled now. */
  readonly running: number;
  /** Stops fetching, releases prefetched jobs and waits for jobs in flight (bounded by `closeTimeoutMs`). */
  close(): Promise<void>;
}

/**
 * A named queue of jobs with leases.
 *
 * Delivery is at least once: a job whose lease expires (its worker died or
 * stalled) is delivered again, so handlers must be idempotent. A lease
 * guarantees that no other valid lease on the job exists until it expires;
 * `complete`, `fail` and `extendLease` with a stale token fail with `CONFLICT`.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue } from '@berth/core';
 *
 * async function sendWelcomeMails(queue: JobQueue<{ to: string }>): Promise<void> {
 *   await queue.enqueue({ to: 'ada@example.com' }, { maxAttempts: 5, dedupeKey: 'welcome:ada' });
 *   const worker = queue.work(async (job) => {
 *     console.log('mail to', job.payload.to);
 *   }, { concurrency: 10 });
 *   await worker.close();
 * }
 * ```
 */
export interface JobQueue<T = DocumentValue> {
  readonly name: string;

  /** Adds a job (or returns the waiting/active job with the same dedupe key). */
  enqueue(payload: T, options?: EnqueueOptions & SignalOptions): Promise<EnqueueResult>;
  /** Adds jobs all or nothing, each deduplicated as by `enqueue`. */
  enqueueMany(items: readonly EnqueueItem<T>[], options?: SignalOptions): Promise<EnqueueResult[]>;

  /** Leases the next due job: highest priority, then earliest due, then first enqueued. */
  dequeue(options?: DequeueOptions): Promise<Lease<T> | null>;
  /** Leases up to `count` due jobs in that order. */
  dequeueMany(count: number, options?: DequeueOptions): Promise<Lease<T>[]>;
  /** Marks the job completed with an optional result. `CONFLICT` when the lease is stale. */
  complete(lease: LeaseRef, result?: DocumentValue, options?: SignalOptions): Promise<void>;
  /** Records the error; retries after backoff, or makes the job dead. Returns the job's new state. */
  fail(lease: LeaseRef, error: unknown, options?: FailOptions): Promise<'waiting' | 'dead'>;
  /** Extends the lease to `leaseMs` from now. `CONFLICT` when the lease is stale. */
  extendLease(lease: LeaseRef, leaseMs?: number, options?: SignalOptions): Promise<Lease<T>>;
  /** Gives the job back without counting the attempt (a worker shutting down). */
  release(lease: LeaseRef, options?: SignalOptions): Promise<void>;

  /** The job, or `null`. */
  get(id: string, options?: SignalOptions): Promise<Job<T> | null>;
  /** Cancels a waiting or active job; `false` when it is missing or already finished. */
  cancel(id: string, options?: SignalOptions): Promise<boolean>;
  /** Puts a dead or cancelled job back to waiting with fresh attempts; `false` otherwise. */
  retry(id: string, options?: SignalOptions): Promise<boolean>;
  /** Jobs per state, from counters or indexes (no full scan). */
  stats(options?: SignalOptions): Promise<JobStats>;
  /** Removes finished jobs that finished before a time; returns how many. */
  purge(options: PurgeOptions): Promise<number>;

  /** Starts a worker that handles jobs until closed. */
  work(handler: JobHandler<T>, options?: WorkerOptions): Worker;
}
