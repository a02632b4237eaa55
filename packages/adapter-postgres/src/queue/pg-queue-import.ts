import type { JobState } from '@berth/core';
import { type PreparedImportJob, prepareImportJobs, storedJobError } from '@berth/core/adapter';
import type { PgQueryable } from '../pg-session.js';
import { batchedEventPayload, type PgEventTag, publishedEvents } from './pg-queue-events.js';
import { COUNT_SHARDS } from './pg-queue-migrations.js';
import { encodeDocument } from './pg-queue-rows.js';
import { NOW } from './pg-queue-sql.js';

/** A job of `importJobs`, checked and encoded as its row stores it. */
export interface ImportedJob {
  readonly id: string;
  readonly state: JobState;
  readonly priority: number;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly runAt: number;
  readonly dedupeKey: string | null;
  readonly leaseMs: number;
  readonly errors: string;
  readonly payload: string;
  readonly result: string | null;
  readonly progress: string | null;
  readonly timeoutMs: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt: number | null;
}

function encodeJob(job: PreparedImportJob): ImportedJob {
  return {
    id: job.id,
    state: job.state,
    priority: job.priority,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    runAt: job.runAt.getTime(),
    dedupeKey: job.dedupeKey ?? null,
    leaseMs: job.leaseMs,
    errors: JSON.stringify(job.errors.map(storedJobError)),
    payload: encodeDocument(job.payload),
    result: job.result === undefined ? null : encodeDocument(job.result),
    progress: job.progress === undefined ? null : encodeDocument(job.progress),
    timeoutMs: job.timeoutMs ?? null,
    createdAt: job.createdAt.getTime(),
    updatedAt: job.updatedAt.getTime(),
    finishedAt: job.finishedAt?.getTime() ?? null,
  };
}

/**
 * Checks the jobs of `importJobs` as every adapter does (core's
 * `prepareImportJobs`: VALIDATION naming the path, `0.attempts`) and
 * encodes them as their rows store them.
 */
export function checkImportedJobs(jobs: unknown, maxBytes: number): ImportedJob[] {
  return prepareImportJobs(jobs, maxBytes).map(encodeJob);
}

/** The statement's input: one array per column, in import order, from parameter $2 ($1 is the queue). */
const INPUT = `SELECT * FROM unnest($2::text[], $3::text[], $4::integer[], $5::integer[], $6::integer[], $7::bigint[],
    $8::text[], $9::bigint[], $10::jsonb[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::bigint[],
    $16::bigint[], $17::bigint[])
  WITH ORDINALITY AS i(id, state, priority, attempts, max_attempts, run_at, dedupe_key, lease_ms, errors, payload,
    result, progress, timeout_ms, created_at, updated_at, finished_at, ord)`;

const INSERTED_COLUMNS = `seq, id, queue, state, priority, run_at, attempts, max_attempts, lease_ms, dedupe_key, payload,
  errors, result, progress, created_at, updated_at, finished_at, timeout_ms`;

/** What each inserted row takes from the input: a fresh `seq` from `sequence` (a schema-qualified name), then the job. */
const selectedColumns = (
  sequence: string,
) => `nextval('${sequence}'), i.id, $1, i.state, i.priority, i.run_at, i.attempts, i.max_attempts, i.lease_ms,
  i.dedupe_key, i.payload, i.errors, i.result, i.progress, i.created_at, i.updated_at, i.finished_at, i.timeout_ms`;

function inputValues(queue: string, jobs: readonly ImportedJob[]): unknown[] {
  return [
    queue,
    jobs.map((job) => job.id),
    jobs.map((job) => job.state),
    jobs.map((job) => job.priority),
    jobs.map((job) => job.attempts),
    jobs.map((job) => job.maxAttempts),
    jobs.map((job) => job.runAt),
    jobs.map((job) => job.dedupeKey),
    jobs.map((job) => job.leaseMs),
    jobs.map((job) => job.errors),
    jobs.map((job) => job.payload),
    jobs.map((job) => job.result),
    jobs.map((job) => job.progress),
    jobs.map((job) => job.timeoutMs),
    jobs.map((job) => job.createdAt),
    jobs.map((job) => job.updatedAt),
    jobs.map((job) => job.finishedAt),
  ];
}

