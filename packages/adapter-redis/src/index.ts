export {
  type EvictionPolicyCheck,
  REDIS_QUEUE_CAPABILITIES,
  RedisQueues,
  type RedisQueuesConfig,
} from './queue/redis-queues.js';
export { RedisCache, type RedisCacheConfig } from './redis-cache.js';
export { type RedisErrorContext, START_REDIS_HINT, toBerthError } from './redis-errors.js';
