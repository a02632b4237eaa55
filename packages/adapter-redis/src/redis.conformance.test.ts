import { cacheConformance } from '@berth/conformance-tests';
import { beforeAll } from 'vitest';
import { REDIS_URL, requireRedis } from './fixtures/redis-server.js';
import { RedisCache } from './redis-cache.js';

beforeAll(requireRedis);

/** Removes its keys when the harness closes it, so the shared server keeps nothing of a run. */
class SelfClearingRedisCache extends RedisCache {
  override async close(): Promise<void> {
    await this.clear();
    await super.close();
  }
}

cacheConformance({
  name: 'redis',
  // The harness's namespace is unique per test: it is the key prefix, so tests share the server without seeing each other.
  createCache: ({ namespace }) => new SelfClearingRedisCache({ url: REDIS_URL, keyPrefix: namespace }),
  capabilities: { lru: false },
});
