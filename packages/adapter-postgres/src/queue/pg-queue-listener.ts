import { createHash } from 'node:crypto';
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

const ignore = (): void => {};

/** What one channel of a {@link PgQueueListener} is told. */
export interface ChannelHandler {
  /** A notification on the channel. */
  notified(payload: string): void;
  /** The connection failed (once per outage): notifications are lost until {@link resumed}. */
  lost?(error: unknown): void;
  /** The channel is listened to again after an outage. */
  resumed(): void;
}

/**
 * The one listening connection of a backend: a client taken from the pool
 * while at least one channel is wanted (the wake-up channel from the first
 * worker on, the events channel while someone subscribes), `LISTEN`ing on
 * each wanted channel and handing its notifications to the channel's
 * handler. When the connection fails it listens again (backing off), then
 * tells each handler, since notifications sent meanwhile are lost.
 */
export class PgQueueListener {
  private readonly wanted = new Map<string, ChannelHandler>();
  /** The channels the current client listens to. */
  private readonly listening = new Set<string>();
  private client: pg.PoolClient | undefined;
  /** Each client's `error` listener, removed before the client goes back to the pool. */
  private readonly onError = new WeakMap<pg.PoolClient, (error: Error) => void>();
  private syncing: Promise<void> | undefined;
  /** Wanted channels changed while a sync ran: sync again. */
  private dirty = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private closed = false;

  constructor(private readonly session: PgSession) {}

  /** Listens to `channel` (replacing its handler); failures are retried in the background. */
  listen(channel: string, handler: ChannelHandler): void {
    if (this.closed) return;
    const known = this.wanted.has(channel);
    this.wanted.set(channel, handler);
    if (!known) this.sync();
  }

  /** Stops listening to `channel`; without any channel left the connection goes back to the pool. */
  unlisten(channel: string): void {
    if (this.wanted.delete(channel)) this.sync();
  }

  /** Whether `channel` is wanted (listened to, or will be once the connection is back). */
  wants(channel: string): boolean {
    return this.wanted.has(channel);
  }

  private sync(): void {
    if (this.syncing !== undefined) {
      this.dirty = true;
      return;
    }
    this.syncing = this.reconcile().finally(() => {
      this.syncing = undefined;
      if (this.dirty && !this.closed) {
        this.dirty = false;
        this.sync();
      }
    });
  }

  /** Brings the client's channels to the wanted ones, connecting or releasing it as needed. */
  private async reconcile(): Promise<void> {
    this.dirty = false;
    if (this.closed || this.retryTimer !== undefined) return;
    if (this.wanted.size === 0) {
      // Nobody waits for what an outage missed: the next LISTEN is a fresh start.
      this.failures = 0;
      await this.release();
      return;
    }
    let client = this.client;
    if (client === undefined) {
      try {
        client = await this.session.pool.connect();
      } catch (error) {
        this.retry(error);
        return;
      }
      if (this.closed) {
        client.release();
        return;
      }
      const current = client;
      current.on('notification', (message) => {
        if (message.payload !== undefined) this.wanted.get(message.channel)?.notified(message.payload);
      });
      const onError = (error: Error) => this.lost(current, error);
      this.onError.set(current, onError);
      current.on('error', onError);
      this.client = current;
      this.listening.clear();
    }
    try {
      for (const channel of [...this.wanted.keys()]) {
        if (this.listening.has(channel)) continue;
        await client.query(`LISTEN ${channel}`);
        this.listening.add(channel);
      }
      for (const channel of [...this.listening]) {
        if (this.wanted.has(channel)) continue;
        await client.query(`UNLISTEN ${channel}`);
        this.listening.delete(channel);
      }
    } catch (error) {
      this.lost(client, error);
      return;
    }
    if (this.failures > 0) {
      this.failures = 0;
      for (const channel of this.listening) this.wanted.get(channel)?.resumed();
    }
    if (this.wanted.size === 0) await this.release();
  }

  private lost(client: pg.PoolClient, error: unknown): void {
    if (this.client === client) {
      this.client = undefined;
      this.listening.clear();
    }
    this.detach(client);
    try {
      client.release(true);
    } catch {
      // Already released.
    }
    this.retry(error);
  }

  private retry(error: unknown): void {
    if (this.closed || this.retryTimer !== undefined) return;
    if (this.failures === 0) for (const handler of this.wanted.values()) handler.lost?.(error);
    this.failures += 1;
    const delay = Math.min(MAX_RECONNECT_MS, 100 * 2 ** Math.min(this.failures, 10));
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.sync();
      },
      delay * (0.5 + Math.random() / 2),
    );
    this.retryTimer.unref?.();
  }

  /** Removes this listener's handlers from `client` (it goes back to the pool, or is discarded). */
  private detach(client: pg.PoolClient): void {
    client.removeAllListeners('notification');
    const onError = this.onError.get(client);
    if (onError !== undefined) client.off('error', onError);
    this.onError.delete(client);
  }

  /** Gives the client back to the pool once it listens to nothing. */
  private async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    this.detach(client);
    // A failure of the UNLISTEN below rejects the query; no `error` listener needed meanwhile.
    client.on('error', ignore);
    try {
      for (const channel of this.listening) await client.query(`UNLISTEN ${channel}`);
      client.off('error', ignore);
      client.release();
    } catch {
      client.off('error', ignore);
      client.release(true);
    }
    this.listening.clear();
  }

  /** Stops listening and gives the connection back to the pool. */
  async close(): Promise<void> {
    this.closed = true;
    this.wanted.clear();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.syncing?.catch(() => undefined);
    await this.release();
  }
}
