import type { DocumentValue, Job, JobError, JobState, Lease } from '@berth/core';
import { jobErrorOf, type StoredJobError, storedJobError } from '@berth/core/adapter';
import { decodeDocument } from './sqlite-json.js';

/** A row of `_berth_jobs` (times in epoch milliseconds). */
export interface JobRow {
  readonly seq: number;
  readonly id: string;
  readonly queue: string;
  readonly state: JobState;
  readonly priority: number;
  readonly run_at: number;
  readonly attempts: number;
  readonly max_attempts: number;
  readonly lease_ms: number;
  /** `null` for the default policy. */
  readonly backoff: string | null;
  readonly dedupe_key: string | null;
  readonly payload: string;
  /** JSON array of `{ attempt, message, name?, at }`, `at` in epoch milliseconds. */
  readonly errors: string;
  readonly result: string | null;
  /** Leases so far; the current lease's token is `<seq>.<leases>`. */
  readonly leases: number;
  readonly lease_expires_at: number | null;
  readonly created_at: number;
  readonly updated_at: number;
  readonly finished_at: number | null;
  /** The last progress reported, as JSON; `null` when none. */
  readonly progress: string | null;
  /** The job's own attempt timeout; `null` for the worker's. */
  readonly timeout_ms: number | null;
}

/** The columns of a job row, in the order claims return them. */
const JOB_COLUMNS = [
  'seq',
  'id',
  'queue',
  'state',
  'priority',
  'run_at',
  'attempts',
  'max_attempts',
  'lease_ms',
  'backoff',
  'dedupe_key',
  'payload',
  'errors',
  'result',
  'leases',
  'lease_expires_at',
  'created_at',
  'updated_at',
  'finished_at',
  'progress',
  'timeout_ms',
] as const satisfies readonly (keyof JobRow)[];

export const JOB_COLUMN_LIST: string = JOB_COLUMNS.join(', ');

/**
 * A row read in raw mode (an array of values in {@link JOB_COLUMNS} order).
 * better-sqlite3 builds a keyed object per row slowly (half the cost of a
 * claim); an array and one object literal are cheap.
 */
export function rowOf(values: readonly unknown[]): JobRow {
  return {
    seq: values[0] as number,
    id: values[1] as string,
    queue: values[2] as string,
    state: values[3] as JobState,
    priority: values[4] as number,
    run_at: values[5] as number,
    attempts: values[6] as number,
    max_attempts: values[7] as number,
    lease_ms: values[8] as number,
    backoff: values[9] as string | null,
    dedupe_key: values[10] as string | null,
    payload: values[11] as string,
    errors: values[12] as string,
    result: values[13] as string | null,
    leases: values[14] as number,
    lease_expires_at: values[15] as number | null,
    created_at: values[16] as number,
    updated_at: values[17] as number,
    finished_at: values[18] as number | null,
    progress: values[19] as string | null,
    timeout_ms: values[20] as number | null,
  };
}

/** A job whose expired lease was settled: due again (`waiting`) or `dead`. */
export interface ExpiredRow {
  readonly id: string;
  readonly state: JobState;
  readonly attempts: number;
}

/** What a lease check needs of a row. */
export type LeaseRow = Pick<JobRow, 'seq' | 'state' | 'leases' | 'lease_expires_at'>;

/**
 * The fencing token of a job's current lease: its row and its lease count.
 * Each claim counts one more lease (under the write lock), so no two leases
 * of a job share a token, and checking one is a lookup by rowid.
 */
function leaseToken(row: Pick<JobRow, 'seq' | 'leases'>): string {
  return `${row.seq}.${row.leases}`;
}

/** The row and lease count a token names; a token that names none matches no row. */
export function parseToken(token: string): { readonly seq: number; readonly leases: number } {
  const match = /^(\d{1,15})\.(\d{1,15})$/.exec(token);
  return match === null ? { seq: -1, leases: -1 } : { seq: Number(match[1]), leases: Number(match[2]) };
}

/** The JSON kept in `errors` for one failed attempt. */
export function encodeError(error: JobError): string {
  return JSON.stringify(storedJobError(error));
}

function decodeErrors(text: string): JobError[] {
  if (text === '[]') return [];
  return (JSON.parse(text) as StoredJobError[]).map(jobErrorOf);
}

function dateOrUndefined(time: number | null): Date | undefined {
  return time === null ? undefined : new Date(time);
}

