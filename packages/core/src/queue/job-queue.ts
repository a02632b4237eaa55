import type { SignalOptions } from '../operation/abort.js';
import type { BerthLogger } from '../operation/logger.js';
import type { DocumentValue } from '../values/document.js';
import type { BackoffPolicy, Job, JobState, JobStats, Lease, LeaseRef } from './job.js';
import type {
  BulkJobsOptions,
  BulkJobsResult,
  JobPage,
  ListJobsOptions,
  PruneOptions,
  RetryJobsOptions,
} from './job-admin.js';
import type { JobEventListener, QueueEvent, QueueEventsOptions, SubscribeOptions } from './job-events.js';
import type { ScheduleFireResult, ScheduleInput, ScheduleRecord, ScheduleTick } from './schedule.js';

/**
 * What `importJobs` did: how many jobs it stored and how many it skipped
 * because the queue already held their id (or, for a waiting job, a live job
 * with its dedupe key).
 *
 * ### Examples
 * ```ts
 * import type { ImportJobsResult } from '@berth/core';
 *
 * function describe({ imported, skipped }: ImportJobsResult): string {
 *   return `${imported} imported, ${skipped} already there`;
 * }
 * ```
 */
export interface ImportJobsResult {
  readonly imported: number;
  readonly skipped: number;
}

/**
 * Options of one enqueued job.
 *
 * ### Examples
 * ```ts
 * import type { EnqueueOptions, JobQueue } from '@berth/core';
 *
 * async function remind(mails: JobQueue<{ to: string }>, to: string): Promise<void> {
 *   const options: EnqueueOptions = { delayMs: 24 * 3600_000, priority: 5, dedupeKey: `remind:${to}`, maxAttempts: 3 };
 *   await mails.enqueue({ to }, options);
 * }
 * ```
 */
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
  /**
   * How long one attempt may run: past it the worker aborts the handler's
   * signal (a `TIMEOUT` error) and fails the attempt. Overrides the worker's
   * `timeoutMs`.
   */
  readonly timeoutMs?: number | undefined;
}

/**
 * One job of `enqueueMany`.
 *
 * ### Examples
 * ```ts
 * import type { EnqueueItem, JobQueue } from '@berth/core';
 *
 * async function notifyAll(mails: JobQueue<{ to: string }>, recipients: string[]): Promise<void> {
 *   const items: EnqueueItem<{ to: string }>[] = recipients.map((to) => ({ payload: { to }, dedupeKey: to }));
 *   await mails.enqueueMany(items);
 * }
 * ```
 */
export interface EnqueueItem<T> extends EnqueueOptions {
  readonly payload: T;
}

/**
 * What `enqueue` did.
 *
 * ### Examples
 * ```ts
 * import type { EnqueueResult, JobQueue } from '@berth/core';
 *
 * async function requestExport(exports: JobQueue<{ userId: string }>, userId: string): Promise<string> {
 *   const result: EnqueueResult = await exports.enqueue({ userId }, { dedupeKey: `export:${userId}` });
 *   return result.deduplicated ? `already queued as ${result.id}` : `queued as ${result.id}`;
 * }
 * ```
 */
export interface EnqueueResult {
  readonly id: string;
  /** `true` when a waiting or active job with the same dedupe key was returned instead. */
  readonly deduplicated: boolean;
}

/**
 * Options of `dequeue`.
 *
 * ### Examples
 * ```ts
 * import type { DequeueOptions, JobQueue } from '@berth/core';
 *
 * async function takeBatch(queue: JobQueue) {
 *   const options: DequeueOptions = { leaseMs: 60_000, signal: AbortSignal.timeout(5_000) };
 *   return queue.dequeueMany(10, options);
 * }
 * ```
 */
export interface DequeueOptions extends SignalOptions {
  /** Lease duration, overriding the job's own. */
  readonly leaseMs?: number | undefined;
}

/**
 * Options of `fail`.
 *
 * ### Examples
 * ```ts
 * import type { FailOptions, JobQueue, Lease } from '@berth/core';
 *
 * async function rateLimited(queue: JobQueue, lease: Lease): Promise<void> {
 *   const options: FailOptions = { retryAfterMs: 30_000 };
 *   await queue.fail(lease, new Error('429 from the provider'), options);
 * }
 * ```
 */
