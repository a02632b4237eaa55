export {
  type EvictionPolicyCheck,
  REDIS_QUEUE_CAPABILITIES,
  RedisQueues,
  type RedisQueuesConfig,
} from './queue/redis-queues.js';
export { createBackendFromUrl, RedisBackend, type RedisBackendConfig } from './redis-backend.js';
export { RedisCache, type RedisCacheConfig } from './redis-cache.js';
export type { RedisConnectionConfig } from './redis-connection.js';
export type { RedisContext } from './redis-context.js';
export { type RedisErrorContext, START_REDIS_HINT, toBerthError } from './redis-errors.js';

/**
 * The URL schemes `createBackendFromUrl` handles, so this module can be passed to `createBackend(url, { adapters
 * })`.
 *
 * ### Examples
 * ```ts
 * import * as redis from '@berth/adapter-redis';
 * import { createBackend } from '@berth/core';
 *
 * // Passing the module keeps the adapter in a bundle that would drop a package only named at run time.
 * const backend = await createBackend('redis://127.0.0.1:6379', { adapters: [redis] });
 * ```
 */
export const schemes: readonly string[] = ['redis', 'rediss'];
