import { type CleanupInfo, cacheConformance, repositoryConformance } from '@berth/conformance-tests';
import type { RepositoryBackend } from '@berth/core';
import { afterAll, beforeAll } from 'vitest';
import { REDIS_URL, rawClient, requireRedis, uniqueKeyPrefix } from './fixtures/redis-server.js';
import { RedisBackend } from './redis-backend.js';
import { RedisCache } from './redis-cache.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from './redis-scan.js';

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
 * Walks the test's prefix with SCAN (through a client of its own: the test
 * may have closed its backend), fails when a key lies outside the
 * collections the test named, then unlinks every key under the prefix.
 */
async function cleanup({ backend, collections }: CleanupInfo<RepositoryBackend>): Promise<void> {
  const { keyPrefix } = backend as RedisBackend;
  const allowed = collections.map((name) => `${keyPrefix}{${name}}:`);
  const strays: string[] = [];
  await forEachKeyBatch(
    checker,
    prefixPattern(keyPrefix),
    (_, keys) => {
      for (const key of keys) {
        const text = key.toString();
        if (!allowed.some((start) => text.startsWith(start))) strays.push(text);
      }
      return keys.length;
    },
    undefined,
    'cleanup',
  );
  await forEachKeyBatch(checker, prefixPattern(keyPrefix), unlinkKeys, undefined, 'cleanup');
  if (strays.length > 0) throw new Error(`the test left keys outside its collections: ${strays.join(', ')}`);
}

repositoryConformance({
  name: 'redis',
  createBackend,
  capabilities: new RedisBackend({ url: REDIS_URL }).capabilities,
  cleanup,
  openSameStorage,
});
