import type { DocumentValue } from '../values/document.js';

/**
 * Where a job is in its life:
 * `waiting` (due now or later) → `active` (leased by a worker) → `completed`,
 * or back to `waiting` after a failed attempt, or `dead` once attempts run out.
 * `cancelled` jobs never run again unless retried.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, JobState } from '@berth/core';
 *
 * async function stateOf(queue: JobQueue, id: string): Promise<JobState | 'missing'> {
 *   return (await queue.get(id))?.state ?? 'missing';
 * }
 * ```
 */
export type JobState = 'waiting' | 'active' | 'completed' | 'dead' | 'cancelled';

/**
 * The states whose jobs are finished and can be purged.
 *
 * ### Examples
 * ```ts
 * import type { JobState } from '@berth/core';
 * import { FINISHED_JOB_STATES } from '@berth/core/adapter';
 *
 * const finished = (state: JobState): boolean => FINISHED_JOB_STATES.includes(state);
 * ```
 */
export const FINISHED_JOB_STATES: readonly JobState[] = ['completed', 'dead', 'cancelled'];

/**
 * How long to wait before the next attempt after a failure.
 *
 * ### Examples
 * ```ts
 * import type { BackoffPolicy, JobQueue } from '@berth/core';
 *
 * const backoff: BackoffPolicy = { type: 'exponential', delayMs: 1_000, maxDelayMs: 60_000, jitter: 'full' };
 *
 * async function sendLater(mails: JobQueue<{ to: string }>, to: string): Promise<void> {
 *   await mails.enqueue({ to }, { maxAttempts: 8, backoff });
 * }
 * ```
 */
export type BackoffPolicy =
  | { readonly type: 'fixed'; readonly delayMs: number }
  | {
      readonly type: 'exponential';
      /** Delay after the first failed attempt; doubles with each further attempt. */
      readonly delayMs: number;
      /** Upper bound of the delay (default one hour). */
      readonly maxDelayMs?: number | undefined;
      /**
       * `none` (default): exactly the computed delay. `full`: uniformly random
       * between 0 and the delay. `equal`: half the delay plus a random half.
       */
      readonly jitter?: 'none' | 'full' | 'equal' | undefined;
    };

/**
 * One failed attempt, kept on the job for inspection.
 *
 * ### Examples
 * ```ts
 * import type { JobError, JobQueue } from '@berth/core';
 *
 * async function lastError(queue: JobQueue, id: string): Promise<JobError | undefined> {
 *   return (await queue.get(id))?.errors.at(-1);
 * }
 * ```
 */
export interface JobError {
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  readonly message: string;
  /** The error's `name` or `code`, when it had one. */
  readonly name?: string | undefined;
  readonly at: Date;
}

/**
 * A job as stored: its payload, its state and its history.
 *
 * ### Examples
 * ```ts
 * import type { Job, JobQueue } from '@berth/core';
 *
 * async function describe(mails: JobQueue<{ to: string }>, id: string): Promise<string> {
 *   const job: Job<{ to: string }> | null = await mails.get(id);
 *   if (job === null) return 'gone';
 *   return `${job.payload.to}: ${job.state}, attempt ${job.attempts} of ${job.maxAttempts}`;
 * }
 * ```
 */
export interface Job<T = DocumentValue> {
  readonly id: string;
  readonly queue: string;
  readonly payload: T;
  readonly state: JobState;
  /** Higher runs first. */
  readonly priority: number;
  /** Attempts started so far (a lease that expires counts as one). */
  readonly attempts: number;
  readonly maxAttempts: number;
  /** When the job is (or was) due. */
  readonly runAt: Date;
  readonly dedupeKey: string | undefined;
  /** Default lease duration of this job, in milliseconds. */
  readonly leaseMs: number;
  /** Every failed attempt's error, oldest first. */
  readonly errors: readonly JobError[];
  /** What the handler returned, once completed. */
  readonly result: DocumentValue | undefined;
  /** The last progress the handler reported (kept after the job finishes; cleared by `retry`). */
  readonly progress: DocumentValue | undefined;
  /** How long one attempt may run before the worker aborts it (the job's own; workers may set a default). */
  readonly timeoutMs: number | undefined;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** When the job reached `completed`, `dead` or `cancelled`. */
  readonly finishedAt: Date | undefined;
  /** When the current lease runs out, while `active`. */
  readonly leaseExpiresAt: Date | undefined;
}

/**
 * A leased job. The token fences the lease: once the lease expires and the
 * job is delivered again, calls with the old token fail with `CONFLICT`.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, Lease } from '@berth/core';
 *
 * async function handleOne(mails: JobQueue<{ to: string }>): Promise<void> {
 *   const lease: Lease<{ to: string }> | null = await mails.dequeue({ leaseMs: 30_000 });
 *   if (lease === null) return;
 *   try {
 *     console.log('sending to', lease.job.payload.to);
 *     await mails.complete(lease);
 *   } catch (error) {
 *     await mails.fail(lease, error);
 *   }
 * }
 * ```
 */
export interface Lease<T = DocumentValue> {
  readonly job: Job<T>;
  readonly token: string;
  readonly expiresAt: Date;
}

/**
 * What identifies a lease: the job and its fencing token.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, LeaseRef } from '@berth/core';
 *
 * // A lease kept elsewhere (a message, a row) as its job id and token.
 * async function finish(queue: JobQueue, jobId: string, token: string): Promise<void> {
 *   const lease: LeaseRef = { job: { id: jobId }, token };
 *   await queue.complete(lease, { ok: true });
 * }
 * ```
 */
export interface LeaseRef {
  readonly job: { readonly id: string };
  readonly token: string;
}

/**
 * Counts of jobs per state.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, JobStats } from '@berth/core';
 *
 * async function backlog(queue: JobQueue): Promise<number> {
 *   const stats: JobStats = await queue.stats();
 *   return stats.waiting + stats.active;
 * }
 * ```
 */
export type JobStats = { readonly [S in JobState]: number };
