import type { BerthLogger, DocumentValue, JobEvent, JobEventListener, SubscribeOptions } from '@berth/core';
import { JobEventHub, jobErrorOf, type StoredJobError } from '@berth/core/adapter';
import { decodeDocument } from './redis-queue-rows.js';

/** How a hub listens to its queue's event channel: from its first subscriber to its last. */
export interface RedisEventListening {
  start(onMessage: (message: string) => void): void;
  stop(): void;
}

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
 * The events of one queue: core's hub for this process's changes, and the
 * queue's event channel for every other process's. The channel is listened
 * to only while the hub has a subscriber; a message this backend published
 * (its `origin` first) is dropped, since its events were emitted locally
 * when the change was stored.
 */
export class RedisQueueEventHub extends JobEventHub {
  private subscribers = 0;
  private readonly own: string;

  constructor(
    queue: string,
    private readonly log: BerthLogger,
    origin: string,
    private readonly listening: RedisEventListening,
  ) {
    super(queue, log);
    this.own = `["${origin}",`;
  }

  override subscribe(listener: JobEventListener, options?: SubscribeOptions): () => void {
    const unsubscribe = super.subscribe(listener, options);
    this.subscribers += 1;
    if (this.subscribers === 1) this.listening.start((message) => this.receive(message));
    let subscribed = true;
    return () => {
      unsubscribe();
      if (!subscribed) return;
      subscribed = false;
      this.subscribers -= 1;
      if (this.subscribers === 0) this.listening.stop();
    };
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
      this.log.warn(`berth: an unreadable event message on queue ${this.queue} was ignored`, {
        error,
        queue: this.queue,
      });
      return;
    }
    for (const event of events) this.emit(event);
  }
}
