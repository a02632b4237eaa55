import type { BerthLogger, DocumentValue, JobEvent } from '@berth/core';
import { JobEventHub, jobErrorOf, type StoredJobError } from '@berth/core/adapter';
import { decodeDocument } from './redis-queue-rows.js';

/** A queue's event log as a hub reads it (see `publish()` in the Lua library). */
export interface RedisEventLog {
  /**
   * Subscribes to the queue's events channel: `onEntry` on each entry
   * appended, and after a reconnection. Resolves once the subscription took effect.
   */
  listen(onEntry: () => void): Promise<void>;
  unlisten(): void;
  /** The server's clock, in epoch milliseconds. */
  serverTime(): Promise<number>;
  /**
   * Up to `count` entries from `start`, in XRANGE's syntax (`(<id>`
   * excludes it): each its id and fields (the origin, then the events).
   */
  read(start: string, count: number): Promise<(readonly [string, readonly string[]])[]>;
}

/** Entries read per XRANGE. */
const READ_BATCH = 500;

/** How many fields follow the job id of each type of event in an entry. */
const FIELDS: Readonly<Record<JobEvent['type'], number>> = {
  enqueued: 1,
  started: 1,
  progress: 2,
  completed: 1,
  failed: 3,
  dead: 2,
  expired: 1,
  released: 0,
  cancelled: 0,
  retried: 0,
};

/**
 * The events of one log entry: the server's time, then each event's type,
 * job id and fields, joined with U+0000 (see `event()` in the Lua library).
 */
function eventsOf(entry: string, queue: string): JobEvent[] {
  const fields = entry.split('\u0000');
  const at = new Date(Number(fields[0]));
  const events: JobEvent[] = [];
  for (let index = 1; index < fields.length; ) {
    const type = fields[index] as JobEvent['type'];
    if (!Object.hasOwn(FIELDS, type)) throw new Error(`unknown event type ${JSON.stringify(type)}`);
    const base = { queue, jobId: fields[index + 1] as string, at };
    const first = fields[index + 2] ?? '';
    const second = fields[index + 3] ?? '';
    const third = fields[index + 4] ?? '';
    index += 2 + FIELDS[type];
    switch (type) {
      case 'enqueued':
        events.push({ type, ...base, runAt: new Date(Number(first)) });
        break;
      case 'started':
      case 'completed':
      case 'expired':
        events.push({ type, ...base, attempt: Number(first) });
        break;
      case 'progress':
        events.push({ type, ...base, attempt: Number(first), progress: decodeDocument<DocumentValue>(second) });
        break;
      case 'failed':
        events.push({
          type,
          ...base,
          attempt: Number(first),
          error: jobErrorOf(JSON.parse(second) as StoredJobError),
          retryAt: new Date(Number(third)),
        });
        break;
      case 'dead':
        events.push({ type, ...base, attempt: Number(first), error: jobErrorOf(JSON.parse(second) as StoredJobError) });
        break;
      default:
        events.push({ type, ...base });
    }
  }
  return events;
}

/**
 * Where a listening hub is in its queue's event log. It starts at the
 * server's time of the first subscribe (the subscription reaches the
 * server a moment later: what was appended meanwhile is read back from the
 * log), then reads after the last entry it read, whenever an entry is
 * announced or the connection is back.
 */
class LogTail {
  private start: string | undefined;
  private reading = false;
  private again = false;
  stopped = false;

  constructor(
    private readonly log: RedisEventLog,
    private readonly onEntry: (fields: readonly string[]) => void,
  ) {}

  /**
   * Finds its start on the server's clock (up to a round trip earlier: none
   * is missed), then, once the subscription took effect (an entry appended
   * later is announced), reads what was appended since the start.
   */
  async begin(subscribedAt: number, subscribed: Promise<void>): Promise<void> {
    let start = subscribedAt;
    try {
      const server = await this.log.serverTime();
      start = subscribedAt + server - Date.now();
    } catch {
      // Without the server's clock, this machine's; the connection is lost anyway, and read from once it is back.
    }
    this.start = `${Math.max(0, Math.floor(start))}-0`;
    await subscribed;
    await this.read();
  }

  /** Reads every entry after the last one read (one reader at a time; an announcement meanwhile reads again). */
  async read(): Promise<void> {
    if (this.start === undefined || this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    try {
      for (;;) {
        this.again = false;
        const entries = await this.log.read(this.start, READ_BATCH);
        for (const [id, fields] of entries) {
          if (this.stopped) return;
          this.start = `(${id}`;
          this.onEntry(fields);
        }
        if (entries.length < READ_BATCH && !this.again) return;
      }
    } catch {
      // The connection is lost: the subscriber reports it, and reads again once it is back.
    } finally {
      this.reading = false;
    }
  }
}

/**
 * The events of one queue: core's hub for this process's changes, and the
 * queue's event log for every other process's, read while the hub has a
 * subscriber (the hub starts and stops the reading). An entry this backend appended (its `origin` first) is
 * skipped: its events were emitted locally when the change was stored.
 */
export class RedisQueueEventFeed {
  /** The queue's hub: emitted into for this backend's changes, and for other backends' while it has subscribers. */
  readonly hub: JobEventHub;
  private tail: LogTail | undefined;

  constructor(
    private readonly queue: string,
    private readonly reporter: BerthLogger,
    private readonly origin: string,
    private readonly eventLog: RedisEventLog,
  ) {
    this.hub = new JobEventHub(queue, reporter, { start: () => this.listen(), stop: () => this.unlisten() });
  }

  private listen(): void {
    const subscribedAt = Date.now();
    const tail = new LogTail(this.eventLog, (fields) => this.receive(fields));
    this.tail = tail;
    void tail.begin(
      subscribedAt,
      this.eventLog.listen(() => void tail.read()),
    );
  }

  private unlisten(): void {
    if (this.tail !== undefined) this.tail.stopped = true;
    this.tail = undefined;
    this.eventLog.unlisten();
  }

  /** Emits the events of an entry another backend appended. */
  private receive(fields: readonly string[]): void {
    const [origin, entry = ''] = fields;
    if (origin === this.origin) return;
    let events: JobEvent[];
    try {
      events = eventsOf(entry, this.queue);
    } catch (error) {
      this.reporter.warn(`berth: an unreadable entry of queue ${this.queue}'s event log was ignored`, {
        error,
        queue: this.queue,
      });
      return;
    }
    for (const event of events) this.hub.emit(event);
  }
}
