import {
  type DocumentValue,
  type JobQueue,
  type ScheduleJobOptions,
  type ScheduleRecord,
  type SignalOptions,
  ValidationError,
} from '@berth/core';
import { checkSpec, sameSpec, tickAfter } from './schedule-spec.js';

/** What every schedule definition holds besides its timing. */
interface ScheduleDefinitionBase<T> {
  /** Unique per queue; the rule of collection names (a letter, then letters, digits or `_`; at most 63). */
  readonly name: string;
  /** The payload of every job the schedule enqueues (`null` for none). */
  readonly payload: T;
  /** Priority, attempts, backoff, lease and timeout of those jobs. */
  readonly jobOptions?: ScheduleJobOptions | undefined;
  /** Ticks that passed while no scheduler ran: `once` (default) enqueues one job for them, `skip` none. */
  readonly missed?: 'once' | 'skip' | undefined;
  /** `allow` (default): every tick enqueues. `skip`: no new job while the last one is waiting or active. */
  readonly overlap?: 'allow' | 'skip' | undefined;
  /** A paused schedule keeps its definition and fires nothing; resuming starts at the next tick. */
  readonly paused?: boolean | undefined;
}

/**
 * A named recurring schedule: a cron expression in a time zone (default
 * `UTC`), or a fixed interval, and the job it enqueues at each tick.
 *
 * ### Examples
 * ```ts
 * import type { ScheduleDefinition } from '@berth/scheduler';
 *
 * const cleanup: ScheduleDefinition<{ olderThanDays: number }> = {
 *   name: 'cleanup',
 *   everyMs: 15 * 60_000,
 *   payload: { olderThanDays: 30 },
 *   overlap: 'skip',
 *   jobOptions: { maxAttempts: 5 },
 * };
 * const weekdayReport: ScheduleDefinition<null> = { name: 'report', cron: '0 30 9 * * 1-5', timezone: 'Europe/Paris', payload: null };
 * ```
 */
export type ScheduleDefinition<T = DocumentValue> = ScheduleDefinitionBase<T> &
  (
    | {
        /** Five fields, or six with seconds first (`0 30 9 * * 1-5`), as croner reads them. */
        readonly cron: string;
        /** An IANA time zone such as `Europe/Paris` (default `UTC`). */
        readonly timezone?: string | undefined;
        readonly everyMs?: undefined;
      }
    | {
        /** Milliseconds between ticks; ticks fall on the multiples of `everyMs` since the Unix epoch. */
        readonly everyMs: number;
        readonly cron?: undefined;
        readonly timezone?: undefined;
      }
  );

/**
 * Creates or replaces a schedule on `queue`, where every process's
 * scheduler sees it (a running scheduler picks the change up within its
 * `pollIntervalMs`).
 *
 * The next tick is the first one after now, except when the schedule
 * already exists, is not paused and keeps the same timing (same `cron` and
 * `timezone`, or same `everyMs`): then its stored next tick is kept, so
 * changing the payload or the job options neither skips nor repeats a tick.
 * A paused schedule has no next tick.
 *
 * Throws `ValidationError` for a bad definition: `cron` or `timezone` with
 * croner's reason (a bad expression, a seven-field one, one that never
 * fires, an unknown time zone), `everyMs`, or what the queue's
 * `putSchedule` rejects (`name`, `payload`, `jobOptions`, `missed`, …).
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { setSchedule } from '@berth/scheduler';
 *
 * await using backend = new MemoryBackend();
 * const reports = backend.queue<{ kind: string }>('reports');
 * const schedule = await setSchedule(reports, {
 *   name: 'daily_report',
 *   cron: '0 7 * * *',
 *   timezone: 'Europe/Paris',
 *   payload: { kind: 'daily' },
 * });
 * console.log(schedule.nextRunAt);
 * ```
 */
export async function setSchedule<T = DocumentValue>(
  queue: JobQueue<T>,
  definition: ScheduleDefinition<T>,
  options: SignalOptions = {},
): Promise<ScheduleRecord<T>> {
  if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) {
    throw new ValidationError('a schedule definition is { name, cron | everyMs, payload, ... }', '');
  }
  const spec = checkSpec(definition);
  const paused = definition.paused ?? false;
  const existing = await queue.getSchedule(definition.name, options);
  let nextRunAt: Date | undefined;
  if (paused === true) {
    nextRunAt = undefined;
  } else if (
    existing !== null &&
    !existing.paused &&
    existing.nextRunAt !== undefined &&
    sameSpec(existing.spec, spec)
  ) {
    // Kept even when it is in the past: the scheduler then applies `missed`.
    nextRunAt = existing.nextRunAt;
  } else {
    nextRunAt = tickAfter(spec, new Date());
  }
  return queue.putSchedule(
    {
      name: definition.name,
      spec,
      payload: definition.payload,
      jobOptions: definition.jobOptions ?? {},
      missed: definition.missed ?? 'once',
      overlap: definition.overlap ?? 'allow',
      paused,
      nextRunAt,
    },
    options,
  );
}
