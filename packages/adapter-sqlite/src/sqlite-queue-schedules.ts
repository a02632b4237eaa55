import type { ScheduleInput, ScheduleJobOptions, ScheduleRecord, ScheduleSpec } from '@berth/core';
import { decodeDocument, encodeDocument } from './sqlite-json.js';

/** A row of `_berth_schedules` (times in epoch milliseconds; spec, payload and job options as JSON). */
export interface ScheduleRow {
  readonly queue: string;
  readonly name: string;
  readonly spec: string;
  readonly payload: string;
  readonly job_options: string;
  readonly missed: 'once' | 'skip';
  readonly overlap: 'allow' | 'skip';
  readonly paused: number;
  readonly next_run_at: number | null;
  readonly last_run_at: number | null;
  readonly last_job_id: string | null;
  readonly created_at: number;
  readonly updated_at: number;
  readonly version: number;
}

const SCHEDULE_COLUMNS: string = `queue, name, spec, payload, job_options, missed, overlap, paused, next_run_at, last_run_at,
  last_job_id, created_at, updated_at, version`;

/** The SQL of schedules; every statement names the queue, so one queue never sees another's schedules. */
/** The statements of {@link SCHEDULE_SQL}. */
export interface ScheduleStatements {
  readonly put: string;
  readonly get: string;
  readonly list: string;
  readonly remove: string;
  readonly fire: string;
  readonly lastJob: string;
}

export const SCHEDULE_SQL: ScheduleStatements = {
  /** Creates the schedule (version 1), or replaces what the caller gives and keeps created_at, last run and last job. */
  put: `INSERT INTO _berth_schedules (${SCHEDULE_COLUMNS})
    VALUES (@queue, @name, @spec, @payload, @jobOptions, @missed, @overlap, @paused, @nextRunAt, NULL, NULL,
      @now, @now, 1)
    ON CONFLICT (queue, name) DO UPDATE SET spec = excluded.spec, payload = excluded.payload,
      job_options = excluded.job_options, missed = excluded.missed, overlap = excluded.overlap,
      paused = excluded.paused, next_run_at = excluded.next_run_at, updated_at = excluded.updated_at,
      version = version + 1
    RETURNING ${SCHEDULE_COLUMNS}`,
  get: `SELECT ${SCHEDULE_COLUMNS} FROM _berth_schedules WHERE queue = ? AND name = ?`,
  list: `SELECT ${SCHEDULE_COLUMNS} FROM _berth_schedules WHERE queue = ? ORDER BY name`,
  remove: 'DELETE FROM _berth_schedules WHERE queue = ? AND name = ?',
  /**
   * Claims a tick: only the caller that finds `next_run_at` still at the
   * tick moves it on (the write lock orders the callers, whatever process).
   */
  fire: `UPDATE _berth_schedules SET next_run_at = @nextRunAt, last_run_at = @runAt, updated_at = @now,
      version = version + 1
    WHERE queue = @queue AND name = @name AND paused = 0 AND next_run_at = @runAt
    RETURNING ${SCHEDULE_COLUMNS}`,
  lastJob: 'UPDATE _berth_schedules SET last_job_id = ? WHERE queue = ? AND name = ? RETURNING last_job_id',
};

/** The named parameters of `put`. */
export function scheduleParameters(
  queue: string,
  input: ScheduleInput<unknown>,
  now: number,
): Record<string, string | number | null> {
  return {
    queue,
    name: input.name,
    spec: JSON.stringify(input.spec),
    payload: encodeDocument(input.payload),
    jobOptions: JSON.stringify(input.jobOptions),
    missed: input.missed,
    overlap: input.overlap,
    paused: input.paused ? 1 : 0,
    nextRunAt: input.nextRunAt === undefined ? null : input.nextRunAt.getTime(),
    now,
  };
}

const dateOf = (time: number | null): Date | undefined => (time === null ? undefined : new Date(time));

export function toSchedule<T>(row: ScheduleRow, lastJobId: string | null = row.last_job_id): ScheduleRecord<T> {
  return {
    name: row.name,
    spec: JSON.parse(row.spec) as ScheduleSpec,
    payload: decodeDocument<T>(row.payload),
    jobOptions: JSON.parse(row.job_options) as ScheduleJobOptions,
    missed: row.missed,
    overlap: row.overlap,
    paused: row.paused === 1,
    nextRunAt: dateOf(row.next_run_at),
    lastRunAt: dateOf(row.last_run_at),
    lastJobId: lastJobId ?? undefined,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    version: row.version,
  };
}
