import {
  type BerthLogger,
  consoleLogger,
  type DocumentValue,
  isBerthError,
  type JobQueue,
  type ScheduleRecord,
  type ScheduleTick,
  ValidationError,
} from '@berth/core';
import { tickAfter } from './schedule-spec.js';

/**
 * Options of {@link startScheduler}.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { type SchedulerOptions, startScheduler } from '@berth/scheduler';
 *
 * const controller = new AbortController();
 * const options: SchedulerOptions = {
 *   pollIntervalMs: 5_000,
 *   missedAfterMs: 60_000,
 *   onError: (error, schedule) => console.error(`scheduler${schedule ? ` (${schedule})` : ''}:`, error),
 *   signal: controller.signal,
 * };
 * const scheduler = startScheduler(new MemoryBackend().queue('reports'), options);
 * // On shutdown: controller.abort() (or await scheduler.close()).
 * ```
 */
export interface SchedulerOptions {
  /**
   * The longest sleep between two looks at the queue's schedules (default
   * 1 000 ms): a schedule created, changed or removed by any process takes
   * effect within it. The scheduler also wakes at the earliest next tick.
   */
  readonly pollIntervalMs?: number | undefined;
  /**
   * How far behind a scheduler may fall and still enqueue every tick (default
   * 10 000 ms). A due tick older than this, with a later tick also passed,
   * was missed (no scheduler ran): the schedule's `missed` policy applies.
   */
  readonly missedAfterMs?: number | undefined;
  /**
   * Called with each error, and the schedule's name when one schedule
   * failed (default: the `logger`'s `error`). A retryable error makes the scheduler
   * wait and try again (twice as long each time in a row, up to 30 s); a
   * non-retryable `CONNECTION` error (the backend was closed) is reported
   * once and stops the scheduler; any other error of one schedule is
   * reported once per version of that schedule, and the others go on.
   */
  readonly onError?: ((error: unknown, schedule?: string) => void) | undefined;
  /** Where errors go when there is no `onError`, and an `onError` that throws (default `console`). */
  readonly logger?: BerthLogger | undefined;
  /** Aborting it closes the scheduler. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A running scheduler; `await using` closes it.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { type Scheduler, startScheduler } from '@berth/scheduler';
 *
 * const backend = new MemoryBackend();
 * const scheduler: Scheduler = startScheduler(backend.queue('reports'));
 * process.once('SIGTERM', async () => {
 *   await scheduler.close(); // waits for the tick being fired
 *   await backend.close();
 * });
 * ```
 */
export interface Scheduler extends AsyncDisposable {
  /** Stops looking; waits for the tick being fired, if any. Idempotent. */
  close(): Promise<void>;
}

/** The longest pause after errors in a row. */
const MAX_BACKOFF_MS = 30_000;
/** Timers may fire a millisecond before their time: wake a little late rather than early. */
const WAKE_LATE_MS = 2;
/** Ticks one schedule may fire in one pass before the others get their turn. */
const MAX_TICKS_PER_PASS = 100;

function checkMs(name: string, value: unknown, fallback: number, min: number): number {
  const ms = value ?? fallback;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < min || ms > 86_400_000) {
    throw new ValidationError(`${name} must be an integer from ${min} to 86400000, got ${String(ms)}`, name);
  }
  return ms;
}

/** A closed backend: looking again cannot succeed. */
function isFatal(error: unknown): boolean {
  return isBerthError(error, 'CONNECTION') && !error.retryable;
}

function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
}

/**
 * What to fire for a due tick `runAt`:
 * - a tick at or before the last one fired was fired already (a
 *   `setSchedule` that read the schedule before that tick fired wrote the
 *   old next tick back): move on without enqueueing;
 * - on time (the following tick has not come), or late by at most
 *   `missedAfterMs`: enqueue it, and move to the following tick;
 * - otherwise the ticks since `runAt` were missed: enqueue one job for them
 *   (`once`) or none (`skip`), and move to the first tick after now.
 */
export function planTick(
  schedule: Pick<ScheduleRecord<unknown>, 'spec' | 'missed' | 'lastRunAt'>,
  runAt: Date,
  now: number,
  missedAfterMs: number,
): ScheduleTick {
  const { spec, lastRunAt } = schedule;
  if (lastRunAt !== undefined && runAt.getTime() <= lastRunAt.getTime()) {
    return { runAt, nextRunAt: tickAfter(spec, lastRunAt), enqueue: false };
  }
  const following = tickAfter(spec, runAt);
  if (following === undefined || following.getTime() > now || now - runAt.getTime() <= missedAfterMs) {
    return { runAt, nextRunAt: following, enqueue: true };
  }
  return { runAt, nextRunAt: tickAfter(spec, new Date(now)), enqueue: schedule.missed === 'once' };
}

class QueueScheduler<T> implements Scheduler {
  private readonly pollIntervalMs: number;
  private readonly missedAfterMs: number;
  private closing = false;
  private wakeUp: (() => void) | undefined;
  /** `name@version` of the schedules whose non-retryable error was reported. */
  private readonly reported = new Set<string>();
  private readonly running: Promise<void>;
  private readonly onAbort = (): void => void this.close();

