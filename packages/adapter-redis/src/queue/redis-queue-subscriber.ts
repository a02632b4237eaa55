import type { BerthLogger } from '@berth/core';
import type { Cluster, Redis } from 'ioredis';

/** What a channel's listener handles: its messages, and a reconnection (what was published meanwhile is lost). */
export interface RedisChannelListener {
  message(text: string): void;
  reconnected(): void;
  /** The queue whose job events the channel carries: their loss is reported (a lost wake-up is not: workers poll). */
  readonly eventsOf?: string | undefined;
}

/**
 * The one subscriber connection of a `RedisQueues`: a duplicate of the
 * client, opened when the first channel is listened to (a worker's
 * wake-ups, a subscriber's job events) and closed when the last is left,
 * so it never keeps an idle process alive. Scripts publish on a queue's
 * channels; after a reconnection ioredis subscribes again by itself, and
 * each listener hears of it, since what was published meanwhile is lost
 * (a sleeping worker looks for jobs, an event hub reads its log).
 */
export class RedisQueueSubscriber {
  private connection: Redis | Cluster | undefined;
  private readonly channels = new Map<string, RedisChannelListener>();
  private closed = false;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly logger: BerthLogger,
  ) {}

  /**
   * Subscribes to `channel` (once); resolves when the server confirmed the
   * subscription (never, when the queues were closed or the connection is
   * lost first: `reconnected` follows then).
   */
  listen(channel: string, listener: RedisChannelListener): Promise<void> {
    if (this.closed || this.channels.has(channel)) return new Promise(() => {});
    this.channels.set(channel, listener);
    return new Promise((resolve) => {
      this.open()
        .subscribe(channel)
        .then(
          () => resolve(),
          () => {
            // A failed subscription is retried by ioredis on reconnection; workers poll meanwhile.
          },
        );
    });
  }

  /** Unsubscribes from `channel`; the connection closes with its last channel. */
  unlisten(channel: string): void {
    if (!this.channels.delete(channel) || this.connection === undefined) return;
    if (this.channels.size > 0) {
      this.connection.unsubscribe(channel).catch(() => {
        // A lost connection forgets the subscription; a message that still arrives finds no listener.
      });
      return;
    }
    const connection = this.connection;
    this.connection = undefined;
    connection.disconnect();
  }

  private open(): Redis | Cluster {
    if (this.connection !== undefined) return this.connection;
    const connection = this.client.duplicate() as Redis | Cluster;
    let first = true;
    let up = false;
    connection.on('error', () => {});
    connection.on('message', (channel: string, message: string) => {
      this.channels.get(channel)?.message(message);
    });
    connection.on('ready', () => {
      up = true;
      if (first) {
        first = false;
        return;
      }
      // ioredis subscribes again by itself; once this SUBSCRIBE, sent after its own, is confirmed, the channels
      // are heard again, and each listener catches up on what it missed.
      const channels = [...this.channels.keys()];
      if (channels.length === 0) return;
      connection.subscribe(...channels).then(
        () => {
          if (connection !== this.connection) return;
          this.reportEvents('is back');
          for (const listener of this.channels.values()) listener.reconnected();
        },
        () => {
          // Lost again: the next ready tries again.
        },
      );
    });
    connection.on('close', () => {
      // Closed on purpose (last channel left, queues closed): this.connection already forgot it.
      if (!up || connection !== this.connection) return;
      up = false;
      this.reportEvents(
        'was lost; job events of other processes are read back from the event log once it is back (those older than 10 s are missed)',
      );
    });
    this.connection = connection;
    return connection;
  }

  /** Warns of the connection's state when it carries job events. */
  private reportEvents(state: string): void {
    const queues = [...this.channels.values()].flatMap((listener) => listener.eventsOf ?? []);
    if (queues.length === 0) return;
    this.logger.warn(`berth: the Redis pub/sub connection of the job queues ${state} (queues: ${queues.join(', ')})`, {
      queues,
    });
  }

  close(): void {
    this.closed = true;
    this.channels.clear();
    const connection = this.connection;
    this.connection = undefined;
    connection?.disconnect();
  }
}
