import { expect } from 'vitest';
import { type CacheConformanceContext, type CacheFixture, defineCacheGroup } from '../cache-harness.js';
import { sleep } from '../groups/assertions.js';
import type { ConformanceGroup } from '../harness.js';

/**
 * TTLs are real and short. A case checks "still there" well before the TTL
 * and "gone" well after it (several times the TTL), so a loaded machine
 * makes it slower, never flaky.
 */
const SHORT_TTL_MS = 40;
const AFTER_SHORT_TTL_MS = 200;

/**
 * TTLs: an entry lives until its TTL, setting a key again replaces it, and an expired entry is a miss.
 *
 * ### Examples
 * ```ts
 * import { type CacheConformanceOptions, cacheRunOptions, cacheTtlGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: CacheConformanceOptions; // what your cache passes to cacheConformance
 * registerGroup(cacheTtlGroup, cacheRunOptions(options));
 * ```
 */
export const cacheTtlGroup: ConformanceGroup<CacheFixture, CacheConformanceContext> = defineCacheGroup('cache-ttl', [
  {
    name: 'an entry is there until its TTL',
    async run({ cache }) {
      const setAt = performance.now();
      await cache.set('k', 'v', { ttlMs: 1_000 });
      expect(await cache.get('k')).toBe('v');
      await sleep(100);
      // Only meaningful when the machine kept up; the TTL leaves a wide margin.
      if (performance.now() - setAt < 900) expect(await cache.get('k')).toBe('v');
    },
  },
  {
    name: 'an entry is gone after its TTL',
    async run({ cache }) {
      await cache.set('short', { v: 1 }, { ttlMs: SHORT_TTL_MS });
      await cache.set('long', { v: 2 }, { ttlMs: 10_000 });
      await sleep(AFTER_SHORT_TTL_MS);
      expect(await cache.get('short')).toBeUndefined();
      expect(await cache.delete('short')).toBe(false);
      expect(await cache.get('long')).toStrictEqual({ v: 2 });
    },
  },
  {
    name: 'an entry set without a TTL outlives a short wait',
    async run({ cache }) {
      await cache.set('forever', 1);
      await sleep(AFTER_SHORT_TTL_MS);
      expect(await cache.get('forever')).toBe(1);
    },
  },
  {
    name: 'setting a key again replaces its TTL',
    async run({ cache }) {
      await cache.set('extended', 'a', { ttlMs: SHORT_TTL_MS });
      await cache.set('extended', 'b', { ttlMs: 10_000 });
      await cache.set('shortened', 'c');
      await cache.set('shortened', 'd', { ttlMs: SHORT_TTL_MS });
      await sleep(AFTER_SHORT_TTL_MS);
      expect(await cache.get('extended')).toBe('b');
      expect(await cache.get('shortened')).toBeUndefined();
    },
  },
  {
    name: 'an expired entry counts as a miss and not in size',
    async run({ cache }) {
      await cache.set('short', 1, { ttlMs: SHORT_TTL_MS });
      await cache.set('kept', 2);
      await sleep(AFTER_SHORT_TTL_MS);
      expect((await cache.stats()).size).toBe(1);
      expect(await cache.get('short')).toBeUndefined();
      const stats = await cache.stats();
      expect({ hits: stats.hits, misses: stats.misses, size: stats.size }).toStrictEqual({
        hits: 0,
        misses: 1,
        size: 1,
      });
    },
  },
  {
    name: 'deleteByPrefix does not count expired entries',
    async run({ cache }) {
      await cache.set('p:short', 1, { ttlMs: SHORT_TTL_MS });
      await cache.set('p:kept', 2);
      await sleep(AFTER_SHORT_TTL_MS);
      expect(await cache.deleteByPrefix('p:')).toBe(1);
      expect(await cache.get('p:kept')).toBeUndefined();
    },
  },
]);