  constructor(
    private readonly queue: JobQueue<T>,
    private readonly options: SchedulerOptions,
  ) {
    this.pollIntervalMs = checkMs('pollIntervalMs', options.pollIntervalMs, 1_000, 1);
    this.missedAfterMs = checkMs('missedAfterMs', options.missedAfterMs, 10_000, 0);
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new ValidationError('onError must be a function', 'onError');
    }
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new ValidationError('signal must be an AbortSignal', 'signal');
    }
    if (signal?.aborted) this.closing = true;
    else signal?.addEventListener('abort', this.onAbort, { once: true });
    this.running = this.loop();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.wake();
    await this.running;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private report(error: unknown, schedule?: string): void {
    const logger = this.options.logger ?? consoleLogger;
    try {
      if (this.options.onError !== undefined) this.options.onError(error, schedule);
      else {
        const where = `berth scheduler on queue ${this.queue.name}${schedule ? `, schedule ${schedule}` : ''}`;
        logger.error(where, schedule ? { error, queue: this.queue.name, schedule } : { error, queue: this.queue.name });
      }
    } catch (thrown) {
      logger.error('berth scheduler: onError threw', { error: thrown, queue: this.queue.name });
    }
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.closing) {
      let waitMs: number;
      try {
        waitMs = await this.pass();
        failures = 0;
      } catch (error) {
        this.report(error);
        if (isFatal(error)) {
          // The backend is gone: said once, and the scheduler stops as close() would.
          this.closing = true;
          break;
        }
        failures += 1;
        waitMs = Math.min(
          Math.max(this.pollIntervalMs, MAX_BACKOFF_MS),
          this.pollIntervalMs * 2 ** Math.min(failures - 1, 30),
        );
      }
      if (!this.closing) await this.sleep(waitMs);
    }
    this.options.signal?.removeEventListener('abort', this.onAbort);
  }

  /** Fires every due tick once; returns how long to sleep before the next look. */
  private async pass(): Promise<number> {
    const schedules = await this.queue.listSchedules();
    let earliest = Number.POSITIVE_INFINITY;
    for (const schedule of schedules) {
      if (this.closing) break;
      try {
        const next = await this.fireDue(schedule);
        if (next !== undefined) earliest = Math.min(earliest, next.getTime());
      } catch (error) {
        // Retryable and fatal errors concern the backend: the whole pass waits.
        if (isFatal(error) || isRetryable(error)) throw error;
        const key = `${schedule.name}@${schedule.version}`;
        if (!this.reported.has(key)) {
          this.reported.add(key);
          this.report(error, schedule.name);
        }
      }
    }
    if (earliest === Number.POSITIVE_INFINITY) return this.pollIntervalMs;
    return Math.min(this.pollIntervalMs, Math.max(0, earliest - Date.now()) + WAKE_LATE_MS);
  }

  /**
   * Fires the schedule's due ticks (each through the backend's
   * compare-and-set, so a tick another scheduler fired is not fired again);
   * returns its next tick, or `undefined` when it has none.
   */
  private async fireDue(schedule: ScheduleRecord<T>): Promise<Date | undefined> {
    if (schedule.paused) return undefined;
    let { nextRunAt, lastRunAt } = schedule;
    for (let ticks = 0; ticks < MAX_TICKS_PER_PASS && !this.closing; ticks++) {
      if (nextRunAt === undefined) return undefined;
      const now = Date.now();
      if (nextRunAt.getTime() > now) return nextRunAt;
      const tick = planTick(
        { spec: schedule.spec, missed: schedule.missed, lastRunAt },
        nextRunAt,
        now,
        this.missedAfterMs,
      );
      const { fired } = await this.queue.fireSchedule(schedule.name, tick);
      // Another scheduler fired the tick first, or the schedule changed or
      // went: look again at its next tick, when the winner has moved it there.
      if (!fired) return tickAfter(schedule.spec, new Date(now));
      lastRunAt = tick.runAt;
      nextRunAt = tick.nextRunAt;
    }
    return nextRunAt;
  }
}

/**
 * Starts firing the schedules of `queue`: each unpaused schedule's due tick
 * is fired through `queue.fireSchedule`, which enqueues the tick's job and
 * moves the schedule to its next tick in one atomic step, so any number of
 * schedulers in any number of processes enqueue each tick exactly once.
 * It sleeps until the earliest next tick or `pollIntervalMs`, whichever
 * comes first. See the package README for the missed-tick policy and
 * precision.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { startScheduler } from '@berth/scheduler';
 *
 * await using backend = new MemoryBackend();
 * const queue = backend.queue('reports');
 * await using scheduler = startScheduler(queue, { pollIntervalMs: 500 });
 * ```
 */
export function startScheduler<T = DocumentValue>(queue: JobQueue<T>, options: SchedulerOptions = {}): Scheduler {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError('startScheduler options must be an object', 'options');
  }
  return new QueueScheduler(queue, options);
}
