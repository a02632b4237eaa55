import type { BerthLogger, DocumentValue, JobEvent, JobEventListener, SubscribeOptions } from '@berth/core';
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
  /** Up to `count` entries (id and text) from `start`, in XRANGE's syntax (`(<id>` excludes it). */
  read(start: string, count: number): Promise<(readonly [string, string])[]>;
}

/** Entries read per XRANGE. */
const READ_BATCH = 500;

/**
 * One event as the scripts publish it: type, job id, then the type's
 * fields (see `event()` in the Lua library).
 */
type PublishedEvent = readonly [JobEvent['type'], string, ...unknown[]];

/** A script's message: the origin of the backend that ran it, the server's time, its events in order. */
type PublishedMessage = readonly [string, number, ...PublishedEvent[]];

function toEvent(published: PublishedEvent, queue: string, at: Date): JobEvent {
  const [type, jobId, attempt, value, retryAt] = published as [JobEvent['type'], string, number, unknown, number];
  const base = { queue, jobId, at };
  switch (type) {
    case 'enqueued':
      return { type, ...base, runAt: new Date(attempt) };
    case 'started':
    case 'completed':
    case 'expired':
      return { type, ...base, attempt };
    case 'progress':
      return { type, ...base, attempt, progress: value as DocumentValue };
    case 'failed':
      return { type, ...base, attempt, error: jobErrorOf(value as StoredJobError), retryAt: new Date(retryAt) };
    case 'dead':
      return { type, ...base, attempt, error: jobErrorOf(value as StoredJobError) };
    default:
      return { type, ...base };
  }
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
    private readonly onEntry: (text: string) => void,
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
        for (const [id, text] of entries) {
          if (this.stopped) return;
          this.start = `(${id}`;
          this.onEntry(text);
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
 * subscriber. An entry this backend appended (its `origin` first) is
 * skipped: its events were emitted locally when the change was stored.
 */
export class RedisQueueEventHub extends JobEventHub {
  private subscribers = 0;
  private tail: LogTail | undefined;
  private readonly own: string;

  constructor(
    queue: string,
    private readonly reporter: BerthLogger,
    origin: string,
    private readonly eventLog: RedisEventLog,
  ) {
    super(queue, reporter);
    this.own = `["${origin}",`;
  }

  override subscribe(listener: JobEventListener, options?: SubscribeOptions): () => void {
    const unsubscribe = super.subscribe(listener, options);
    this.subscribers += 1;
    if (this.subscribers === 1) this.listen();
    let subscribed = true;
    return () => {
      unsubscribe();
      if (!subscribed) return;
      subscribed = false;
      this.subscribers -= 1;
      if (this.subscribers === 0) this.unlisten();
    };
  }

  private listen(): void {
    const subscribedAt = Date.now();
    const tail = new LogTail(this.eventLog, (text) => this.receive(text));
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

  /** Emits the events of a message another backend published. */
  private receive(message: string): void {
    if (message.startsWith(this.own)) return;
    let events: JobEvent[];
    try {
      const [, now, ...published] = decodeDocument<PublishedMessage>(message);
      const at = new Date(now);
      events = published.map((event) => toEvent(event, this.queue, at));
    } catch (error) {
      this.reporter.warn(`berth: an unreadable event message on queue ${this.queue} was ignored`, {
        error,
        queue: this.queue,
      });
      return;
    }
    for (const event of events) this.emit(event);
  }
}