export interface FailOptions extends SignalOptions {
  /** `false` makes the job dead now, whatever attempts are left (an unrecoverable error). */
  readonly retry?: boolean | undefined;
  /** Retry after this delay instead of the backoff policy's. */
  readonly retryAfterMs?: number | undefined;
}

/**
 * Options of `purge`.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, PurgeOptions } from '@berth/core';
 *
 * async function purgeOld(queue: JobQueue): Promise<number> {
 *   const options: PurgeOptions = { finishedBefore: new Date(Date.now() - 7 * 24 * 3600_000), states: ['completed'] };
 *   return queue.purge(options);
 * }
 * ```
 */
export interface PurgeOptions extends SignalOptions {
  /** Remove finished jobs whose `finishedAt` is before this time. */
  readonly finishedBefore: Date;
  /** Which finished states to purge (default: completed, dead and cancelled). */
  readonly states?: readonly JobState[] | undefined;
}

/**
 * What a handler receives besides the job.
 *
 * ### Examples
 * ```ts
 * import type { JobContext, JobQueue } from '@berth/core';
 *
 * async function resize(job: { payload: { images: string[] } }, context: JobContext<{ images: string[] }>) {
 *   for (const [index, image] of job.payload.images.entries()) {
 *     context.signal.throwIfAborted();
 *     console.log('resizing', image);
 *     await context.progress({ done: index + 1 });
 *   }
 * }
 *
 * function start(queue: JobQueue<{ images: string[] }>) {
 *   return queue.work(resize);
 * }
 * ```
 */
export interface JobContext<T> {
  /**
   * Aborted when the worker closes past its grace period (the reason is an
   * `ABORTED` error), or when the lease is lost (the reason is the `CONFLICT`).
   */
  readonly signal: AbortSignal;
  /** The current lease (renewed by the worker while the handler runs). */
  readonly lease: Lease<T>;
  /**
   * Stores `progress` (a document value) on the job, where `get` and
   * `listJobs` show it, and emits a `progress` event. Rejects with
   * `CONFLICT` once the lease is lost.
   */
  progress(progress: DocumentValue): Promise<void>;
}

/**
 * A job handler: its return value is stored as the job's result; a throw fails the attempt.
 *
 * ### Examples
 * ```ts
 * import type { JobHandler, JobQueue } from '@berth/core';
 *
 * const send: JobHandler<{ to: string }> = async (job, { signal }) => {
 *   const response = await fetch('https://mail.example.com/send', { method: 'POST', body: job.payload.to, signal });
 *   return { status: response.status };
 * };
 *
 * function start(mails: JobQueue<{ to: string }>) {
 *   return mails.work(send, { concurrency: 4 });
 * }
 * ```
 */
export type JobHandler<T> = (
  job: Job<T>,
  context: JobContext<T>,
  // biome-ignore lint/suspicious/noConfusingVoidType: `void` lets handlers that return nothing type-check.
) => Promise<DocumentValue | undefined | void> | DocumentValue | undefined | void;