/** What an import stored: the waiting jobs (id and due time), how many jobs in all, and the server's time. */
export interface ImportedRows {
  readonly waiting: ReadonlyMap<string, number>;
  readonly imported: number;
  readonly now: number;
}

/**
 * Inserts the jobs (one transaction's client): waiting ones into the hot
 * table, in import order (their `seq`, the last key of delivery order), a
 * held id or live dedupe key skipping the job (ON CONFLICT DO NOTHING);
 * finished ones into `_berth_jobs_done`. Ids are global to the schema (both
 * tables' primary key), so an id held by any queue skips the job. A NOTIFY
 * wakes workers of every backend when a waiting job is due, and each
 * waiting job publishes its `enqueued` (as an enqueue does).
 */
export async function insertImportedJobs(
  client: PgQueryable,
  tables: { readonly jobs: string; readonly done: string; readonly counts: string; readonly sequence: string },
  queue: string,
  channel: string,
  events: PgEventTag,
  jobs: readonly ImportedJob[],
): Promise<ImportedRows> {
  const columns = selectedColumns(tables.sequence);
  const waiting = jobs.filter((job) => job.state === 'waiting');
  const finished = jobs.filter((job) => job.state !== 'waiting');
  const due = new Map<string, number>();
  let now = Date.now();
  if (waiting.length > 0) {
    const rows = await client.query<{ id: string; run_at: string; now: string }>(
      `WITH input AS (${INPUT}),
        inserted AS (
          INSERT INTO ${tables.jobs} (${INSERTED_COLUMNS})
          SELECT ${columns} FROM input i
          WHERE NOT EXISTS (SELECT 1 FROM ${tables.done} d WHERE d.id = i.id) ORDER BY i.ord
          ON CONFLICT DO NOTHING RETURNING id, run_at),
        wake AS (SELECT pg_notify($18, $1) WHERE EXISTS (SELECT 1 FROM inserted WHERE run_at <= ${NOW})),
        published AS (${publishedEvents('$19', `SELECT ${batchedEventPayload('$20', 'enqueued', '$1', 'id', NOW, ['run_at'])} FROM inserted`)})
      SELECT id, run_at, ${NOW} AS now, (SELECT count(*) FROM wake) AS woken,
        (SELECT count(*) FROM published) AS published FROM inserted`,
      [...inputValues(queue, waiting), channel, events.channel, events.origin],
    );
    for (const row of rows) {
      due.set(row.id, Number(row.run_at));
      now = Number(row.now);
    }
  }
  let imported = due.size;
  if (finished.length > 0) {
    const [row] = await client.query<{ count: string }>(
      `WITH input AS (${INPUT}),
        inserted AS (
          INSERT INTO ${tables.done} (${INSERTED_COLUMNS})
          SELECT ${columns} FROM input i
          WHERE NOT EXISTS (SELECT 1 FROM ${tables.jobs} h WHERE h.id = i.id) ORDER BY i.ord
          ON CONFLICT DO NOTHING RETURNING 1)
      SELECT count(*) AS count FROM inserted`,
      inputValues(queue, finished),
    );
    const count = Number(row?.count ?? 0);
    imported += count;
    if (count > 0) {
      // The finished table's insert trigger counts each row as a job leaving the hot table
      // (one fewer live job), as finishing one does: these never were live, so give them back.
      await client.query(
        `INSERT INTO ${tables.counts} AS c (queue, state, shard, count)
         VALUES ($1, 'live', pg_backend_pid() % ${COUNT_SHARDS}, $2::bigint)
         ON CONFLICT (queue, state, shard) DO UPDATE SET count = c.count + excluded.count`,
        [queue, count],
      );
    }
  }
  return { waiting: due, imported, now };
}
