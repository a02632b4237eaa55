import { once } from 'node:events';
import { ValidationError } from '@berth/core';
import { type Cluster, Redis } from 'ioredis';
import { type RedisErrorContext, toBerthError } from './redis-errors.js';

/**
 * What every Berth Redis component is configured with: a URL, or a client of the application's.
 *
 * ### Examples
 * ```ts
 * import { RedisCache, type RedisConnectionConfig } from '@berth/adapter-redis';
 *
 * // One connection setting for every Redis component of the application.
 * const connection: RedisConnectionConfig = { url: 'rediss://cache.example.com:6380', commandTimeoutMs: 1_000 };
 * const cache = new RedisCache({ ...connection, keyPrefix: 'app:cache:' });
 * ```
 */
export interface RedisConnectionConfig {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` (default `redis://127.0.0.1:6379`). */
  readonly url?: string | undefined;
  /** An ioredis client (`Redis` or `Cluster`) to use instead of a URL; never closed by Berth. */
  readonly client?: Redis | Cluster | undefined;
  /** With `url`: how long a command may wait for its reply before it fails with TIMEOUT (default: no limit). */
  readonly commandTimeoutMs?: number | undefined;
}

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** ioredis statuses in which the client has a socket, or will open one, that `disconnect` closes. */
const SOCKET_STATUSES = new Set(['wait', 'connecting', 'connect', 'ready']);

/**
 * Checks the connection options `owner` (`RedisCache`, `RedisBackend`) was
 * given: a URL or a client, not both; no ioredis `keyPrefix` on a client (it
 * would prefix commands' keys but not SCAN patterns or script KEYS built
 * from them, so Berth's own prefix does that job); a timeout only with a URL.
 */
export function checkConnectionConfig(config: RedisConnectionConfig, owner: string): void {
  if (config.url !== undefined && config.client !== undefined) {
    throw new ValidationError(`give ${owner} a url or a client, not both`, 'client');
  }
  if (config.url !== undefined && (typeof config.url !== 'string' || !/^rediss?:\/\//.test(config.url))) {
    throw new ValidationError(`url must start with redis:// or rediss://, got ${String(config.url)}`, 'url');
  }
  if (config.client?.options.keyPrefix) {
    throw new ValidationError(`the client has an ioredis keyPrefix; pass it as ${owner} keyPrefix instead`, 'client');
  }
  const commandTimeoutMs = config.commandTimeoutMs;
  if (commandTimeoutMs !== undefined) {
    if (config.url === undefined) {
      throw new ValidationError(
        'commandTimeoutMs needs url: set commandTimeout on a client of your own',
        'commandTimeoutMs',
      );
    }
    if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs < 1) {
      throw new ValidationError(
        `commandTimeoutMs must be a positive integer, got ${String(commandTimeoutMs)}`,
        'commandTimeoutMs',
      );
    }
  }
}

/**
 * The client a component talks through: the application's (never closed
 * here) or one made from the URL, which fails a command fast when the
 * connection is lost and keeps the last connection error for the message.
 */
export class RedisConnection {
  readonly client: Redis | Cluster;
  /** Whether the client is this connection's to close. */
  readonly ownsClient: boolean;
  private readonly address: string | undefined;
  private lastConnectionError: unknown;

  constructor(config: RedisConnectionConfig) {
    if (config.client !== undefined) {
      this.client = config.client;
      this.ownsClient = false;
      return;
    }
    const client = new Redis(config.url ?? DEFAULT_REDIS_URL, {
      // A command pending when the connection drops, or sent while it is
      // down, fails at the next reconnection attempt instead of waiting for
      // the server to come back: the caller gets a retryable CONNECTION error
      // and the client keeps reconnecting in the background.
      maxRetriesPerRequest: 0,
      ...(config.commandTimeoutMs === undefined ? {} : { commandTimeout: config.commandTimeoutMs }),
    });
    // Keeps the reason of a failed connection for the error a command gets (and
    // keeps ioredis from printing unhandled error events).
    client.on('error', (error: unknown) => {
      this.lastConnectionError = error;
    });
    client.on('ready', () => {
      this.lastConnectionError = undefined;
    });
    this.client = client;
    this.ownsClient = true;
    this.address = `${client.options.host}:${client.options.port}`;
  }

  /** What a CONNECTION error says: the server's address and the last connection error. */
  get errorContext(): RedisErrorContext {
    return { address: this.address, lastConnectionError: this.lastConnectionError };
  }

  /** Runs commands, turning ioredis errors into Berth errors. */
  async run<T>(commands: () => Promise<T>): Promise<T> {
    try {
      return await commands();
    } catch (error) {
      throw toBerthError(error, this.errorContext);
    }
  }

  /** Disconnects a client made from the URL and waits until its socket closed; a given client stays open. */
  async close(): Promise<void> {
    if (!this.ownsClient) return;
    // With a socket open (or not yet opened) disconnecting ends the client
    // once the socket has closed; between reconnection attempts there is no
    // socket, and disconnecting only cancels the next attempt, with no 'end'.
    const ended = SOCKET_STATUSES.has(this.client.status) ? once(this.client, 'end') : undefined;
    this.client.disconnect();
    await ended;
  }
}