/**
 * Options of `queue.work()`.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, WorkerOptions } from '@berth/core';
 *
 * function start(mails: JobQueue<{ to: string }>) {
 *   const options: WorkerOptions = {
 *     concurrency: 8,
 *     leaseMs: 60_000,
 *     timeoutMs: 30_000,
 *     onError: (error, job) => console.error('mail job', job?.id, error),
 *   };
 *   return mails.work(async (job) => console.log('sending to', job.payload.to), options);
 * }
 * ```
 */
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
  /** How often an idle worker looks for due jobs when no notification wakes it (default 1000 ms; each wait is up to a fifth shorter, at random). */
  readonly pollIntervalMs?: number | undefined;
  /** How long `close()` waits for jobs in flight before aborting their signals (default 30 000 ms). */
  readonly closeTimeoutMs?: number | undefined;
  /**
   * How long one attempt may run (default: no limit), for jobs without their
   * own `timeoutMs`. Past it the handler's signal aborts with a `TIMEOUT`
   * error, the attempt fails, and the slot is freed; a handler that ignores
   * its signal has already lost the job (its lease is no longer renewed).
   */
  readonly timeoutMs?: number | undefined;
  /** How often the worker applies the queue's retention policy (default 60 000 ms; 0 turns it off). */
  readonly retentionIntervalMs?: number | undefined;
  /**
   * Called with errors the worker cannot hand to anyone else (a lost lease, a
   * failed fetch); default: the `logger`'s `error`. A fetch that fails with a
   * retryable error is tried again after a pause that doubles from
   * `pollIntervalMs` up to 30 s; one that fails with a non-retryable
   * `CONNECTION` error (the backend was closed) is reported once and stops
   * the worker, as `close()` would.
   */
  readonly onError?: ((error: unknown, job?: Job<unknown>) => void) | undefined;
  /** Where errors go when there is no `onError` (default: the backend's logger, else `console`). */
  readonly logger?: BerthLogger | undefined;
}

/**
 * One finished attempt handed to `settleAndClaim`.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, Lease, Settlement } from '@berth/core';
 *
 * // Settle the finished attempts and claim the next jobs in one round trip, where the adapter can.
 * async function next<T>(queue: JobQueue<T>, done: Lease<T>[]): Promise<Lease<T>[]> {
 *   const settlements: Settlement[] = done.map((lease) => ({ lease, outcome: 'complete' }));
 *   if (queue.settleAndClaim === undefined) {
 *     for (const lease of done) await queue.complete(lease);
 *     return queue.dequeueMany(done.length);
 *   }
 *   return (await queue.settleAndClaim(settlements, done.length)).leases;
 * }
 * ```
 */
export type Settlement =
  | { readonly lease: LeaseRef; readonly outcome: 'complete'; readonly result?: DocumentValue | undefined }
  | {
      readonly lease: LeaseRef;
      readonly outcome: 'fail';
      readonly error: unknown;
      readonly retry?: boolean | undefined;
      readonly retryAfterMs?: number | undefined;
    };

/**
 * What became of one settlement: the job's new state, or why it was refused (a stale lease's `CONFLICT`, a result's `VALIDATION`).
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, Lease, SettlementOutcome } from '@berth/core';
 *
 * async function completeAll<T>(queue: JobQueue<T>, done: Lease<T>[]): Promise<void> {
 *   if (queue.settleAndClaim === undefined) return;
 *   const { outcomes } = await queue.settleAndClaim(done.map((lease) => ({ lease, outcome: 'complete' as const })), 0);
 *   outcomes.forEach((outcome: SettlementOutcome, index) => {
 *     if (outcome.error !== undefined) console.warn(`job ${done[index]?.job.id}: ${outcome.error.message}`);
 *   });
 * }
 * ```
 */
export type SettlementOutcome =
  | { readonly state: 'completed' | 'waiting' | 'dead'; readonly error?: undefined }
  | { readonly state?: undefined; readonly error: Error };

/**
 * What `settleAndClaim` did.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, SettleAndClaimResult } from '@berth/core';
 *
 * async function claim<T>(queue: JobQueue<T>, count: number): Promise<number> {
 *   if (queue.settleAndClaim === undefined) return (await queue.dequeueMany(count)).length;
 *   const result: SettleAndClaimResult<T> = await queue.settleAndClaim([], count, { leaseMs: 30_000 });
 *   return result.leases.length;
 * }
 * ```
 */
export interface SettleAndClaimResult<T> {
  /** One outcome per settlement, in order. */
  readonly outcomes: SettlementOutcome[];
  /** The jobs leased after the settlements were applied. */
  readonly leases: Lease<T>[];
}