export function toJob<T>(row: JobRow): Job<T> {
  return {
    id: row.id,
    queue: row.queue,
    payload: decodeDocument<T>(row.payload),
    state: row.state,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAt: new Date(row.run_at),
    dedupeKey: row.dedupe_key ?? undefined,
    leaseMs: row.lease_ms,
    errors: decodeErrors(row.errors),
    result: row.result === null ? undefined : decodeDocument<DocumentValue>(row.result),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    finishedAt: dateOrUndefined(row.finished_at),
    leaseExpiresAt: dateOrUndefined(row.lease_expires_at),
    progress: row.progress === null ? undefined : decodeDocument<DocumentValue>(row.progress),
    timeoutMs: row.timeout_ms ?? undefined,
  };
}

export function toLease<T>(row: JobRow): Lease<T> {
  return { job: toJob<T>(row), token: leaseToken(row), expiresAt: new Date(row.lease_expires_at as number) };
}

/** Delivery order: highest priority, then earliest due, then enqueue order. */
export function deliveryOrder(a: JobRow, b: JobRow): number {
  return b.priority - a.priority || a.run_at - b.run_at || a.seq - b.seq;
}

/** Why a lease is not valid, or `undefined` when it is. */
export function invalidLease(row: LeaseRow | undefined, token: string, now: number): string | undefined {
  if (row === undefined) return 'the job no longer exists';
  if (row.state !== 'active') return `the job is ${row.state}`;
  if (leaseToken(row) !== token) return 'the job was leased again with another token';
  if ((row.lease_expires_at ?? 0) <= now) return 'the lease expired';
  return undefined;
}

/** The condition every lease operation puts on its row, checked by the engine in the UPDATE itself. */
const VALID_LEASE = `seq = @seq AND id = @id AND queue = @queue AND leases = @leases AND state = 'active'
    AND lease_expires_at > @now`;

type Statement =
  | 'insert'
  | 'importRow'
  | 'idTaken'
  | 'holder'
  | 'byId'
  | 'leaseOf'
  | 'anyExpired'
  | 'anyDue'
  | 'settle'
  | 'complete'
  | 'progress'
  | 'failOf'
  | 'retryLater'
  | 'bury'
  | 'extend'
  | 'release'
  | 'cancel'
  | 'cancelOf'
  | 'retryOf'
  | 'revive'
  | 'stats'
  | 'nextLeaseExpiry'
  | 'nextDue';

