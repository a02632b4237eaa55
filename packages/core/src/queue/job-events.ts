import type { SignalOptions } from '../operation/abort.js';
import type { DocumentValue } from '../values/document.js';
import type { JobError } from './job.js';

interface JobEventBase {
  readonly queue: string;
  readonly jobId: string;
  readonly at: Date;
}

/**
 * What happened to a job. Events are emitted after the change is stored
 * (for a transactional enqueue, after the commit).
 */
export type JobEvent =
  /** A new job was stored (not a deduplicated enqueue). */
  | (JobEventBase & { readonly type: 'enqueued'; readonly runAt: Date })
  /** A worker (or `dequeue`) leased the job for attempt `attempt`. */
  | (JobEventBase & { readonly type: 'started'; readonly attempt: number })
  /** The handler reported progress. */
  | (JobEventBase & { readonly type: 'progress'; readonly attempt: number; readonly progress: DocumentValue })
  | (JobEventBase & { readonly type: 'completed'; readonly attempt: number })
  /** The attempt failed and the job waits for the next one, due at `retryAt`. */
  | (JobEventBase & {
      readonly type: 'failed';
      readonly attempt: number;
      readonly error: JobError;
      readonly retryAt: Date;
    })
  /** No attempt is left (or the failure was permanent); `error` is the last one. */
  | (JobEventBase & { readonly type: 'dead'; readonly attempt: number; readonly error: JobError })
  /**
   * The lease of attempt `attempt` ran out: the job is due again at once and
   * its next `started` is the redelivery (or it is `dead`, when that was the last attempt).
   */
  | (JobEventBase & { readonly type: 'expired'; readonly attempt: number })
  /** The worker gave the job back without counting the attempt. */
  | (JobEventBase & { readonly type: 'released' })
  | (JobEventBase & { readonly type: 'cancelled' })
  /** A dead or cancelled job was put back to waiting. */
  | (JobEventBase & { readonly type: 'retried' });

/** The kinds of {@link JobEvent}. */
export type JobEventType = JobEvent['type'];

/** Every {@link JobEventType}, in the order a job can meet them. */
export const JOB_EVENT_TYPES: readonly JobEventType[] = [
  'enqueued',
  'started',
  'progress',
  'completed',
  'failed',
  'dead',
  'expired',
  'released',
  'cancelled',
  'retried',
];

/**
 * What `events()` yields: the job events, and a `gap` when the consumer fell
 * so far behind that `dropped` events were discarded (the buffer is bounded).
 */
export type QueueEvent =
  | JobEvent
  | { readonly type: 'gap'; readonly queue: string; readonly dropped: number; readonly at: Date };

/** A function that receives job events. */
export type JobEventListener = (event: JobEvent) => void;

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /** Only these kinds of event (default: all). */
  readonly types?: readonly JobEventType[] | undefined;
}

/** Options of `events`. */
export interface QueueEventsOptions extends SubscribeOptions, SignalOptions {
  /**
   * Events held for a consumer that has not asked for them yet (default
   * 10 000). Past it the oldest are dropped and the consumer receives one
   * `gap` event that counts them.
   */
  readonly bufferSize?: number | undefined;
}
