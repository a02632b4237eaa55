import { type ScheduleSpec, ValidationError } from '@berth/core';
import { Cron } from 'croner';

/**
 * Parsed expressions, by time zone and expression: the scheduler asks for
 * the next tick of the same few schedules on every pass.
 */
const parsed = new Map<string, Cron>();
const MAX_PARSED = 256;

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The croner job of a cron spec (never started: it only computes ticks).
 * Five fields, or six with seconds first; croner's nicknames (`@daily`…)
 * are accepted, its seven-field (year) form is not.
 */
function cronOf(cron: string, timezone: string | undefined): Cron {
  const key = `${timezone ?? ''}\u0000${cron}`;
  const known = parsed.get(key);
  if (known !== undefined) return known;
  try {
    new Cron(cron, { mode: '5-or-6-parts', paused: true });
  } catch (error) {
    throw new ValidationError(`cron ${JSON.stringify(cron)} is not a valid expression: ${reason(error)}`, 'cron', {
      cause: error,
    });
  }
  let job: Cron;
  try {
    job = new Cron(cron, { mode: '5-or-6-parts', paused: true, timezone: timezone ?? 'UTC' });
    job.nextRun(new Date(0));
  } catch (error) {
    throw new ValidationError(
      `timezone ${JSON.stringify(timezone)} is not a time zone croner knows: ${reason(error)}`,
      'timezone',
      { cause: error },
    );
  }
  if (parsed.size >= MAX_PARSED) parsed.clear();
  parsed.set(key, job);
  return job;
}

/** The spec's fields as a definition spells them (flat, all optional). */
export interface SpecFields {
  readonly cron?: string | undefined;
  readonly timezone?: string | undefined;
  readonly everyMs?: number | undefined;
}

/**
 * Checks a spec the way `setSchedule` does: exactly one of `cron` and
 * `everyMs`; the expression and time zone must parse, and the expression
 * must fire at least once. Throws `ValidationError` naming `cron`,
 * `timezone` or `everyMs`.
 */
export function checkSpec(spec: SpecFields): ScheduleSpec {
  const { cron, timezone, everyMs } = spec;
  if (everyMs !== undefined) {
    if (cron !== undefined) throw new ValidationError('a schedule takes cron or everyMs, not both', 'cron');
    if (timezone !== undefined) {
      throw new ValidationError('timezone applies to cron schedules; everyMs ticks in UTC milliseconds', 'timezone');
    }
    if (typeof everyMs !== 'number' || !Number.isSafeInteger(everyMs) || everyMs < 1 || everyMs > 366 * 86_400_000) {
      throw new ValidationError(
        `everyMs must be an integer from 1 to 366 days of milliseconds, got ${String(everyMs)}`,
        'everyMs',
      );
    }
    return { everyMs };
  }
  if (typeof cron !== 'string' || cron.trim().length === 0 || cron.length > 256) {
    throw new ValidationError('a schedule needs cron (an expression of 1–256 characters) or everyMs', 'cron');
  }
  if (timezone !== undefined && (typeof timezone !== 'string' || timezone.length === 0 || timezone.length > 64)) {
    throw new ValidationError('timezone must be an IANA time zone name such as "Europe/Paris"', 'timezone');
  }
  if (cronOf(cron, timezone).nextRun(new Date()) === null) {
    throw new ValidationError(`cron ${JSON.stringify(cron)} never fires`, 'cron');
  }
  return timezone === undefined ? { cron } : { cron, timezone };
}

/**
 * The first tick strictly after `after`, or `undefined` when there is none.
 * A cron spec ticks on whole seconds of its time zone (croner's DST rules);
 * an `everyMs` spec ticks on the multiples of `everyMs` since the Unix
 * epoch, so every process computes the same ticks without shared state.
 */
export function tickAfter(spec: ScheduleSpec, after: Date): Date | undefined {
  if ('everyMs' in spec) {
    return new Date((Math.floor(after.getTime() / spec.everyMs) + 1) * spec.everyMs);
  }
  return cronOf(spec.cron, spec.timezone).nextRun(after) ?? undefined;
}

/**
 * The next `count` ticks of a schedule strictly after `from`: a preview for
 * a dashboard or a CLI. Fewer when the expression stops firing.
 *
 * ### Examples
 * ```ts
 * import { nextRuns } from '@berth/scheduler';
 *
 * // 09:00 in Paris on weekdays: 08:00 UTC in winter, 07:00 UTC in summer.
 * const [first] = nextRuns({ cron: '0 9 * * 1-5', timezone: 'Europe/Paris' }, new Date('2026-01-02T12:00:00Z'), 3);
 * console.log(first?.toISOString()); // 2026-01-05T08:00:00.000Z
 * ```
 */
export function nextRuns(spec: ScheduleSpec, from: Date, count: number): Date[] {
  if (!(from instanceof Date) || Number.isNaN(from.getTime())) {
    throw new ValidationError('from must be a valid Date', 'from');
  }
  if (!Number.isSafeInteger(count) || count < 1 || count > 1000) {
    throw new ValidationError(`count must be an integer from 1 to 1000, got ${String(count)}`, 'count');
  }
  const checked = checkSpec(spec);
  const ticks: Date[] = [];
  let tick = tickAfter(checked, from);
  while (tick !== undefined && ticks.length < count) {
    ticks.push(tick);
    tick = tickAfter(checked, tick);
  }
  return ticks;
}

/** Whether two specs tick at the same times (so a stored next tick stays valid). */
export function sameSpec(a: ScheduleSpec, b: ScheduleSpec): boolean {
  if ('everyMs' in a || 'everyMs' in b) return 'everyMs' in a && 'everyMs' in b && a.everyMs === b.everyMs;
  return a.cron === b.cron && (a.timezone ?? 'UTC') === (b.timezone ?? 'UTC');
}
