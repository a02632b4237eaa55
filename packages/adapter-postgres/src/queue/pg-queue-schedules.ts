import type {
  EnqueueItem,
  ScheduleFireResult,
  ScheduleInput,
  ScheduleJobOptions,
  ScheduleRecord,
  ScheduleSpec,
  ScheduleTick,
  SignalOptions,
} from '@berth/core';
import {
  checkScheduleInput,
  checkScheduleName,
  checkScheduleTick,
  scheduledJob,
  throwIfAborted,
} from '@berth/core/adapter';
import type { PgQueryable } from '../pg-session.js';
import type { Inserted, PgJobQueueContext } from './pg-job-queue.js';
import { readyPool, whileOpen } from './pg-queue-open.js';
import { decodeDocument, encodeDocument } from './pg-queue-rows.js';
import { NOW } from './pg-queue-sql.js';

/** A row of `_berth_schedules` (times in epoch milliseconds, bigint as strings). */
interface ScheduleRow {
  readonly name: string;
  readonly spec: string;
  readonly payload: string;
  readonly job_options: string;
  readonly missed: 'once' | 'skip';
  readonly overlap: 'allow' | 'skip';
  readonly paused: boolean;
  readonly next_run_at: string | null;
  readonly last_run_at: string | null;
  readonly last_job_id: string | null;
  readonly created_at: string;
  readonly updated_at: string;
  readonly version: number;
}

const COLUMNS = `name, spec, payload, job_options, missed, overlap, paused, next_run_at, last_run_at, last_job_id,
  created_at, updated_at, version`;

const dateOf = (time: string | null): Date | undefined => (time === null ? undefined : new Date(Number(time)));

function toSchedule<T>(row: ScheduleRow): ScheduleRecord<T> {
  return {
    name: row.name,
    spec: JSON.parse(row.spec) as ScheduleSpec,
    payload: decodeDocument<T>(row.payload),
    jobOptions: JSON.parse(row.job_options) as ScheduleJobOptions,
    missed: row.missed,
    overlap: row.overlap,
    paused: row.paused,
    nextRunAt: dateOf(row.next_run_at),
    lastRunAt: dateOf(row.last_run_at),
    lastJobId: row.last_job_id ?? undefined,
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    version: row.version,
  };
}

/** Inserts jobs the way `enqueueMany` does, on the given connection. */
type InsertJobs<T> = (queryable: PgQueryable, items: EnqueueItem<T>[]) => Promise<Inserted>;

/** The schedules of one queue in `_berth_schedules`; every statement names the queue. */
export class PgQueueSchedules<T> {
  private readonly sql: {
    readonly put: string;
    readonly get: string;
    readonly list: string;
    readonly remove: string;
    readonly fire: string;
    readonly lastJob: string;
  };

  constructor(
    private readonly queue: string,
    private readonly context: PgJobQueueContext,
    private readonly insertJobs: InsertJobs<T>,
  ) {
    const table = context.sql.schedules;
    this.sql = {
      // Creates the schedule (version 1), or replaces what the caller gives and keeps created_at, last run and job.
      put: `INSERT INTO ${table} AS s (queue, ${COLUMNS})
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, ${NOW}, ${NOW}, 1)
        ON CONFLICT (queue, name) DO UPDATE SET spec = excluded.spec, payload = excluded.payload,
          job_options = excluded.job_options, missed = excluded.missed, overlap = excluded.overlap,
          paused = excluded.paused, next_run_at = excluded.next_run_at, updated_at = excluded.updated_at,
          version = s.version + 1
        RETURNING ${COLUMNS}`,
      get: `SELECT ${COLUMNS} FROM ${table} WHERE queue = $1 AND name = $2`,
      list: `SELECT ${COLUMNS} FROM ${table} WHERE queue = $1 ORDER BY name`,
      remove: `DELETE FROM ${table} WHERE queue = $1 AND name = $2 RETURNING name`,
      // The compare-and-set of a tick: only the caller that finds next_run_at still at the tick moves it on.
      fire: `UPDATE ${table} SET next_run_at = $4, last_run_at = $3, updated_at = ${NOW}, version = version + 1
        WHERE queue = $1 AND name = $2 AND NOT paused AND next_run_at = $3
        RETURNING ${COLUMNS}`,
      lastJob: `UPDATE ${table} SET last_job_id = $3 WHERE queue = $1 AND name = $2`,
    };
  }

