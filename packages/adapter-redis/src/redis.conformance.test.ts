import { type CleanupInfo, cacheConformance, repositoryConformance } from '@berth/conformance-tests';
import type { RepositoryBackend } from '@berth/core';
import { afterAll, beforeAll } from 'vitest';
import {
  collectionBases,
  dropTestKeys,
  REDIS_URL,
  rawClient,
  requireRedis,
  uniqueKeyPrefix,
} from './fixtures/redis-server.js';
import { RedisBackend } from './redis-backend.js';
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

// Every repository test gets a key prefix of its own on the shared server; its keys are removed after it.
const checker = rawClient();
beforeAll(() => checker.connect());
afterAll(() => checker.disconnect());

const createBackend = (): RedisBackend => new RedisBackend({ url: REDIS_URL, keyPrefix: uniqueKeyPrefix('repo') });
const openSameStorage = (first: RepositoryBackend): RedisBackend =>
  new RedisBackend({ url: REDIS_URL, keyPrefix: (first as RedisBackend).keyPrefix });

/**
 * Removes every key under the test's prefix (through a client of its own:
 * the test may have closed its backend), and fails when one lay outside the
 * collections the test named.
 */
async function cleanup({ backend, collections }: CleanupInfo<RepositoryBackend>): Promise<void> {
  const { keyPrefix } = backend as RedisBackend;
  await dropTestKeys(checker, keyPrefix, collectionBases(keyPrefix, collections), { dropStrays: true });
}

repositoryConformance({
  name: 'redis',
  createBackend,
  capabilities: new RedisBackend({ url: REDIS_URL }).capabilities,
  cleanup,
  openSameStorage,
});
