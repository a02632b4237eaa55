import type { SignalOptions } from '../operation/abort.js';
import type { AnyFilter } from '../query/query.js';
import type { Job, JobState } from './job.js';

/**
 * `newest` (default): most recently enqueued first. `oldest`: enqueue order.
 *
 * ### Examples
 * ```ts
 * import type { JobOrder, JobQueue } from '@berth/core';
 *
 * async function firstDead(queue: JobQueue, order: JobOrder = 'oldest') {
 *   return (await queue.listJobs({ state: 'dead', order, limit: 1 })).jobs[0];
 * }
 * ```
 */
export type JobOrder = 'newest' | 'oldest';

/**
 * Options of `listJobs`.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, ListJobsOptions } from '@berth/core';
 *
 * async function deadMailsTo(mails: JobQueue<{ to: string }>, to: string) {
 *   const options: ListJobsOptions = { state: 'dead', payload: { to }, order: 'newest', limit: 20 };
 *   return (await mails.listJobs(options)).jobs;
 * }
 * ```
 */
export interface ListJobsOptions extends SignalOptions {
  /** Only jobs in this state (default: every state). */
  readonly state?: JobState | undefined;
  /** By `createdAt`, ties by id: `newest` first (default) or `oldest` first. */
  readonly order?: JobOrder | undefined;
  /** Most jobs in the page: an integer from 1 to 1000 (default 50). */
  readonly limit?: number | undefined;
  /** The `cursor` of the previous page, to continue after it (same state, order and filter). */
  readonly cursor?: string | undefined;
  /**
   * Only jobs whose payload matches this filter (the repository filter
   * language, applied to the payload). The filter is checked on the jobs the
   * state's index yields, so a page examines at most `MAX_JOBS_EXAMINED`
   * jobs: a page can then hold fewer than `limit` jobs with a cursor to go on.
   */
  readonly payload?: AnyFilter | undefined;
}

/**
 * One page of `listJobs`.
 *
 * ### Examples
 * ```ts
 * import type { Job, JobPage, JobQueue } from '@berth/core';
 *
 * async function allWaiting<T>(queue: JobQueue<T>): Promise<Job<T>[]> {
 *   const jobs: Job<T>[] = [];
 *   let cursor: string | undefined;
 *   do {
 *     const page: JobPage<T> = await queue.listJobs({ state: 'waiting', limit: 100, cursor });
 *     jobs.push(...page.jobs);
 *     cursor = page.cursor;
 *   } while (cursor !== undefined);
 *   return jobs;
 * }
 * ```
 */
export interface JobPage<T> {
  readonly jobs: Job<T>[];
  /** Where the next page starts; `undefined` when the listing is complete. */
  readonly cursor: string | undefined;
}

/**
 * Options shared by the bulk operations (`retryJobs`, `cancelJobs`).
 *
 * ### Examples
 * ```ts
 * import type { BulkJobsOptions, JobQueue } from '@berth/core';
 *
 * async function cancelForTenant(queue: JobQueue, tenant: string): Promise<number> {
 *   const options: BulkJobsOptions = { payload: { tenant }, limit: 1_000 };
 *   return (await queue.cancelJobs(options)).changed;
 * }
 * ```
 */
export interface BulkJobsOptions extends SignalOptions {
  /** Only jobs whose payload matches this filter. */
  readonly payload?: AnyFilter | undefined;
  /**
   * Most jobs examined by this call: an integer from 1 to 10 000 (default
   * 1000). One call is one bounded step; pass the returned cursor to go on.
   */
  readonly limit?: number | undefined;
  /** The `cursor` of the previous call. */
  readonly cursor?: string | undefined;
}

/**
 * Options of `retryJobs`.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, RetryJobsOptions } from '@berth/core';
 *
 * async function retryDead(queue: JobQueue): Promise<number> {
 *   const options: RetryJobsOptions = { state: 'dead' };
 *   return (await queue.retryJobs(options)).changed;
 * }
 * ```
 */
