import { ValidationError } from '../errors.js';
import { checkCollectionName } from '../values/names.js';
import { copyValue, isPlainObject, MAX_DOCUMENT_BYTES } from '../values/values.js';
import { normalizeEnqueueOptions } from './job-options.js';
import type { EnqueueItem } from './job-queue.js';
import type { ScheduleInput, ScheduleJobOptions, ScheduleRecord, ScheduleSpec, ScheduleTick } from './schedule.js';

function checkDate(value: unknown, name: string): Date | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new ValidationError(`${name} must be a valid Date`, name);
  }
  return new Date(value.getTime());
}

/**
 * Checks a schedule name: the queue-name rule (a letter, then letters, digits or `_`; at most 63 characters).
 *
 * ### Examples
 * ```ts
 * import { checkScheduleName } from '@berth/core/adapter';
 *
 * checkScheduleName('nightly_report'); // 'nightly_report'
 * ```
 */
export function checkScheduleName(name: unknown): string {
  checkCollectionName(name, 'schedule');
  return name;
}

function checkSpec(spec: unknown): ScheduleSpec {
  if (!isPlainObject(spec)) throw new ValidationError('spec must be { cron, timezone? } or { everyMs }', 'spec');
  if ('everyMs' in spec && spec.everyMs !== undefined) {
    if ('cron' in spec && spec.cron !== undefined)
      throw new ValidationError('spec takes cron or everyMs, not both', 'spec');
    const everyMs = spec.everyMs;
    if (typeof everyMs !== 'number' || !Number.isSafeInteger(everyMs) || everyMs < 1 || everyMs > 366 * 86_400_000) {
      throw new ValidationError('spec.everyMs must be an integer from 1 to 366 days of milliseconds', 'spec.everyMs');
    }
    return { everyMs };
  }
  const { cron, timezone } = spec;
  if (typeof cron !== 'string' || cron.trim().length === 0 || cron.length > 256) {
    throw new ValidationError('spec.cron must be a cron expression (a string of 1–256 characters)', 'spec.cron');
  }
  if (timezone !== undefined && (typeof timezone !== 'string' || timezone.length === 0 || timezone.length > 64)) {
    throw new ValidationError('spec.timezone must be an IANA time zone name such as "Europe/Paris"', 'spec.timezone');
  }
  return timezone === undefined ? { cron } : { cron, timezone };
}

function checkJobOptions(options: unknown): ScheduleJobOptions {
  if (options === undefined) return {};
  if (!isPlainObject(options)) throw new ValidationError('jobOptions must be an object', 'jobOptions');
  const allowed = ['priority', 'maxAttempts', 'backoff', 'leaseMs', 'timeoutMs'];
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new ValidationError(
        `jobOptions takes ${allowed.join(', ')}, not ${JSON.stringify(key)}`,
        `jobOptions.${key}`,
      );
    }
  }
  try {
    normalizeEnqueueOptions(options, 0);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(`jobOptions: ${error.message}`, `jobOptions.${error.path}`, { cause: error });
  }
  const kept: Record<string, unknown> = {};
  for (const key of allowed) if (options[key] !== undefined) kept[key] = copyValue(options[key], `jobOptions.${key}`);
  return kept as ScheduleJobOptions;
}

/**
 * Checks what `putSchedule` stores (all but the cron expression's syntax,
 * which `@berth/scheduler` checks) and returns a canonical copy.
 *
 * ### Examples
 * ```ts
 * import { checkScheduleInput } from '@berth/core/adapter';
 *
 * const schedule = checkScheduleInput<{ kind: string }>({
 *   name: 'daily',
 *   spec: { everyMs: 86_400_000 },
 *   payload: { kind: 'daily' },
 *   jobOptions: {},
 *   missed: 'once',
 *   overlap: 'skip',
 *   paused: false,
 *   nextRunAt: new Date(),
 * });
 * ```
 */
