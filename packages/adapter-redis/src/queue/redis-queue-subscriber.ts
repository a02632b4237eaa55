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
 * each listener hears of it, since what was published meanwhile is lost.
 */
export class RedisQueueSubscriber {
  private connection: Redis | Cluster | undefined;
  private readonly channels = new Map<string, RedisChannelListener>();
  private closed = false;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly logger: BerthLogger,
  ) {}

  /** Subscribes to `channel` (once). */
  listen(channel: string, listener: RedisChannelListener): void {
    if (this.closed || this.channels.has(channel)) return;
    this.channels.set(channel, listener);
    this.open()
      .subscribe(channel)
      .catch(() => {
        // A failed subscription is retried by ioredis on reconnection; workers poll meanwhile.
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
      this.reportEvents('is back; job events published while it was down were missed');
      for (const listener of this.channels.values()) listener.reconnected();
    });
    connection.on('close', () => {
      // Closed on purpose (last channel left, queues closed): this.connection already forgot it.
      if (!up || connection !== this.connection) return;
      up = false;
      this.reportEvents('was lost; job events of other processes are missed until it is back');
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