export interface RetryJobsOptions extends BulkJobsOptions {
  /** Which finished jobs go back to waiting: `dead` (default) or `cancelled`. */
  readonly state?: 'dead' | 'cancelled' | undefined;
}

/**
 * What one step of a bulk operation did.
 *
 * ### Examples
 * ```ts
 * import type { BulkJobsResult, JobQueue } from '@berth/core';
 *
 * // Retries every dead job, one batch at a time.
 * async function retryAllDead(queue: JobQueue): Promise<number> {
 *   let changed = 0;
 *   let cursor: string | undefined;
 *   do {
 *     const result: BulkJobsResult = await queue.retryJobs({ state: 'dead', limit: 500, cursor });
 *     changed += result.changed;
 *     cursor = result.cursor;
 *   } while (cursor !== undefined);
 *   return changed;
 * }
 * ```
 */
export interface BulkJobsResult {
  /** Jobs changed by this step (retried or cancelled). */
  readonly changed: number;
  /**
   * Jobs that matched but were left as they were: for `retryJobs`, a job
   * whose dedupe key another live job holds.
   */
  readonly skipped: number;
  /** Where the next step starts; `undefined` when the operation is complete. */
  readonly cursor: string | undefined;
}

/**
 * How long one finished state keeps its jobs. Both bounds apply when both are set.
 *
 * ### Examples
 * ```ts
 * import type { RetentionRule } from '@berth/core';
 *
 * const lastDayOrThousand: RetentionRule = { maxAgeMs: 24 * 3600_000, maxCount: 1_000 };
 * ```
 */
export interface RetentionRule {
  /** Remove jobs that finished longer ago than this (milliseconds). */
  readonly maxAgeMs?: number | undefined;
  /** Keep at most this many jobs in the state; the oldest finished go first. */
  readonly maxCount?: number | undefined;
}

/**
 * How long a queue keeps its finished jobs. A state left out keeps the
 * default rule (`DEFAULT_RETENTION`); `null` keeps its jobs forever.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend, RetentionPolicy } from '@berth/core';
 *
 * const retention: RetentionPolicy = { completed: { maxAgeMs: 3600_000 }, dead: { maxCount: 10_000 }, cancelled: null };
 *
 * function mails(backend: QueueBackend) {
 *   return backend.queue<{ to: string }>('mails', { retention });
 * }
 * ```
 */
export interface RetentionPolicy {
  readonly completed?: RetentionRule | null | undefined;
  readonly cancelled?: RetentionRule | null | undefined;
  readonly dead?: RetentionRule | null | undefined;
}

/**
 * Options of `backend.queue(name, options)`.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend, QueueOptions } from '@berth/core';
 *
 * function thumbnails(backend: QueueBackend) {
 *   const options: QueueOptions = { retention: { completed: { maxCount: 100 } } };
 *   return backend.queue<{ imageId: string }>('thumbnails', options);
 * }
 * ```
 */
export interface QueueOptions {
  /**
   * How long finished jobs are kept. Workers apply it while they run (at
   * start, then every `retentionIntervalMs`); `queue.prune()` applies it on demand.
   */
  readonly retention?: RetentionPolicy | undefined;
}

/**
 * Options of `prune`.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, PruneOptions } from '@berth/core';
 *
 * async function pruneNow(queue: JobQueue): Promise<number> {
 *   const options: PruneOptions = { retention: { completed: { maxAgeMs: 0 } }, limit: 10_000 };
 *   return queue.prune(options);
 * }
 * ```
 */
export interface PruneOptions extends SignalOptions {
  /** The policy to apply (default: the queue's own). */
  readonly retention?: RetentionPolicy | undefined;
  /** Most jobs removed by this call: an integer from 1 to 10 000 (default 1000). */
  readonly limit?: number | undefined;
}
