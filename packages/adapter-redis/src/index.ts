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

/** The URL schemes `createBackendFromUrl` handles, so this module can be passed to `createBackend(url, { adapters })`. */
export const schemes: readonly string[] = ['redis', 'rediss'];
