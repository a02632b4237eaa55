import type { SignalOptions } from '../operation/abort.js';
import type { DocumentValue } from '../values/document.js';
import type { JobError, JobState } from './job.js';

interface JobEventBase {
  readonly queue: string;
  readonly jobId: string;
  readonly at: Date;
}

/**
 * What happened to a job. Events are emitted after the change is stored
 * (for a transactional enqueue, after the commit).
 *
 * ### Examples
 * ```ts
 * import type { JobEvent, JobQueue } from '@berth/core';
 *
 * function log(event: JobEvent): void {
 *   if (event.type === 'failed') console.warn(`${event.queue}/${event.jobId} failed: ${event.error.message}`);
 *   else console.log(`${event.queue}/${event.jobId} ${event.type}`);
 * }
 *
 * function watch(queue: JobQueue): () => void {
 *   return queue.subscribe(log);
 * }
 * ```
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

/**
 * The kinds of {@link JobEvent}.
 *
 * ### Examples
 * ```ts
 * import type { JobEventType, JobQueue } from '@berth/core';
 *
 * const outcomes: JobEventType[] = ['completed', 'dead'];
 *
 * function onOutcome(queue: JobQueue, listener: (jobId: string) => void): () => void {
 *   return queue.subscribe((event) => listener(event.jobId), { types: outcomes });
 * }
 * ```
 */
export type JobEventType = JobEvent['type'];

/**
 * Every {@link JobEventType}, in the order a job can meet them.
 *
 * ### Examples
 * ```ts
 * import { JOB_EVENT_TYPES } from '@berth/core';
 *
 * const counts = new Map(JOB_EVENT_TYPES.map((type) => [type, 0]));
 * ```
 */
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
 * The state a job is in right after an event of each type: what a live view
 * (a dashboard, `berth queue … tail`) shows without reading the job.
 *
 * ### Examples
 * ```ts
 * import { JOB_STATE_AFTER_EVENT, type JobQueue } from '@berth/core';
 *
 * function showStates(queue: JobQueue): () => void {
 *   return queue.subscribe((event) => console.log(`${event.jobId} is ${JOB_STATE_AFTER_EVENT[event.type]}`));
 * }
 * ```
 */
export const JOB_STATE_AFTER_EVENT: Readonly<Record<JobEventType, JobState>> = {
  enqueued: 'waiting',
  started: 'active',
  progress: 'active',
  completed: 'completed',
  failed: 'waiting',
  dead: 'dead',
  expired: 'waiting',
  released: 'waiting',
  cancelled: 'cancelled',
  retried: 'waiting',
};

/**
 * What `events()` yields: the job events, and a `gap` when the consumer fell
 * so far behind that `dropped` events were discarded (the buffer is bounded).
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, QueueEvent } from '@berth/core';
 *
 * async function follow(queue: JobQueue, signal: AbortSignal): Promise<void> {
 *   for await (const event of queue.events({ signal })) {
 *     const e: QueueEvent = event;
 *     if (e.type === 'gap') console.warn(`missed ${e.dropped} events`);
 *     else console.log(e.type, e.jobId);
 *   }
 * }
 * ```
 */
export type QueueEvent =
  | JobEvent
  | { readonly type: 'gap'; readonly queue: string; readonly dropped: number; readonly at: Date };

/**
 * A function that receives job events.
 *
 * ### Examples
 * ```ts
 * import type { JobEventListener, JobQueue } from '@berth/core';
 *
 * const printer: JobEventListener = (event) => console.log(event.type, event.jobId, event.at.toISOString());
 *
 * function watch(queue: JobQueue): () => void {
 *   return queue.subscribe(printer);
 * }
 * ```
 */
export type JobEventListener = (event: JobEvent) => void;

/**
 * Options of `subscribe`.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, SubscribeOptions } from '@berth/core';
 *
 * function onDead(queue: JobQueue, alert: (jobId: string) => void): () => void {
 *   const options: SubscribeOptions = { types: ['dead'] };
 *   return queue.subscribe((event) => alert(event.jobId), options);
 * }
 * ```
 */
export interface SubscribeOptions {
  /** Only these kinds of event (default: all). */
  readonly types?: readonly JobEventType[] | undefined;
}

/**
 * Options of `events`.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, QueueEventsOptions } from '@berth/core';
 *
 * async function countCompleted(queue: JobQueue, ms: number): Promise<number> {
 *   const options: QueueEventsOptions = { types: ['completed'], bufferSize: 10_000, signal: AbortSignal.timeout(ms) };
 *   let count = 0;
 *   try {
 *     for await (const _event of queue.events(options)) count++;
 *   } catch {
 *     // The signal ended the iteration.
 *   }
 *   return count;
 * }
 * ```
 */
export interface QueueEventsOptions extends SubscribeOptions, SignalOptions {
  /**
   * Events held for a consumer that has not asked for them yet (default
   * 10 000). Past it the oldest are dropped and the consumer receives one
   * `gap` event that counts them.
   */
  readonly bufferSize?: number | undefined;
}
