import type {
  BulkJobsOptions,
  BulkJobsResult,
  JobOrder,
  JobPage,
  JobState,
  ListJobsOptions,
  PruneOptions,
  RetryJobsOptions,
} from '@berth/core';
import {
  type BulkChange,
  bulkStepOfJobs,
  FINISHED_JOB_STATES,
  JOB_STATES,
  type JobAccess,
  type JobPosition,
  mergeJobStreams,
  type NormalizedBulkJobs,
  normalizeCancelJobs,
  normalizeListJobs,
  normalizePrune,
  normalizeRetries,
  normalizeRetryJobs,
  pageOfJobs,
  type RetryPolicy,
  throwIfAborted,
  withRetries,
} from '@berth/core/adapter';
import type { PgQueryable } from '../pg-session.js';
import type { PgJobQueueContext } from './pg-job-queue.js';
import { readyPool } from './pg-queue-open.js';
import { decodeDocument, type JobRow, toJob } from './pg-queue-rows.js';

/** Where a listing or bulk step stands after `row`, and its payload (for payload filters). */
const ROW_ACCESS: JobAccess<JobRow> = {
  position: (row) => ({ createdAt: Number(row.created_at), id: row.id }),
  payload: (row) => decodeDocument(row.payload),
};

/** The most rows one state's read brings back for a filtered page before it reads again with a larger batch. */
const FIRST_FILTERED_BATCH = 500;

/** A job a bulk step changed, and the server's time of the change (epoch ms, as pg returns a bigint). */
interface ChangedRow {
  readonly id: string;
  readonly now: string;
}

const BULK_RETRIES: RetryPolicy = normalizeRetries(5) as RetryPolicy;

/** What the admin side needs of its queue. */
interface AdminHost {
  reclaimIfExpired(queryable: PgQueryable): Promise<void>;
  emitSimple(type: 'cancelled' | 'retried', ids: readonly string[], now: string | undefined): void;
}

/**
 * Listing, bulk retry and cancel, and retention for one queue. Each state
 * is a range of its table's `(queue, state, created_at, id)` index
 * (waiting and active in `_berth_jobs`, finished ones in `_berth_jobs_done`),
 * read with a keyset condition, so a page never sorts or skips rows.
 */
export class PgQueueAdmin<T> {
  constructor(
    private readonly name: string,
    private readonly context: PgJobQueueContext,
    private readonly host: AdminHost,
  ) {}

  private pool(): Promise<PgQueryable> {
    return readyPool(this.context.backend);
  }

  /** Up to `limit` jobs of one state in `order`, strictly after `after`. */
  private read(
    queryable: PgQueryable,
    state: JobState,
    order: JobOrder,
    after: JobPosition | undefined,
    limit: number,
    lock = false,
  ): Promise<JobRow[]> {
    const sql = this.context.sql.batch(FINISHED_JOB_STATES.includes(state), order, after !== undefined, lock);
    const parameters =
      after === undefined ? [this.name, state, limit] : [this.name, state, after.createdAt, after.id, limit];
    return queryable.query<JobRow>(sql, parameters);
  }

  /**
   * Reads each state's range (all five, merged, without a state) and lets
   * core's `pageOfJobs` cut the page. With a payload filter a page may
   * examine up to `MAX_JOBS_EXAMINED` jobs: the ranges are read in growing
   * batches until the page no longer runs past what was read.
   */
  async listJobs(options?: ListJobsOptions): Promise<JobPage<T>> {
    throwIfAborted(options?.signal, `${this.name}.listJobs`);
    const list = normalizeListJobs(this.name, options);
    const pool = await this.pool();
    await this.host.reclaimIfExpired(pool);
    const states = list.state === undefined ? JOB_STATES : [list.state];
    const most = list.maxExamined + 1;
    let batch = list.payload === undefined ? most : Math.min(most, FIRST_FILTERED_BATCH);
    for (;;) {
      const ranges = await Promise.all(states.map((state) => this.read(pool, state, list.order, list.after, batch)));
      let overrun = false;
      const streams = ranges.map(function* (rows): Generator<JobRow> {
        yield* rows;
        if (rows.length === batch) overrun = true;
      });
      const candidates =
        streams.length === 1
          ? (streams[0] as Generator<JobRow>)
          : mergeJobStreams(streams, list.order, ROW_ACCESS.position);
      const page = pageOfJobs(candidates, list, ROW_ACCESS);
      if (!overrun || batch >= most) return { jobs: page.jobs.map((row) => toJob<T>(row)), cursor: page.cursor };
      batch = Math.min(most, batch * 4);
    }
  }

