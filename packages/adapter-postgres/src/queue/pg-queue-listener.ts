import { createHash } from 'node:crypto';
import type { IdleWorker, JobNotifier } from '@berth/core';
import { IdleWorkers } from '@berth/core/adapter';
import type pg from 'pg';
import type { PgSession } from '../pg-session.js';

/**
 * The NOTIFY channel of a schema's queues: `berth_jobs_` and a hash of the
 * schema, so it stays within PostgreSQL's 63-byte identifiers whatever the
 * schema's name. The payload is the queue's name.
 */
export function channelOf(schema: string): string {
  return `berth_jobs_${createHash('sha256').update(schema).digest('hex').slice(0, 24)}`;
}

/** The longest pause between two attempts to listen again after the listening connection failed. */
const MAX_RECONNECT_MS = 10_000;

/**
 * Wakes the idle workers of one queue in this process: on a NOTIFY for the
 * queue (a commit in any process), at once after a commit made here, and by
 * a timer when a job this process delayed falls due. Wake-ups are coalesced
 * into one per turn of the event loop. It also knows which of them wait
 * idle, so an enqueue here can lease jobs for one in its own transaction.
 */
export class PgQueueNotifier implements JobNotifier {
  private readonly listeners = new Set<() => void>();
  private readonly idle = new IdleWorkers();
  /** Hand-offs in flight, and whether a NOTIFY came during them (see `handingOff`). */
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
   * own transaction and hands them over. NOTIFYs that arrive meanwhile wait
   * until it is done: the enqueue's own NOTIFY may arrive before its commit
   * is confirmed, and would wake the worker (withdrawing its offer) just
   * before the jobs leased for it are handed over.
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

  /** A NOTIFY for the queue arrived (a commit in some process made jobs due). */
  notified(): void {
    if (this.handOffs > 0) this.deferred = true;
    else this.notify();
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

  /** A job falls due at `time` (client clock): now, or later through the timer. */
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
 * The one listening connection of a backend: a client taken from the pool
 * when the first worker starts, `LISTEN`ing on the schema's channel, and
 * handing each notification to the notifier of the queue it names. When the
 * connection fails it listens again (backing off), then wakes every queue,
 * since notifications sent meanwhile are lost.
 */
export class PgQueueListener {
  private client: pg.PoolClient | undefined;
  private starting: Promise<void> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly session: PgSession,
    readonly channel: string,
    private readonly dispatch: (queue: string | undefined) => void,
  ) {}

  /** Starts listening unless it already does; failures are retried in the background. */
  start(): void {
    if (this.closed || this.client !== undefined || this.starting !== undefined || this.retryTimer !== undefined) {
      return;
    }
    this.starting = this.connect().finally(() => {
      this.starting = undefined;
    });
  }

  private async connect(): Promise<void> {
    let client: pg.PoolClient | undefined;
    try {
      client = await this.session.pool.connect();
      if (this.closed) {
        client.release();
        return;
      }
      const current = client;
      current.on('notification', (message) => {
        if (message.channel === this.channel) this.dispatch(message.payload);
      });
      current.on('error', () => this.lost(current));
      await current.query(`LISTEN ${this.channel}`);
      this.client = current;
      if (this.failures > 0) this.dispatch(undefined);
      this.failures = 0;
    } catch {
      if (client !== undefined) this.lost(client);
      else this.retry();
    }
  }

  private lost(client: pg.PoolClient): void {
    if (this.client === client) this.client = undefined;
    client.removeAllListeners('notification');
    try {
      client.release(true);
    } catch {
      // Already released.
    }
    this.retry();
  }

  private retry(): void {
    if (this.closed) return;
    this.failures += 1;
    const delay = Math.min(MAX_RECONNECT_MS, 100 * 2 ** Math.min(this.failures, 10));
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.start();
      },
      delay * (0.5 + Math.random() / 2),
    );
    this.retryTimer.unref?.();
  }

  /** Stops listening and gives the connection back to the pool. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.starting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    client.removeAllListeners('notification');
    try {
      await client.query(`UNLISTEN ${this.channel}`);
      client.release();
    } catch {
      client.release(true);
    }
  }
}
