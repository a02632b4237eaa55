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
