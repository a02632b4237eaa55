import type { DocumentValue } from '../values/document.js';

/**
 * Where a job is in its life:
 * `waiting` (due now or later) → `active` (leased by a worker) → `completed`,
 * or back to `waiting` after a failed attempt, or `dead` once attempts run out.
 * `cancelled` jobs never run again unless retried.
 */
export type JobState = 'waiting' | 'active' | 'completed' | 'dead' | 'cancelled';

/** The states whose jobs are finished and can be purged. */
export const FINISHED_JOB_STATES: readonly JobState[] = ['completed', 'dead', 'cancelled'];

/** How long to wait before the next attempt after a failure. */
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

/** One failed attempt, kept on the job for inspection. */
export interface JobError {
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  readonly message: string;
  /** The error's `name` or `code`, when it had one. */
  readonly name?: string | undefined;
  readonly at: Date;
}

/** A job as stored: its payload, its state and its history. */
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
 */
export interface Lease<T = DocumentValue> {
  readonly job: Job<T>;
  readonly token: string;
  readonly expiresAt: Date;
}

/** What identifies a lease: the job and its fencing token. */
export interface LeaseRef {
  readonly job: { readonly id: string };
  readonly token: string;
}

/** Counts of jobs per state. */
export type JobStats = { readonly [S in JobState]: number };
