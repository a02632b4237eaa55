import type { SignalOptions } from '../operation/abort.js';
import type { AnyFilter } from '../query/query.js';
import type { Job, JobState } from './job.js';

/** `newest` (default): most recently enqueued first. `oldest`: enqueue order. */
export type JobOrder = 'newest' | 'oldest';

/** Options of `listJobs`. */
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

/** One page of `listJobs`. */
export interface JobPage<T> {
  readonly jobs: Job<T>[];
  /** Where the next page starts; `undefined` when the listing is complete. */
  readonly cursor: string | undefined;
}

/** Options shared by the bulk operations (`retryJobs`, `cancelJobs`). */
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

/** Options of `retryJobs`. */
export interface RetryJobsOptions extends BulkJobsOptions {
  /** Which finished jobs go back to waiting: `dead` (default) or `cancelled`. */
  readonly state?: 'dead' | 'cancelled' | undefined;
}

/** What one step of a bulk operation did. */
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

/** How long one finished state keeps its jobs. Both bounds apply when both are set. */
export interface RetentionRule {
  /** Remove jobs that finished longer ago than this (milliseconds). */
  readonly maxAgeMs?: number | undefined;
  /** Keep at most this many jobs in the state; the oldest finished go first. */
  readonly maxCount?: number | undefined;
}

/**
 * How long a queue keeps its finished jobs. A state left out keeps the
 * default rule (`DEFAULT_RETENTION`); `null` keeps its jobs forever.
 */
export interface RetentionPolicy {
  readonly completed?: RetentionRule | null | undefined;
  readonly cancelled?: RetentionRule | null | undefined;
  readonly dead?: RetentionRule | null | undefined;
}

/** Options of `backend.queue(name, options)`. */
export interface QueueOptions {
  /**
   * How long finished jobs are kept. Workers apply it while they run (at
   * start, then every `retentionIntervalMs`); `queue.prune()` applies it on demand.
   */
  readonly retention?: RetentionPolicy | undefined;
}

/** Options of `prune`. */
export interface PruneOptions extends SignalOptions {
  /** The policy to apply (default: the queue's own). */
  readonly retention?: RetentionPolicy | undefined;
  /** Most jobs removed by this call: an integer from 1 to 10 000 (default 1000). */
  readonly limit?: number | undefined;
}