  private pool(): Promise<PgQueryable> {
    return readyPool(this.context.backend);
  }

  async put(schedule: ScheduleInput<T>, options?: SignalOptions): Promise<ScheduleRecord<T>> {
    throwIfAborted(options?.signal, `${this.queue}.putSchedule`);
    const input = checkScheduleInput<T>(schedule, this.context.maxPayloadBytes);
    const [row] = await (await this.pool()).query<ScheduleRow>(this.sql.put, [
      this.queue,
      input.name,
      JSON.stringify(input.spec),
      encodeDocument(input.payload),
      JSON.stringify(input.jobOptions),
      input.missed,
      input.overlap,
      input.paused,
      input.nextRunAt?.getTime() ?? null,
    ]);
    return toSchedule<T>(row as ScheduleRow);
  }

  async get(name: string, options?: SignalOptions): Promise<ScheduleRecord<T> | null> {
    throwIfAborted(options?.signal, `${this.queue}.getSchedule`);
    checkScheduleName(name);
    const [row] = await (await this.pool()).query<ScheduleRow>(this.sql.get, [this.queue, name]);
    return row === undefined ? null : toSchedule<T>(row);
  }

  async list(options?: SignalOptions): Promise<ScheduleRecord<T>[]> {
    throwIfAborted(options?.signal, `${this.queue}.listSchedules`);
    const rows = await (await this.pool()).query<ScheduleRow>(this.sql.list, [this.queue]);
    return rows.map((row) => toSchedule<T>(row));
  }

  async remove(name: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.queue}.removeSchedule`);
    checkScheduleName(name);
    return (await (await this.pool()).query(this.sql.remove, [this.queue, name])).length > 0;
  }

  /**
   * One transaction: the compare-and-set that moves the schedule from the
   * tick to the next, then (when it matched and the tick enqueues) the job,
   * through the same insert as `enqueue`. Racing schedulers, in any
   * process, queue on the schedule's row lock: the first moves
   * `next_run_at`, the others find it moved and change nothing.
   */
  async fire(
    name: string,
    tick: ScheduleTick,
    options?: SignalOptions,
  ): Promise<{ readonly result: ScheduleFireResult; readonly inserted?: Inserted }> {
    throwIfAborted(options?.signal, `${this.queue}.fireSchedule`);
    checkScheduleName(name);
    const checked = checkScheduleTick(tick);
    await this.context.backend.ready();
    const { session } = this.context.backend;
    return whileOpen(this.context.backend, () => this.fireIn(session, name, checked));
  }

  private fireIn(
    session: PgJobQueueContext['backend']['session'],
    name: string,
    checked: ScheduleTick,
  ): Promise<{ readonly result: ScheduleFireResult; readonly inserted?: Inserted }> {
    return session.transaction(async (client) => {
      const [row] = await client.query<ScheduleRow>(this.sql.fire, [
        this.queue,
        name,
        checked.runAt.getTime(),
        checked.nextRunAt?.getTime() ?? null,
      ]);
      if (row === undefined) return { result: { fired: false } };
      if (!checked.enqueue) return { result: { fired: true } };
      const inserted = await this.insertJobs(client, [scheduledJob(toSchedule<T>(row), checked)]);
      const job = inserted.results[0];
      if (job === undefined) return { result: { fired: true } };
      await client.query(this.sql.lastJob, [this.queue, name, job.id]);
      return { result: { fired: true, job }, inserted };
    });
  }
}
