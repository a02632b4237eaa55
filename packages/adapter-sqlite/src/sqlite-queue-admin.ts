import type { JobOrder, JobState } from '@berth/core';
import { type JobAccess, type JobPosition, mergeJobStreams } from '@berth/core/adapter';
import type { SqliteConnection } from './sqlite-connection.js';
import { decodeDocument } from './sqlite-json.js';
import { allRaw } from './sqlite-queue-hub.js';
import { JOB_COLUMN_LIST, type JobRow, rowOf } from './sqlite-queue-rows.js';

/**
 * One batch of a state's jobs in enqueue order, strictly after `after`:
 * a range of `_berth_jobs_state (queue, state, created_at, id)`, read in
 * index order, so no sort and no scan of other states. The limit is spelled
 * into the text (a bound limit plans worse); the order is one of two words.
 */
function batchSql(order: JobOrder, after: boolean, limit: number): string {
  const direction = order === 'oldest' ? 'ASC' : 'DESC';
  const range = after ? `AND (created_at, id) ${order === 'oldest' ? '>' : '<'} (?, ?)` : '';
  return `SELECT ${JOB_COLUMN_LIST} FROM _berth_jobs WHERE queue = ? AND state = ? ${range}
    ORDER BY created_at ${direction}, id ${direction} LIMIT ${Math.trunc(limit)}`;
}

/** The batch query for `state` of `queue` after `after`, with its parameters (for EXPLAIN in tests, too). */
export function stateBatch(
  queue: string,
  state: JobState,
  order: JobOrder,
  after: JobPosition | undefined,
  limit: number,
): { readonly sql: string; readonly parameters: unknown[] } {
  return {
    sql: batchSql(order, after !== undefined, limit),
    parameters: after === undefined ? [queue, state] : [queue, state, after.createdAt, after.id],
  };
}

/** Where a listing or bulk step stands after `row`, and its payload (for payload filters). */
export const ROW_ACCESS: JobAccess<JobRow> = {
  position: (row) => ({ createdAt: row.created_at, id: row.id }),
  payload: (row) => decodeDocument(row.payload),
};

/** One state's jobs in `order` after `after`, read lazily in batches of `batch` from its index range. */
function* stateRows(
  connection: SqliteConnection,
  queue: string,
  state: JobState,
  order: JobOrder,
  after: JobPosition | undefined,
  batch: number,
): Generator<JobRow> {
  let from = after;
  for (;;) {
    const { sql, parameters } = stateBatch(queue, state, order, from, batch);
    const rows = allRaw(connection, sql, parameters).map(rowOf);
    yield* rows;
    const last = rows.at(-1);
    if (rows.length < batch || last === undefined) return;
    from = ROW_ACCESS.position(last);
  }
}

/**
 * The jobs of `states` in `order` after `after`: each state's index range
 * read lazily in batches of `batch`, merged. The caller stops pulling when
 * it has examined enough, so a page reads about what it returns.
 */
export function walkJobs(
  connection: SqliteConnection,
  queue: string,
  states: readonly JobState[],
  order: JobOrder,
  after: JobPosition | undefined,
  batch: number,
): Iterable<JobRow> {
  const streams = states.map((state) => stateRows(connection, queue, state, order, after, batch));
  return streams.length === 1
    ? (streams[0] as Generator<JobRow>)
    : mergeJobStreams(streams, order, ROW_ACCESS.position);
}

/** The SQL of bulk changes and retention, by rowid (the rows were found through the state index). */
export const ADMIN_SQL = {
  cancelWaiting: `UPDATE _berth_jobs SET state = 'cancelled', finished_at = @now, updated_at = @now
    WHERE seq = @seq AND state = 'waiting'`,
  count: 'SELECT count FROM _berth_job_counts WHERE queue = ? AND state = ?',
  /** The oldest-finished jobs of a state that finished before @before (`_berth_jobs_finished`). */
  pruneAged: `DELETE FROM _berth_jobs WHERE seq IN (
      SELECT seq FROM _berth_jobs WHERE queue = @queue AND state = @state AND finished_at IS NOT NULL
        AND finished_at < @before ORDER BY finished_at LIMIT @limit)`,
  /** The @limit oldest-finished jobs of a state (`_berth_jobs_finished`). */
  pruneOldest: `DELETE FROM _berth_jobs WHERE seq IN (
      SELECT seq FROM _berth_jobs WHERE queue = @queue AND state = @state AND finished_at IS NOT NULL
        ORDER BY finished_at LIMIT @limit)`,
} as const;
