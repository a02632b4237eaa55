import type { Cluster, Redis } from 'ioredis';

/**
 * What the repositories (and, later, the job queue) of one
 * {@link RedisBackend} share: the client, the key prefix, and the way
 * commands run (closed check, ioredis errors made Berth errors).
 *
 * ### Examples
 * ```ts
 * import type { RedisContext } from '@berth/adapter-redis';
 *
 * // How a component of the backend runs a command: typed errors, refused after close().
 * async function documentCount(context: RedisContext, collection: string): Promise<number> {
 *   return context.run((client) => client.zcard(`${context.keyPrefix}{${collection}}:ids`));
 * }
 * ```
 */
export interface RedisContext {
  readonly client: Redis | Cluster;
  /** Prepended to every key (checked: no braces, see `checkRepositoryPrefix`). */
  readonly keyPrefix: string;
  /** Whether the client is a Redis Cluster client: one script may then touch one collection only. */
  readonly isCluster: boolean;
  readonly maxDocumentBytes: number;
  /**
   * A new connection like the client (for blocking commands, which would
   * hold up every other command on a shared connection); the caller closes it.
   */
  duplicate(): Redis | Cluster;
  /**
   * Runs commands once the backend is usable: refuses (CONNECTION, not
   * retryable) after `close()`, and maps ioredis errors with `toBerthError`.
   */
  run<T>(commands: (client: Redis | Cluster) => Promise<T>): Promise<T>;
}
