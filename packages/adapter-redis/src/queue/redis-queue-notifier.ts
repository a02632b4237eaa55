import type { IdleWorker, JobNotifier } from '@berth/core';
import { IdleWorkers } from '@berth/core/adapter';
import type { Cluster, Redis } from 'ioredis';

/**
 * Wakes the idle workers of one queue in this process: at once after a
 * change made here, when a wake-up published by a script of any process
 * arrives, and by a timer when a job falls due later. Wake-ups are
 * coalesced into one per turn of the event loop. It also knows which of
 * them wait idle, so an enqueue here can lease jobs for one in its own
 * script.
 */
export class RedisQueueNotifier implements JobNotifier {
  private readonly listeners = new Set<() => void>();
  private readonly idle = new IdleWorkers();
  /** Hand-offs in flight, and whether a published wake-up came during them (see `handingOff`). */
  private handOffs = 0;
  private deferred = false;
  private scheduled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly onFirstListener: () => void) {}

  onJobAvailable(listener: () => void): () => void {
    this.listeners.add(listener);
    this.onFirstListener();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.clearTimer();
    };
  }

  onIdle(worker: IdleWorker): () => void {
    return this.idle.add(worker);
  }

  /** A worker waiting for a job (the longest waiting), without taking it off the list. */
  idleWorker(): IdleWorker | undefined {
    return this.idle.first();
  }

  /**
   * Runs `handOff`, an enqueue that leases jobs for an idle worker in its
   * own script and hands them over. Wake-ups published meanwhile wait until
   * it is done: the script's own message may arrive before its reply, and
   * would wake the worker (withdrawing its offer) just before the jobs
   * leased for it are handed over.
   */
  async handingOff<R>(handOff: () => Promise<R>): Promise<R> {
    this.handOffs += 1;
    try {
      return await handOff();
    } finally {
      this.handOffs -= 1;
      if (this.handOffs === 0 && this.deferred) {
        this.deferred = false;
        this.notify();
      }
    }
  }

  /** A wake-up published by a script (of any process) arrived: jobs fall due after `delayMs`. */
  published(delayMs: number): void {
    if (this.handOffs > 0 && delayMs <= 0) this.deferred = true;
    else this.dueAt(Date.now() + delayMs);
  }

  /** Jobs may be due now. */
  notify(): void {
    if (this.listeners.size === 0 || this.scheduled) return;
    this.scheduled = true;
    // Listeners run after the current operation has returned, never inside it.
    queueMicrotask(() => {
      this.scheduled = false;
      for (const listener of this.listeners) listener();
    });
  }

  /** A job falls due at `time` (this process's clock): now, or later through the timer. */
  dueAt(time: number): void {
    if (this.listeners.size === 0) return;
    const now = Date.now();
    if (time <= now) {
      this.notify();
      return;
    }
    if (time >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = time;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.notify();
      },
      time - now + 1,
    );
    this.timer.unref?.();
  }

  close(): void {
    this.clearTimer();
    this.listeners.clear();
    this.idle.clear();
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }
}

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
