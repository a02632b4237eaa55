import type { JobOrder, JobState } from '@berth/core';
import type { JobPosition } from '@berth/core/adapter';
import type { SqliteConnection } from './sqlite-connection.js';
import { allRaw } from './sqlite-queue-hub.js';
import { JOB_COLUMN_LIST, type JobRow, rowOf } from './sqlite-queue-rows.js';

/** Every job state: a listing without a state merges one index range per state. */
export const JOB_STATES: readonly JobState[] = ['waiting', 'active', 'completed', 'dead', 'cancelled'];

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

/** Where a listing or bulk step stands after `row`. */
export const positionOf = (row: JobRow): JobPosition => ({ createdAt: row.created_at, id: row.id });

/** Whether `a` comes before `b` in `order` (createdAt, then id by code unit; newest reverses both). */
function before(a: JobRow, b: JobRow, order: JobOrder): boolean {
  const ascending = a.created_at !== b.created_at ? a.created_at < b.created_at : a.id < b.id;
  return order === 'oldest' ? ascending : !ascending;
}

interface StateCursor {
  readonly state: JobState;
  rows: JobRow[];
  next: number;
  /** The last batch was short: the state has nothing after its rows. */
  done: boolean;
}

/**
 * The jobs of `states` in `order` after `after`, read lazily in batches of
 * `batch` from each state's index range and merged. The caller stops
 * pulling when it has examined enough, so a page reads about what it returns.
 */
export function* walkJobs(
  connection: SqliteConnection,
  queue: string,
  states: readonly JobState[],
  order: JobOrder,
  after: JobPosition | undefined,
  batch: number,
): Generator<JobRow> {
  const read = (cursor: StateCursor, from: JobPosition | undefined): void => {
    const { sql, parameters } = stateBatch(queue, cursor.state, order, from, batch);
    cursor.rows = allRaw(connection, sql, parameters).map(rowOf);
    cursor.next = 0;
    cursor.done = cursor.rows.length < batch;
  };
  const cursors = states.map((state): StateCursor => ({ state, rows: [], next: 0, done: false }));
  for (const cursor of cursors) read(cursor, after);
  for (;;) {
    let head: StateCursor | undefined;
    for (const cursor of cursors) {
      const row = cursor.rows[cursor.next];
      if (row === undefined) continue;
      const current = head?.rows[head.next];
      if (current === undefined || before(row, current, order)) head = cursor;
    }
    if (head === undefined) return;
    const row = head.rows[head.next] as JobRow;
    head.next += 1;
    if (head.next === head.rows.length && !head.done) read(head, positionOf(row));
    yield row;
  }
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
