import type { Cluster, Redis } from 'ioredis';

/**
 * The one subscriber connection of a `RedisQueues`: a duplicate of the
 * client, opened when the first worker starts, subscribed to the wake-up
 * channel of each queue that has a worker here. Scripts publish the delay
 * until the earliest job they made waiting; after a reconnection every
 * queue is woken, since what was published meanwhile is lost.
 */
export class RedisQueueSubscriber {
  private connection: Redis | Cluster | undefined;
  private readonly channels = new Map<string, (delayMs: number) => void>();
  private closed = false;

  constructor(private readonly client: Redis | Cluster) {}

  /** Subscribes to `channel` (once), handing each message's delay to `onWake`. */
  listen(channel: string, onWake: (delayMs: number) => void): void {
    if (this.closed || this.channels.has(channel)) return;
    this.channels.set(channel, onWake);
    const connection = this.open();
    connection.subscribe(channel).catch(() => {
      // A failed subscription is retried by ioredis on reconnection; workers poll meanwhile.
    });
  }

  private open(): Redis | Cluster {
    if (this.connection !== undefined) return this.connection;
    const connection = this.client.duplicate() as Redis | Cluster;
    connection.on('error', () => {});
    connection.on('message', (channel: string, message: string) => {
      this.channels.get(channel)?.(Number(message) || 0);
    });
    let first = true;
    connection.on('ready', () => {
      if (first) {
        first = false;
        return;
      }
      for (const onWake of this.channels.values()) onWake(0);
    });
    this.connection = connection;
    return connection;
  }

  close(): void {
    this.closed = true;
    this.channels.clear();
    this.connection?.disconnect();
    this.connection = undefined;
  }
}
