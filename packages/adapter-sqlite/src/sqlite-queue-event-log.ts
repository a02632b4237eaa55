import type { DocumentValue, JobEvent, JobEventType } from '@berth/core';
import { fromJsonValue, jobErrorOf, type StoredJobError } from '@berth/core/adapter';
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
 * The listeners' register, `_berth_event_listeners`. A backend with
 * subscribers lists itself (and refreshes `seen_at` every
 * `LISTENER_HEARTBEAT_MS`) before it reads where the log ends, and a
 * writer, holding the write lock, looks for a live listener other than
 * itself before its first event: SQLite's one writer at a time orders the
 * two, so every transaction that commits after a listener listed itself
 * writes its events. A listener not seen for `LISTENER_STALE_MS` (a process
 * that died without closing) no longer counts.
 */
export const LISTENER_SQL = {
  list: `INSERT INTO _berth_event_listeners (origin, seen_at) VALUES (?, ?)
    ON CONFLICT (origin) DO UPDATE SET seen_at = excluded.seen_at`,
  unlist: 'DELETE FROM _berth_event_listeners WHERE origin = ?',
  /** Drops the rows of listeners gone long ago (each heartbeat). */
  forget: 'DELETE FROM _berth_event_listeners WHERE seen_at < ?',
  anyOther: 'SELECT 1 FROM _berth_event_listeners WHERE seen_at >= ? AND origin <> ? LIMIT 1',
} as const;

export const LISTENER_HEARTBEAT_MS = 10_000;
export const LISTENER_STALE_MS = 60_000;

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

/**
 * The stored JSON of one event, an array: `[type, jobId, at, …rest]`, times
 * in epoch milliseconds, and by type the rest: `enqueued` runAt; `started`,
 * `completed`, `expired` attempt; `progress` attempt, progress (its
 * document JSON, sqlite-json.ts); `failed` attempt, error (its `errors`
 * JSON), retryAt; `dead` attempt, error; `released`, `cancelled`,
 * `retried` nothing. Strings in `rest` are JSON texts, written as they are.
 * Built by hand, without an event object: writers build one per change.
 */
export function eventText(type: JobEventType, jobId: string, at: number, ...rest: (number | string)[]): string {
  let text = `["${type}",${JSON.stringify(jobId)},${at}`;
  for (const value of rest) text += `,${value}`;
  return `${text}]`;
}

type StoredEvent = [JobEventType, string, number, ...unknown[]];

/** The events of a row, as a local subscriber gets them (Dates revived). */
export function eventsOf(row: EventLogRow): JobEvent[] {
  const stored = JSON.parse(row.events) as StoredEvent[];
  const dated = row.events.includes('"$date"');
  const queue = row.queue;
  return stored.map(([type, jobId, time, first, second, third]): JobEvent => {
    const at = new Date(time);
    switch (type) {
      case 'enqueued':
        return { type, queue, jobId, at, runAt: new Date(first as number) };
      case 'started':
      case 'completed':
      case 'expired':
        return { type, queue, jobId, at, attempt: first as number };
      case 'progress': {
        const progress = (dated ? fromJsonValue(second) : second) as DocumentValue;
        return { type, queue, jobId, at, attempt: first as number, progress };
      }
      case 'failed': {
        const error = jobErrorOf(second as StoredJobError);
        return { type, queue, jobId, at, attempt: first as number, error, retryAt: new Date(third as number) };
      }
      case 'dead':
        return { type, queue, jobId, at, attempt: first as number, error: jobErrorOf(second as StoredJobError) };
      default:
        return { type, queue, jobId, at };
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