export function checkScheduleInput<T>(input: unknown, maxPayloadBytes: number = MAX_DOCUMENT_BYTES): ScheduleInput<T> {
  if (!isPlainObject(input)) throw new ValidationError('a schedule is { name, spec, payload, ... }', '');
  const missed = input.missed ?? 'once';
  if (missed !== 'once' && missed !== 'skip') {
    throw new ValidationError(`missed must be "once" or "skip", got ${JSON.stringify(missed)}`, 'missed');
  }
  const overlap = input.overlap ?? 'allow';
  if (overlap !== 'allow' && overlap !== 'skip') {
    throw new ValidationError(`overlap must be "allow" or "skip", got ${JSON.stringify(overlap)}`, 'overlap');
  }
  const paused = input.paused ?? false;
  if (typeof paused !== 'boolean') throw new ValidationError('paused must be a boolean', 'paused');
  if (input.payload === undefined) throw new ValidationError('payload is undefined; use null', 'payload');
  return {
    name: checkScheduleName(input.name),
    spec: checkSpec(input.spec),
    payload: copyValue(input.payload, 'payload', maxPayloadBytes) as T,
    jobOptions: checkJobOptions(input.jobOptions),
    missed,
    overlap,
    paused,
    nextRunAt: checkDate(input.nextRunAt, 'nextRunAt'),
  };
}

/**
 * Checks a tick of `fireSchedule`.
 *
 * ### Examples
 * ```ts
 * import { checkScheduleTick } from '@berth/core/adapter';
 *
 * const tick = checkScheduleTick({ runAt: new Date(), nextRunAt: undefined, enqueue: true });
 * ```
 */
export function checkScheduleTick(tick: unknown): ScheduleTick {
  if (!isPlainObject(tick)) throw new ValidationError('a tick is { runAt, nextRunAt, enqueue }', 'tick');
  if (typeof tick.enqueue !== 'boolean') throw new ValidationError('tick.enqueue must be a boolean', 'tick.enqueue');
  const runAt = checkDate(tick.runAt, 'tick.runAt');
  if (runAt === undefined) throw new ValidationError('tick.runAt must be a valid Date', 'tick.runAt');
  const nextRunAt = checkDate(tick.nextRunAt, 'tick.nextRunAt');
  if (nextRunAt !== undefined && nextRunAt.getTime() <= runAt.getTime()) {
    throw new ValidationError('tick.nextRunAt must be after tick.runAt', 'tick.nextRunAt');
  }
  return { runAt, nextRunAt, enqueue: tick.enqueue };
}

/**
 * The job a tick enqueues: the schedule's payload and job options, with
 * `runAt` set to the tick (due at once, since the tick has come), so every
 * job says which tick it was enqueued for. Under `overlap: 'skip'` it carries
 * the dedupe key `schedule:<name>`, so a tick finds the earlier tick's live
 * job and enqueues nothing.
 *
 * ### Examples
 * ```ts
 * import { scheduledJob } from '@berth/core/adapter';
 *
 * const item = scheduledJob(
 *   { name: 'daily', payload: { kind: 'daily' }, jobOptions: { priority: 5 }, overlap: 'skip' },
 *   { runAt: new Date('2026-11-27T06:00:00Z') },
 * );
 * // { payload: { kind: 'daily' }, priority: 5, runAt: 2026-11-27T06:00:00Z, dedupeKey: 'schedule:daily' }
 * ```
 */
export function scheduledJob<T>(
  schedule: Pick<ScheduleRecord<T>, 'name' | 'payload' | 'jobOptions' | 'overlap'>,
  tick: Pick<ScheduleTick, 'runAt'>,
): EnqueueItem<T> {
  return {
    ...schedule.jobOptions,
    payload: schedule.payload,
    runAt: tick.runAt,
    ...(schedule.overlap === 'skip' ? { dedupeKey: `schedule:${schedule.name}` } : {}),
  };
}
