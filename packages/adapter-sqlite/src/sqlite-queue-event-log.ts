import type { JobError, JobEvent, JobEventType } from '@berth/core';
import { fromJsonValue, jobErrorOf, type StoredJobError, storedJobError } from '@berth/core/adapter';
import type { SqliteConnection } from './sqlite-connection.js';

/**
 * The rows of `_berth_job_events` a write transaction adds: one per queue it
 * changed, holding that queue's events as a JSON array, tagged with the
 * backend that wrote them. One INSERT per transaction and queue, whatever
 * the number of jobs, keeps the write path cheap; backends of other
 * processes read the rows after the commit (sqlite-queue-event-feed.ts).
 */
export const EVENT_LOG_SQL = {
  insert: 'INSERT INTO _berth_job_events (queue, origin, events) VALUES (?, ?, ?)',
  prune: 'DELETE FROM _berth_job_events WHERE seq <= ?',
  last: 'SELECT coalesce(max(seq), 0) AS seq FROM _berth_job_events',
  first: 'SELECT min(seq) AS seq FROM _berth_job_events',
  after: 'SELECT seq, queue, origin, events FROM _berth_job_events WHERE seq > ? ORDER BY seq LIMIT ?',
} as const;

/**
 * Rows kept: listeners that fall further behind than this (a process
 * blocked for a long time, thousands of transactions meanwhile) lose events,
 * and say so. Old rows go in one range DELETE every `EVENT_LOG_PRUNE_EVERY`
 * inserts of a backend, so the table stays between KEEP and KEEP + EVERY
 * rows per writer.
 */
const EVENT_LOG_KEEP = 10_000;
const EVENT_LOG_PRUNE_EVERY = 1_000;

/** A row of `_berth_job_events`. */
export interface EventLogRow {
  readonly seq: number;
  readonly queue: string;
  readonly origin: string;
  readonly events: string;
}

/** An event as stored: times in epoch milliseconds, `queue` on the row, `progress` as its document JSON. */
interface StoredEvent {
  readonly type: JobEventType;
  readonly jobId: string;
  readonly at: number;
  readonly attempt?: number;
  readonly runAt?: number;
  readonly retryAt?: number;
  readonly error?: StoredJobError;
  readonly progress?: unknown;
}

/** The stored JSON of one event; `progressText` is the progress value's document JSON (sqlite-json.ts). */
export function eventText(event: JobEvent, progressText?: string): string {
  const stored: { -readonly [K in keyof StoredEvent]: StoredEvent[K] } = {
    type: event.type,
    jobId: event.jobId,
    at: event.at.getTime(),
  };
  if ('attempt' in event) stored.attempt = event.attempt;
  if ('runAt' in event) stored.runAt = event.runAt.getTime();
  if ('retryAt' in event) stored.retryAt = event.retryAt.getTime();
  if ('error' in event) stored.error = storedJobError(event.error);
  const text = JSON.stringify(stored);
  return progressText === undefined ? text : `${text.slice(0, -1)},"progress":${progressText}}`;
}

/** The events of a row, as a local subscriber gets them (Dates revived). */
export function eventsOf(row: EventLogRow): JobEvent[] {
  const stored = JSON.parse(row.events) as StoredEvent[];
  const dated = row.events.includes('"$date"');
  return stored.map((item) => {
    const base = { queue: row.queue, jobId: item.jobId, at: new Date(item.at) };
    const attempt = item.attempt as number;
    switch (item.type) {
      case 'enqueued':
        return { type: 'enqueued', ...base, runAt: new Date(item.runAt as number) };
      case 'started':
      case 'completed':
      case 'expired':
        return { type: item.type, ...base, attempt };
      case 'progress': {
        const progress = dated ? fromJsonValue(item.progress) : item.progress;
        return { type: 'progress', ...base, attempt, progress } as JobEvent;
      }
      case 'failed': {
        const error: JobError = jobErrorOf(item.error as StoredJobError);
        return { type: 'failed', ...base, attempt, error, retryAt: new Date(item.retryAt as number) };
      }
      case 'dead':
        return { type: 'dead', ...base, attempt, error: jobErrorOf(item.error as StoredJobError) };
      default:
        return { type: item.type, ...base };
    }
  });
}

/**
 * Writes the events a transaction published, one row per queue, inside that
 * transaction (a rollback takes them back with the change), and every
 * `EVENT_LOG_PRUNE_EVERY` rows this writer added, deletes the rows older than
 * the last `EVENT_LOG_KEEP`. Returns the rows written, for the prune count.
 */
export function writeEvents(
  connection: SqliteConnection,
  origin: string,
  published: ReadonlyMap<string, readonly string[]>,
  written: number,
): number {
  let rows = 0;
  for (const [queue, events] of published) {
    if (events.length === 0) continue;
    const { lastInsertRowid } = connection.run(EVENT_LOG_SQL.insert, [queue, origin, `[${events.join(',')}]`]);
    rows += 1;
    if ((written + rows) % EVENT_LOG_PRUNE_EVERY === 0) {
      connection.run(EVENT_LOG_SQL.prune, [Number(lastInsertRowid) - EVENT_LOG_KEEP]);
    }
  }
  return rows;
}