/** The SQL of the queue, one statement per text so the connection caches each once. */
export const QUEUE_SQL: Readonly<Record<Statement, string>> = {
  /** Positional, like `complete`: enqueueMany runs it once per job. */
  insert: `INSERT INTO _berth_jobs (id, queue, state, priority, run_at, attempts, max_attempts, lease_ms, backoff,
      dedupe_key, payload, errors, created_at, updated_at, timeout_ms)
    VALUES (?, ?, 'waiting', ?, ?, 0, ?, ?, ?, ?, ?, '[]', ?, ?, ?)`,
  /** Every column a job keeps, as importJobs gives them (no lease: imported jobs are never active; default backoff). */
  importRow: `INSERT INTO _berth_jobs (id, queue, state, priority, run_at, attempts, max_attempts, lease_ms, backoff,
      dedupe_key, payload, errors, result, created_at, updated_at, finished_at, progress, timeout_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  /** Job ids are unique in the whole file (the id column), whatever the queue. */
  idTaken: 'SELECT 1 FROM _berth_jobs WHERE id = ?',
  holder: `SELECT id FROM _berth_jobs WHERE queue = ? AND dedupe_key = ? AND state IN ('waiting', 'active')`,
  byId: `SELECT ${JOB_COLUMN_LIST} FROM _berth_jobs WHERE id = ? AND queue = ?`,
  leaseOf: 'SELECT seq, state, leases, lease_expires_at FROM _berth_jobs WHERE id = ? AND queue = ?',
  anyExpired: `SELECT 1 FROM _berth_jobs WHERE queue = ? AND state = 'active' AND lease_expires_at <= ? LIMIT 1`,
  anyDue: `SELECT 1 FROM _berth_jobs WHERE queue = ? AND state = 'waiting' AND run_at <= ? LIMIT 1`,
  /** Expired leases: the attempt counts and is recorded; the job is due again, or dead when it was the last. */
  settle: `UPDATE _berth_jobs SET
      state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'waiting' END,
      errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'message', 'lease expired',
        'name', 'LEASE_EXPIRED', 'at', @now)),
      finished_at = CASE WHEN attempts >= max_attempts THEN @now ELSE NULL END,
      updated_at = @now, lease_expires_at = NULL
    WHERE queue = @queue AND state = 'active' AND lease_expires_at <= @now
    RETURNING id, state, attempts`,
  /** Positional (result, now, now, seq, id, queue, leases, now): the hottest statement binds fastest so. */
  /** Returns the attempt, for the `completed` event. */
  complete: `UPDATE _berth_jobs SET state = 'completed', result = ?, finished_at = ?, updated_at = ?,
      lease_expires_at = NULL
    WHERE seq = ? AND id = ? AND queue = ? AND leases = ? AND state = 'active' AND lease_expires_at > ?
    RETURNING attempts`,
  progress: `UPDATE _berth_jobs SET progress = @progress, updated_at = @now
    WHERE ${VALID_LEASE}
    RETURNING attempts`,
  failOf: `SELECT seq, state, leases, lease_expires_at, attempts, max_attempts, backoff
    FROM _berth_jobs WHERE seq = ? AND id = ? AND queue = ?`,
  retryLater: `UPDATE _berth_jobs SET state = 'waiting', run_at = @runAt, errors = json_insert(errors, '$[#]', json(@error)),
      updated_at = @now, lease_expires_at = NULL
    WHERE seq = @seq`,
  bury: `UPDATE _berth_jobs SET state = 'dead', errors = json_insert(errors, '$[#]', json(@error)),
      finished_at = @now, updated_at = @now, lease_expires_at = NULL
    WHERE seq = @seq`,
  extend: `UPDATE _berth_jobs SET lease_expires_at = @now + coalesce(@leaseMs, lease_ms), updated_at = @now
    WHERE ${VALID_LEASE}
    RETURNING ${JOB_COLUMN_LIST}`,
  release: `UPDATE _berth_jobs SET state = 'waiting', attempts = attempts - 1, updated_at = @now,
      lease_expires_at = NULL
    WHERE ${VALID_LEASE}
    RETURNING run_at`,
  cancel: `UPDATE _berth_jobs SET state = 'cancelled', finished_at = @now, updated_at = @now,
      lease_expires_at = NULL
    WHERE seq = @seq`,
  /** The live job `cancel` changes, and its state (for the counts). */
  cancelOf: `SELECT seq, state FROM _berth_jobs WHERE id = ? AND queue = ? AND state IN ('waiting', 'active')`,
  retryOf: 'SELECT seq, state, dedupe_key FROM _berth_jobs WHERE id = ? AND queue = ?',
  revive: `UPDATE _berth_jobs SET state = 'waiting', attempts = 0, run_at = @now, result = NULL, finished_at = NULL,
      progress = NULL, updated_at = @now
    WHERE seq = @seq`,
  stats: 'SELECT state, count FROM _berth_job_counts WHERE queue = ?',
  nextLeaseExpiry: `SELECT min(lease_expires_at) AS at FROM _berth_jobs
    WHERE queue = ? AND state = 'active' AND lease_expires_at > ?`,
  nextDue: `SELECT min(run_at) AS at FROM _berth_jobs WHERE queue = ? AND state = 'waiting' AND run_at > ?`,
};

/**
 * One statement leases the next `count` due jobs; RETURNING gives them in no
 * particular order. The limit is spelled into the text (one cached statement
 * per count): with a bound limit SQLite plans the IN subquery several times slower.
 */
export function claimSql(count: number): string {
  return `UPDATE _berth_jobs SET
      state = 'active', attempts = attempts + 1, leases = leases + 1,
      lease_expires_at = @now + coalesce(@leaseMs, lease_ms), updated_at = @now
    WHERE seq IN (
      SELECT seq FROM _berth_jobs WHERE queue = @queue AND state = 'waiting' AND run_at <= @now
      ORDER BY priority DESC, run_at, seq LIMIT ${Math.trunc(count)})
    RETURNING ${JOB_COLUMN_LIST}`;
}

/** The purge statement of one state; `state` is a validated job state, so it can be spelled into the text. */
export function purgeSql(state: JobState): string {
  return `DELETE FROM _berth_jobs WHERE queue = @queue AND state = '${state}'
    AND finished_at IS NOT NULL AND finished_at < @before`;
}
