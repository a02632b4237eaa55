import type { Job, JobStats, ScheduleRecord } from '@berth/core';
import { toJsonValue } from '@berth/core/adapter';
import { formatDate } from './format.js';
import { formatTable } from './table.js';

/**
 * A job for `--json`: times as ISO strings, absent fields as `null` (every
 * key always there), and the payload, result and progress in Berth's
 * document JSON, where a Date is `{"$date": "…"}` (as `berth explain` reads it).
 */
export function jobJson(job: Job<unknown>): Record<string, unknown> {
  return {
    id: job.id,
    queue: job.queue,
    state: job.state,
    priority: job.priority,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    runAt: job.runAt.toISOString(),
    dedupeKey: job.dedupeKey ?? null,
    leaseMs: job.leaseMs,
    timeoutMs: job.timeoutMs ?? null,
    payload: toJsonValue(job.payload),
    result: job.result === undefined ? null : toJsonValue(job.result),
    progress: job.progress === undefined ? null : toJsonValue(job.progress),
    errors: job.errors.map((error) => ({
      attempt: error.attempt,
      name: error.name ?? null,
      message: error.message,
      at: error.at.toISOString(),
    })),
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
    finishedAt: job.finishedAt?.toISOString() ?? null,
    leaseExpiresAt: job.leaseExpiresAt?.toISOString() ?? null,
  };
}

/** Document values as one line of JSON (Dates as `{"$date": …}`). */
function valueText(value: unknown): string {
  return value === undefined ? '-' : JSON.stringify(toJsonValue(value));
}

/** `berth queue … show <id>`: one field per line, then every error with its time. */
export function jobLines(job: Job<unknown>): string[] {
  const lines = formatTable([
    ['id', job.id],
    ['queue', job.queue],
    ['state', job.state],
    ['priority', String(job.priority)],
    ['attempts', `${job.attempts} of ${job.maxAttempts}`],
    ['run at', formatDate(job.runAt)],
    ['dedupe key', job.dedupeKey === undefined ? '-' : JSON.stringify(job.dedupeKey)],
    [
      'lease',
      `${job.leaseMs} ms${job.leaseExpiresAt === undefined ? '' : `, expires ${formatDate(job.leaseExpiresAt)}`}`,
    ],
    ['timeout', job.timeoutMs === undefined ? '-' : `${job.timeoutMs} ms`],
    ['created', formatDate(job.createdAt)],
    ['updated', formatDate(job.updatedAt)],
    ['finished', formatDate(job.finishedAt)],
    ['payload', valueText(job.payload)],
    ['result', valueText(job.result)],
    ['progress', valueText(job.progress)],
  ]);
  lines.push(job.errors.length === 0 ? 'errors    none' : `errors    ${job.errors.length}`);
  for (const error of job.errors) {
    const name = error.name === undefined ? '' : `${error.name}: `;
    lines.push(`  attempt ${error.attempt} at ${formatDate(error.at)}  ${name}${error.message}`);
  }
  return lines;
}

/** `berth queue … list`: one row per job. */
export function jobRows(jobs: readonly Job<unknown>[]): string[][] {
  return [
    ['ID', 'STATE', 'PRIORITY', 'ATTEMPTS', 'RUN AT', 'CREATED', 'LAST ERROR'],
    ...jobs.map((job) => [
      job.id,
      job.state,
      String(job.priority),
      `${job.attempts}/${job.maxAttempts}`,
      formatDate(job.runAt),
      formatDate(job.createdAt),
      job.errors.at(-1)?.message.split('\n')[0] ?? '-',
    ]),
  ];
}

/** One row per queue with its counts per state. */
export function statsRows(queues: readonly { readonly name: string; readonly stats: JobStats }[]): string[][] {
  return [
    ['QUEUE', 'WAITING', 'ACTIVE', 'COMPLETED', 'DEAD', 'CANCELLED'],
    ...queues.map(({ name, stats }) => [
      name,
      String(stats.waiting),
      String(stats.active),
      String(stats.completed),
      String(stats.dead),
      String(stats.cancelled),
    ]),
  ];
}

/** `cron 0 3 * * * (Europe/Paris)` or `every 60000 ms`. */
function describeSpec(spec: ScheduleRecord<unknown>['spec']): string {
  if ('cron' in spec) return `cron ${spec.cron} (${spec.timezone ?? 'UTC'})`;
  return `every ${spec.everyMs} ms`;
}

/** `berth queue … schedules`: name, when, next run. */
export function scheduleRows(schedules: readonly ScheduleRecord<unknown>[]): string[][] {
  return [
    ['SCHEDULE', 'WHEN', 'NEXT RUN', 'LAST RUN', 'PAUSED'],
    ...schedules.map((schedule) => [
      schedule.name,
      describeSpec(schedule.spec),
      formatDate(schedule.nextRunAt),
      formatDate(schedule.lastRunAt),
      schedule.paused ? 'yes' : 'no',
    ]),
  ];
}

/** A schedule for `--json`. */
export function scheduleJson(schedule: ScheduleRecord<unknown>): Record<string, unknown> {
  return {
    name: schedule.name,
    spec: schedule.spec,
    paused: schedule.paused,
    nextRunAt: schedule.nextRunAt?.toISOString() ?? null,
    lastRunAt: schedule.lastRunAt?.toISOString() ?? null,
    lastJobId: schedule.lastJobId ?? null,
    missed: schedule.missed,
    overlap: schedule.overlap,
    payload: toJsonValue(schedule.payload),
  };
}