  async retryJobs(options?: RetryJobsOptions): Promise<BulkJobsResult> {
    throwIfAborted(options?.signal, `${this.name}.retryJobs`);
    const bulk = normalizeRetryJobs(this.name, options);
    const { sql, channel, publish } = this.context;
    const step = await this.bulkStep(bulk, async (client, rows) => {
      const keys = rows.flatMap((row) => (row.dedupe_key === null ? [] : [row.dedupe_key]));
      const held = new Set(
        keys.length === 0
          ? []
          : (await client.query<{ dedupe_key: string }>(sql.holders, [this.name, keys])).map((row) => row.dedupe_key),
      );
      return {
        change: (row) => {
          if (row.dedupe_key === null) return 'changed';
          if (held.has(row.dedupe_key)) return 'skipped';
          // Two dead jobs with one key: only the first goes back.
          held.add(row.dedupe_key);
          return 'changed';
        },
        apply: (ids) =>
          client.query<{ id: string; now: string }>(sql.revive, [
            ids,
            this.name,
            channel,
            publish.channel,
            publish.origin,
          ]),
      };
    });
    if (step.changed.length > 0) {
      this.context.notifier.notify();
      this.host.emitSimple(
        'retried',
        step.changed.map((row) => row.id),
        step.changed[0]?.now,
      );
    }
    return step.result;
  }

  async cancelJobs(options?: BulkJobsOptions): Promise<BulkJobsResult> {
    throwIfAborted(options?.signal, `${this.name}.cancelJobs`);
    const bulk = normalizeCancelJobs(this.name, options);
    const { sql, publish } = this.context;
    const step = await this.bulkStep(bulk, async (client) => ({
      change: () => 'changed',
      apply: (ids) =>
        client.query<{ id: string; now: string }>(sql.cancel, [
          ids,
          this.name,
          ['waiting'],
          publish.channel,
          publish.origin,
        ]),
    }));
    this.host.emitSimple(
      'cancelled',
      step.changed.map((row) => row.id),
      step.changed[0]?.now,
    );
    return step.result;
  }

  /**
   * One bulk step: the state's jobs oldest first after the cursor, at most
   * `limit` examined, `change` decided for each whose payload matches, then
   * the changed ones written by one conditional statement. Rows are not
   * locked while deciding (a lock held across round trips would stall
   * workers and invite deadlocks): a job a worker claimed in between is
   * simply not changed, and the step counts only what it wrote.
   */
  private async bulkStep(
    bulk: NormalizedBulkJobs,
    prepare: (
      client: PgQueryable,
      rows: readonly JobRow[],
    ) => Promise<{ change: (row: JobRow) => BulkChange; apply: (ids: string[]) => Promise<ChangedRow[]> }>,
  ): Promise<{ readonly result: BulkJobsResult; readonly changed: ChangedRow[] }> {
    const pool = await this.pool();
    const rows = await this.read(pool, bulk.state, 'oldest', bulk.after, bulk.limit + 1);
    const { change, apply } = await prepare(pool, rows);
    const step = bulkStepOfJobs(rows, bulk, ROW_ACCESS, change);
    const ids = step.changed.map((row) => row.id);
    // A deadlock with a worker's statement rolls back this one statement only: run it again.
    const changed = ids.length === 0 ? [] : await withRetries(() => apply(ids), BULK_RETRIES, undefined, 'bulk step');
    return { result: { changed: changed.length, skipped: step.skipped, cursor: step.cursor }, changed };
  }

  /**
   * Per finished state: the jobs finished before the age bound (server
   * clock), then the oldest finished beyond the count bound (counted from
   * `_berth_job_counts`). Both are ranges of `_berth_jobs_done_finished`, so
   * the cost follows what is removed.
   */
  async prune(options?: PruneOptions): Promise<number> {
    throwIfAborted(options?.signal, `${this.name}.prune`);
    const { retention, limit } = normalizePrune(options, this.context.retention);
    const pool = await this.pool();
    const { sql } = this.context;
    let removed = 0;
    for (const state of FINISHED_JOB_STATES as readonly ('completed' | 'dead' | 'cancelled')[]) {
      const rule = retention[state];
      if (rule === undefined) continue;
      if (rule.maxAgeMs !== undefined && removed < limit) {
        const [row] = await pool.query<{ count: string }>(sql.pruneAged, [
          this.name,
          state,
          rule.maxAgeMs,
          limit - removed,
        ]);
        removed += Number(row?.count ?? 0);
      }
      if (rule.maxCount !== undefined && removed < limit) {
        const [row] = await pool.query<{ count: string }>(sql.count, [this.name, state]);
        const excess = Math.min(Number(row?.count ?? 0) - rule.maxCount, limit - removed);
        if (excess > 0) {
          const [pruned] = await pool.query<{ count: string }>(sql.pruneOldest, [this.name, state, excess]);
          removed += Number(pruned?.count ?? 0);
        }
      }
    }
    return removed;
  }
}