/**
 * A running worker.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, Worker } from '@berth/core';
 *
 * async function runFor(mails: JobQueue<{ to: string }>, ms: number): Promise<void> {
 *   const worker: Worker = mails.work(async (job) => console.log('sending to', job.payload.to));
 *   await new Promise((resolve) => setTimeout(resolve, ms));
 *   await worker.close(); // waits for the running handlers
 * }
 * ```
 */
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

  /**
   * Stores progress on an active job (see `JobContext.progress`). `CONFLICT`
   * when the lease is stale.
   */
  progress(lease: LeaseRef, progress: DocumentValue, options?: SignalOptions): Promise<void>;

  /** A page of jobs, newest (or oldest) first, served by an index on the state. */
  listJobs(options?: ListJobsOptions): Promise<JobPage<T>>;
  /** Puts dead (or cancelled) jobs back to waiting, one bounded step at a time. */
  retryJobs(options?: RetryJobsOptions): Promise<BulkJobsResult>;
  /** Cancels waiting jobs, one bounded step at a time. */
  cancelJobs(options?: BulkJobsOptions): Promise<BulkJobsResult>;
  /** Removes finished jobs past the retention policy; returns how many (at most `limit`). */
  prune(options?: PruneOptions): Promise<number>;
  /**
   * Stores jobs exactly as given (a restore, for tools that move queues
   * between backends such as `berth copy --queues`): id, payload, state,
   * priority, attempts, max attempts, due time, dedupe key, lease length,
   * errors, result, progress, timeout and times are kept. A job whose id the
   * queue already holds is skipped, and so is a waiting job whose dedupe key
   * a live job of the queue holds; `active` jobs are refused with
   * `VALIDATION` (import them as `waiting`). The backoff policy is not part
   * of a `Job` and is not carried: imported jobs retry with the default. All
   * or none where the engine has transactions.
   *
   * ### Examples
   * ```ts
   * import type { JobQueue } from '@berth/core';
   *
   * async function copyDead(from: JobQueue, to: JobQueue): Promise<number> {
   *   const page = await from.listJobs({ state: 'dead', limit: 100 });
   *   const { imported } = await to.importJobs(page.jobs);
   *   return imported;
   * }
   * ```
   */
  importJobs(jobs: readonly Job<T>[], options?: SignalOptions): Promise<ImportJobsResult>;

  /**
   * Calls `listener` with every event of this queue that this process
   * observes (see `capabilities.queue.events`); returns the unsubscribe
   * function. A listener that throws is reported to `console.error` and
   * stays subscribed.
   */
  subscribe(listener: JobEventListener, options?: SubscribeOptions): () => void;
  /** The same events as an async iterator with a bounded buffer; ends when `signal` aborts or the loop breaks. */
  events(options?: QueueEventsOptions): AsyncIterableIterator<QueueEvent>;

  /** Creates or replaces a schedule (use `@berth/scheduler`, which computes the ticks). */
  putSchedule(schedule: ScheduleInput<T>, options?: SignalOptions): Promise<ScheduleRecord<T>>;
  /** The schedule, or `null`. */
  getSchedule(name: string, options?: SignalOptions): Promise<ScheduleRecord<T> | null>;
  /** Every schedule of this queue, by name. */
  listSchedules(options?: SignalOptions): Promise<ScheduleRecord<T>[]>;
  /** Removes a schedule; `false` when there was none. */
  removeSchedule(name: string, options?: SignalOptions): Promise<boolean>;
  /**
   * Fires one tick atomically: when the stored `nextRunAt` equals
   * `tick.runAt`, moves it to `tick.nextRunAt` and (when `tick.enqueue`)
   * enqueues the schedule's payload, in one step; otherwise does nothing.
   * However many schedulers race on a tick, exactly one fires it.
   */
  fireSchedule(name: string, tick: ScheduleTick, options?: SignalOptions): Promise<ScheduleFireResult>;

  /**
   * Optional: settles finished attempts and leases up to `count` new jobs in
   * one step (one transaction, one round trip). The shared worker uses it
   * when present; a stale lease fails its own settlement only.
   */
  settleAndClaim?(
    settlements: readonly Settlement[],
    count: number,
    options?: DequeueOptions,
  ): Promise<SettleAndClaimResult<T>>;

  /** Starts a worker that handles jobs until closed. */
  work(handler: JobHandler<T>, options?: WorkerOptions): Worker;
}
