import type { BerthLogger } from '@berth/core';
import type { JobEventHub } from '@berth/core/adapter';
import type { SqliteConnection } from './sqlite-connection.js';
import { EVENT_LOG_SQL, type EventLogRow, eventsOf } from './sqlite-queue-event-log.js';

/** How often a listening backend asks SQLite whether another connection committed. */
const POLL_MS = 25;
/** Rows read per query: a listener far behind catches up in steps. */
const BATCH = 500;

/**
 * The events other backends (in this process or others) wrote to
 * `_berth_job_events`, delivered to the subscribers of this backend's
 * queues. SQLite cannot signal another process, so the feed polls while the
 * backend has subscribers: every `POLL_MS`, `PRAGMA data_version` (answered
 * from the connection's memory, no I/O while nothing changed) tells whether
 * another connection committed, and only then are the new rows read, from
 * the last one seen, in commit order. Rows this backend wrote are skipped:
 * its own events were emitted when it made the change.
 */
export class SqliteEventFeed {
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The last row read; rows from the one after it are new. */
  private lastSeq = 0;
  private dataVersion: unknown;
  /** Per queue with subscribers: how many, and the last row committed before the first subscribed. */
  private readonly queues = new Map<string, { count: number; from: number }>();
  private failing = false;

  constructor(
    /** This backend's tag on the rows it writes. */
    private readonly origin: string,
    /** A connection that reads what is committed; `undefined` when none can exist (`:memory:`). */
    private readonly reader: () => SqliteConnection | undefined,
    /** The event hub of a queue. */
    private readonly hub: (queue: string) => JobEventHub,
    private readonly logger: BerthLogger,
  ) {}

  /** A subscription to `queue` began: the first one of the backend starts polling. */
  subscribed(queue: string): void {
    const connection = this.connectionOrUndefined();
    const last = connection === undefined ? 0 : this.lastCommitted(connection);
    const entry = this.queues.get(queue);
    if (entry !== undefined) entry.count += 1;
    else this.queues.set(queue, { count: 1, from: last });
    if (this.timer === undefined && connection !== undefined) {
      if (this.queues.size === 1 && entry === undefined) this.lastSeq = last;
      this.schedule();
    }
  }

  /** A subscription to `queue` ended: polling stops with the last one. */
  unsubscribed(queue: string): void {
    const entry = this.queues.get(queue);
    if (entry === undefined) return;
    entry.count -= 1;
    if (entry.count > 0) return;
    this.queues.delete(queue);
    if (this.queues.size === 0) this.stop();
  }

  /** Stops polling for good (the backend is closing). */
  close(): void {
    this.queues.clear();
    this.stop();
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dataVersion = undefined;
  }

  private connectionOrUndefined(): SqliteConnection | undefined {
    try {
      return this.reader();
    } catch {
      return undefined;
    }
  }

  private lastCommitted(connection: SqliteConnection): number {
    try {
      return connection.get<{ seq: number }>(EVENT_LOG_SQL.last)?.seq ?? 0;
    } catch {
      return this.lastSeq;
    }
  }

  private schedule(): void {
    // Referenced, as a LISTEN connection's socket is: a process that waits
    // for events stays up while it has subscribers, and not after.
    this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  private poll(): void {
    this.timer = undefined;
    if (this.queues.size === 0) return;
    try {
      const connection = this.reader();
      if (connection !== undefined) {
        const version = connection.get<{ data_version: number }>('PRAGMA data_version')?.data_version;
        if (version !== this.dataVersion) {
          this.dataVersion = version;
          this.read(connection);
        }
      }
      if (this.failing) this.logger.warn('berth: SQLite queue events are read again');
      this.failing = false;
    } catch (error) {
      // A locked or closed file: events are lost until it can be read again.
      if (!this.failing) this.logger.warn('berth: reading SQLite queue events failed; retrying', { error });
      this.failing = true;
    }
    if (this.queues.size > 0 && this.timer === undefined) this.schedule();
  }

  /** Delivers the rows committed after the last one read. */
  private read(connection: SqliteConnection): void {
    for (;;) {
      const rows = connection.all<EventLogRow>(EVENT_LOG_SQL.after, [this.lastSeq, BATCH]);
      const first = rows[0];
      if (first === undefined) return;
      if (first.seq > this.lastSeq + 1) this.lost(connection, first.seq);
      for (const row of rows) {
        this.lastSeq = row.seq;
        if (row.origin === this.origin) continue;
        const entry = this.queues.get(row.queue);
        if (entry === undefined || row.seq <= entry.from) continue;
        const hub = this.hub(row.queue);
        for (const event of eventsOf(row)) hub.emit(event);
        // A listener may have unsubscribed the last subscription (or closed the backend).
        if (this.queues.size === 0) return;
      }
      if (rows.length < BATCH) return;
    }
  }

  /** Rows between the last read and `next` were pruned before this backend read them. */
  private lost(connection: SqliteConnection, next: number): void {
    const first = connection.get<{ seq: number | null }>(EVENT_LOG_SQL.first)?.seq ?? next;
    // Without a prune, seq has no holes: a rolled-back insert's seq is taken again.
    if (first <= this.lastSeq + 1) return;
    this.logger.warn(
      `berth: ${next - this.lastSeq - 1} SQLite queue event rows were pruned before this backend read them; their events are lost`,
      { queue: [...this.queues.keys()].join(', ') },
    );
  }
}
