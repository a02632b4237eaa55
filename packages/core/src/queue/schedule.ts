import type { DocumentValue } from '../values/document.js';
import type { BackoffPolicy } from './job.js';
import type { EnqueueResult } from './job-queue.js';

/**
 * When a schedule fires: a cron expression (5 fields, or 6 with seconds
 * first) in a time zone, or a fixed interval.
 *
 * ### Examples
 * ```ts
 * import type { ScheduleSpec } from '@berth/core';
 *
 * const nightly: ScheduleSpec = { cron: '0 3 * * *', timezone: 'Europe/Paris' };
 * const everyFiveMinutes: ScheduleSpec = { everyMs: 5 * 60_000 };
 * ```
 */
export type ScheduleSpec =
  | {
      readonly cron: string;
      /** An IANA time zone such as `Europe/Paris` (default `UTC`). */
      readonly timezone?: string | undefined;
    }
  | { readonly everyMs: number };

/**
 * The options of the jobs a schedule enqueues.
 *
 * ### Examples
 * ```ts
 * import type { ScheduleJobOptions } from '@berth/core';
 *
 * const jobOptions: ScheduleJobOptions = { priority: 10, maxAttempts: 3, backoff: { type: 'fixed', delayMs: 60_000 } };
 * ```
 */
export interface ScheduleJobOptions {
  readonly priority?: number | undefined;
  readonly maxAttempts?: number | undefined;
  readonly backoff?: BackoffPolicy | undefined;
  readonly leaseMs?: number | undefined;
  readonly timeoutMs?: number | undefined;
}

/**
 * A recurring schedule as stored in the backend, where every process sees
 * it. The cron arithmetic lives in `@berth/scheduler`; the port stores the
 * schedule and fires its ticks atomically.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, ScheduleRecord } from '@berth/core';
 *
 * async function upcoming(queue: JobQueue): Promise<string[]> {
 *   const schedules: ScheduleRecord[] = await queue.listSchedules();
 *   return schedules.filter((s) => !s.paused).map((s) => `${s.name} at ${s.nextRunAt?.toISOString()}`);
 * }
 * ```
 */
export interface ScheduleRecord<T = DocumentValue> {
  readonly name: string;
  readonly spec: ScheduleSpec;
  readonly payload: T;
  readonly jobOptions: ScheduleJobOptions;
  /**
   * A tick found in the past when a scheduler starts (everything was down):
   * `once` (default) enqueues one job for all the missed ticks, `skip`
   * enqueues none; either way the schedule moves on to its next future tick.
   */
  readonly missed: 'once' | 'skip';
  /**
   * `allow` (default): every tick enqueues a job. `skip`: a tick is skipped
   * while the job of an earlier tick is still waiting or active (built on the
   * dedupe key `schedule:<name>`).
   */
  readonly overlap: 'allow' | 'skip';
  readonly paused: boolean;
  /** The next tick; `undefined` while paused or when the expression never fires again. */
  readonly nextRunAt: Date | undefined;
  /** The last tick fired (or skipped as missed). */
  readonly lastRunAt: Date | undefined;
  /** The job the last fired tick enqueued. */
  readonly lastJobId: string | undefined;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Starts at 1 and grows with every write (`putSchedule`, `fireSchedule`). */
  readonly version: number;
}

/**
 * What `putSchedule` stores: everything but what the backend keeps itself.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, ScheduleInput } from '@berth/core';
 *
 * async function scheduleReport(reports: JobQueue<{ kind: string }>): Promise<void> {
 *   const schedule: ScheduleInput<{ kind: string }> = {
 *     name: 'daily-report',
 *     spec: { cron: '0 6 * * *', timezone: 'UTC' },
 *     payload: { kind: 'daily' },
 *     jobOptions: {},
 *     missed: 'once',
 *     overlap: 'skip',
 *     paused: false,
 *     nextRunAt: undefined,
 *   };
 *   await reports.putSchedule(schedule);
 * }
 * ```
 */
export type ScheduleInput<T = DocumentValue> = Omit<
  ScheduleRecord<T>,
  'lastRunAt' | 'lastJobId' | 'createdAt' | 'updatedAt' | 'version'
>;

/**
 * One tick of `fireSchedule`.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, ScheduleTick } from '@berth/core';
 *
 * // What a scheduler does when a schedule is due: enqueue once, and set the next run.
 * async function fire(queue: JobQueue, name: string, runAt: Date, nextRunAt: Date): Promise<boolean> {
 *   const tick: ScheduleTick = { runAt, nextRunAt, enqueue: true };
 *   return (await queue.fireSchedule(name, tick)).fired;
 * }
 * ```
 */
export interface ScheduleTick {
  /** The tick being fired: it must equal the stored `nextRunAt`, or nothing happens. */
  readonly runAt: Date;
  /** The tick after it (`undefined` when there is none). */
  readonly nextRunAt: Date | undefined;
  /** `false` moves the schedule on without enqueueing (a missed tick under `missed: 'skip'`). */
  readonly enqueue: boolean;
}

/**
 * What `fireSchedule` did.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue, ScheduleFireResult } from '@berth/core';
 *
 * async function fireNow(queue: JobQueue, name: string): Promise<string | undefined> {
 *   const result: ScheduleFireResult = await queue.fireSchedule(name, { runAt: new Date(), nextRunAt: undefined, enqueue: true });
 *   return result.job?.id;
 * }
 * ```
 */
export interface ScheduleFireResult {
  /**
   * `true` when this call moved the schedule from `runAt` to `nextRunAt`.
   * `false` when another process fired the tick first, or the schedule
   * changed or was removed: nothing was enqueued.
   */
  readonly fired: boolean;
  /** The job enqueued for the tick (absent when not fired or `enqueue` was false). */
  readonly job?: EnqueueResult | undefined;
}
