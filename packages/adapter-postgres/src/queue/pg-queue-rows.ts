import type { DocumentValue, Job, JobState, Lease } from '@berth/core';
import { jobErrorOf, parseDocument, type StoredJobError, stringifyDocument } from '@berth/core/adapter';

/** A job row as pg returns it: bigint columns arrive as strings. */
export interface JobRow {
  readonly seq: string;
  readonly id: string;
  readonly queue: string;
  readonly state: JobState;
  readonly priority: number;
  readonly run_at: string;
  readonly attempts: number;
  readonly max_attempts: number;
  readonly lease_ms: string;
  readonly backoff: string | null;
  readonly dedupe_key: string | null;
  readonly payload: string;
  readonly errors: readonly StoredJobError[];
  readonly result: string | null;
  readonly progress: string | null;
  readonly leases: string;
  readonly lease_expires_at: string | null;
  readonly created_at: string;
  readonly updated_at: string;
  readonly finished_at: string | null;
  readonly timeout_ms: string | null;
}

/** Every column of both job tables, in table order. */
export const JOB_COLUMNS: readonly (keyof JobRow)[] = [
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
  'progress',
  'leases',
  'lease_expires_at',
  'created_at',
  'updated_at',
  'finished_at',
  'timeout_ms',
];

/** One failed attempt as kept in the `errors` jsonb array (`at` in epoch milliseconds). */
export const encodeDocument: (value: unknown) => string = stringifyDocument;

export function decodeDocument<T>(text: string): T {
  const parsed: unknown = JSON.parse(text);
  return (text.includes('"$date"') ? parseDocument<T>(text) : parsed) as T;
}

function time(value: string | null): Date | undefined {
  return value === null ? undefined : new Date(Number(value));
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
    runAt: new Date(Number(row.run_at)),
    dedupeKey: row.dedupe_key ?? undefined,
    leaseMs: Number(row.lease_ms),
    errors: row.errors.map(jobErrorOf),
    result: row.result === null ? undefined : decodeDocument<DocumentValue>(row.result),
    progress: row.progress === null ? undefined : decodeDocument<DocumentValue>(row.progress),
    timeoutMs: row.timeout_ms === null ? undefined : Number(row.timeout_ms),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    finishedAt: time(row.finished_at),
    leaseExpiresAt: time(row.lease_expires_at),
  };
}

/**
 * The fencing token of a job's current lease: its row number and lease
 * count. Each claim counts one more lease in the row it locks, so no two
 * leases (of one job or of two) share a token.
 */
export function toLease<T>(row: JobRow): Lease<T> {
  return { job: toJob<T>(row), token: tokenOf(row), expiresAt: new Date(Number(row.lease_expires_at)) };
}

/** The token of a row's current lease: `<seq>.<leases>`, its row and its lease count. */
export function tokenOf(row: Pick<JobRow, 'seq' | 'leases'>): string {
  return `${row.seq}.${row.leases}`;
}

/** Delivery order: highest priority, then earliest due, then enqueue order. */
export function deliveryOrder(a: JobRow, b: JobRow): number {
  return b.priority - a.priority || Number(a.run_at) - Number(b.run_at) || Number(a.seq) - Number(b.seq);
}

/** Why a lease is not valid, from the job's row (`undefined` when it is missing). */
export function invalidLease(
  row: Pick<JobRow, 'seq' | 'state' | 'leases' | 'lease_expires_at'> | undefined,
  token: string,
  now: number,
): string {
  if (row === undefined) return 'the job no longer exists';
  if (row.state !== 'active') return `the job is ${row.state}`;
  if (tokenOf(row) !== token) return 'the job was leased again with another token';
  if (Number(row.lease_expires_at ?? 0) <= now) return 'the lease expired';
  return 'the lease is no longer valid';
}
