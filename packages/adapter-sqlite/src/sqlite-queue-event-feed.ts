import type { BerthLogger } from '@berth/core';
import type { JobEventHub } from '@berth/core/adapter';
import type { SqliteConnection } from './sqlite-connection.js';
import {
  EVENT_LOG_SQL,
  type EventLogRow,
  eventsOf,
  LISTENER_HEARTBEAT_MS,
  LISTENER_SQL,
  LISTENER_STALE_MS,
} from './sqlite-queue-event-log.js';

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
 *
 * While it polls, the backend is listed in `_berth_event_listeners` (writers
 * add events only then; see `LISTENER_SQL`), through a connection of its
 * own: the backend's connection may be inside a transaction, which the
 * listing would join.
 */
export class SqliteEventFeed {
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The last row read; rows from the one after it are new. */
  private lastSeq = 0;
  private dataVersion: unknown;
  /** Per queue with subscribers: how many, and the last row committed before the first subscribed. */
  private readonly queues = new Map<string, { count: number; from: number }>();
  private failing = false;
  /** The feed's own connection; `null` when none can exist (`:memory:`). */
  private connection: SqliteConnection | null | undefined;
  /** When this backend last listed itself as a listener; 0: it is not listed. */
  private listedAt = 0;

  constructor(
    /** This backend's tag on the rows it writes. */
    private readonly origin: string,
    /** Opens a second connection to the file; `undefined` when none can exist (`:memory:`). */
    private readonly openConnection: () => SqliteConnection | undefined,
    /** The event hub of a queue. */
    private readonly hub: (queue: string) => JobEventHub,
    private readonly logger: BerthLogger,
  ) {}

  /** A subscription to `queue` began: the first one of the backend starts polling. */
  subscribed(queue: string): void {
    const connection = this.connectionOrUndefined();
    // Listed before reading where the log ends: every later commit writes its events.
    if (connection !== undefined && this.listedAt === 0) this.list(connection, Date.now());
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
    this.connection?.close();
    this.connection = undefined;
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dataVersion = undefined;
    if (this.listedAt === 0 || !this.connection) return;
    this.listedAt = 0;
    try {
      this.connection.run(LISTENER_SQL.unlist, [this.origin]);
    } catch {
      // Writers stop counting the row once it is stale.
    }
  }

  private connectionOrUndefined(): SqliteConnection | undefined {
    try {
      if (this.connection === undefined) this.connection = this.openConnection() ?? null;
      return this.connection ?? undefined;
    } catch {
      // The backend cannot open (closed, or its schema refused): no events to read.
      return undefined;
    }
  }

  /**
   * Lists this backend as a listener (or refreshes its heartbeat), and
   * every heartbeat forgets listeners gone long ago. A listing that fails
   * (the write lock held past the busy timeout) is tried again at the next poll.
   */
  private list(connection: SqliteConnection, now: number): void {
    try {
      connection.run(LISTENER_SQL.list, [this.origin, now]);
      if (this.listedAt !== 0) connection.run(LISTENER_SQL.forget, [now - 10 * LISTENER_STALE_MS]);
      this.listedAt = now;
    } catch (error) {
      this.logger.warn('berth: listing this backend as a SQLite queue event listener failed; retrying', { error });
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
      const connection = this.connectionOrUndefined();
      if (connection !== undefined) {
        this.heartbeat(connection);
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

  /** Keeps this backend's listing fresh; one older than `LISTENER_STALE_MS` means writers may have skipped events. */
  private heartbeat(connection: SqliteConnection): void {
    const now = Date.now();
    if (this.listedAt !== 0 && now - this.listedAt < LISTENER_HEARTBEAT_MS) return;
    if (this.listedAt !== 0 && now - this.listedAt >= LISTENER_STALE_MS) {
      this.logger.warn(
        `berth: this process did not refresh its SQLite queue event listing for ${now - this.listedAt} ms (a blocked event loop?); events of other processes may be lost`,
      );
    }
    this.list(connection, now);
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
