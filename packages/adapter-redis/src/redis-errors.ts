import { ConnectionError, isBerthError, TimeoutError } from '@berth/core';
import { NETWORK_ERROR_CODES } from '@berth/core/adapter';

/**
 * How to start the Redis server the tests and a local setup expect, quoted by every CONNECTION error.
 *
 * ### Examples
 * ```ts
 * import { START_REDIS_HINT } from '@berth/adapter-redis';
 *
 * // A test setup that checks for a server first says how to start one.
 * declare function ping(): Promise<boolean>;
 * if (!(await ping())) throw new Error(`no Redis on 127.0.0.1:6379: ${START_REDIS_HINT}`);
 * ```
 */
export const START_REDIS_HINT =
  'start it with `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no`, or point the URL at a running server';

/**
 * ioredis's own errors for a command it gave up on because the connection
 * was lost or never made: with `maxRetriesPerRequest: 0` a command pending
 * while the connection drops is rejected at the first reconnection attempt.
 */
const CONNECTION_ERROR_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);
const CONNECTION_MESSAGES = [
  'Connection is closed.',
  "Stream isn't writeable",
  'None of startup nodes is available',
  'Failed to refresh slots cache',
];

interface RedisErrorLike {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
}

/**
 * What a CONNECTION error says beyond ioredis's own words.
 *
 * ### Examples
 * ```ts
 * import { type RedisErrorContext, toBerthError } from '@berth/adapter-redis';
 *
 * declare const error: unknown; // what an ioredis command threw
 * const context: RedisErrorContext = { address: '127.0.0.1:6379', lastConnectionError: new Error('connect ECONNREFUSED') };
 * throw toBerthError(error, context);
 * ```
 */
export interface RedisErrorContext {
  /** The server the client talks to (`127.0.0.1:6379`), when known. */
  readonly address?: string | undefined;
  /** The last connection error the client reported, often the real reason (`ECONNREFUSED`). */
  readonly lastConnectionError?: unknown;
}

function describe(error: unknown): string {
  const { message } = (error ?? {}) as RedisErrorLike;
  return typeof message === 'string' ? message : String(error);
}

/**
 * Replies with which a server refuses a command for a while, by the first
 * word of the error (Redis's error prefix), and what to tell the caller. The
 * command did nothing: Redis refuses it before it runs (a script, before its
 * first write). Each is a retryable CONNECTION error, as a lost connection is.
 */
const REFUSALS: Readonly<Record<string, string>> = {
  OOM: 'Redis is out of memory (used memory is past maxmemory, and maxmemory-policy noeviction refuses writes); nothing was written: free memory or raise maxmemory, then try again',
  LOADING: 'Redis is loading its data after a restart; try again in a moment',
  BUSY: 'Redis is busy running a long script; try again when it has finished',
  CLUSTERDOWN: 'the Redis Cluster is down (slots without a master); try again once it has recovered',
  TRYAGAIN: 'the Redis Cluster is moving the slot of these keys; try again',
  MASTERDOWN: 'the Redis replica lost its master; try again after failover',
  READONLY:
    'the Redis server is a read-only replica (a failover moved the master); try again once the client follows the new master',
};

function serverRefusal(text: string): string | undefined {
  const word = /^[A-Z]+/.exec(text)?.[0];
  return word === undefined ? undefined : REFUSALS[word];
}

/**
 * Turns an error from ioredis into a Berth error: a server that refuses
 * commands for a while (out of memory, loading, a cluster without a master,
 * a replica) is a retryable CONNECTION error saying why; a refused, reset or lost
 * connection is a retryable CONNECTION error whose message says how to start
 * Redis, and ioredis's `commandTimeout` is TIMEOUT (the command may still run
 * on the server). Anything else, a Berth error included, is returned as it is.
 *
 * ### Examples
 * ```ts
 * import { type RedisConnectionConfig, toBerthError } from '@berth/adapter-redis';
 * import { isBerthError } from '@berth/core';
 *
 * // Raw commands next to Berth, with the same typed errors.
 * declare const client: NonNullable<RedisConnectionConfig['client']>;
 * try {
 *   await client.incr('app:visits');
 * } catch (error) {
 *   const mapped = toBerthError(error, { address: '127.0.0.1:6379' });
 *   if (isBerthError(mapped, 'CONNECTION') && mapped.retryable) console.warn('Redis is away; retrying later');
 *   else throw mapped;
 * }
 * ```
 */
export function toBerthError(error: unknown, context: RedisErrorContext = {}): unknown {
  if (isBerthError(error)) return error;
  const { name, code } = (error ?? {}) as RedisErrorLike;
  const text = describe(error);
  if (text === 'Command timed out') {
    return new TimeoutError('Redis did not answer within commandTimeoutMs; the command may still run on the server', {
      cause: error,
    });
  }
  const refusal = serverRefusal(text);
  if (refusal !== undefined) return new ConnectionError(`${refusal} (${text})`, { cause: error });
  const lost =
    (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) ||
    (typeof name === 'string' && CONNECTION_ERROR_NAMES.has(name)) ||
    CONNECTION_MESSAGES.some((known) => text.includes(known));
  if (!lost) return error;
  const where = context.address === undefined ? 'Redis' : `Redis at ${context.address}`;
  const reason = context.lastConnectionError === undefined ? text : `${describe(context.lastConnectionError)}; ${text}`;
  return new ConnectionError(`cannot reach ${where} (${reason}); ${START_REDIS_HINT}`, { cause: error });
}
