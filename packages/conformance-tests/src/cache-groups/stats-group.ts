import type { Cache, CacheStats } from '@berth/core';
import { expect } from 'vitest';
import { type CacheConformanceContext, type CacheFixture, defineCacheGroup } from '../cache-harness.js';
import { sleep } from '../groups/assertions.js';
import type { ConformanceGroup } from '../harness.js';

/** The three counters, whatever else an implementation reports. */
async function counters(cache: Cache): Promise<CacheStats> {
  const { hits, misses, size } = await cache.stats();
  return { hits, misses, size };
}

/**
 * `stats`: hits, misses and the size of live entries, counted exactly.
 *
 * ### Examples
 * ```ts
 * import { type CacheConformanceOptions, cacheRunOptions, cacheStatsGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: CacheConformanceOptions; // what your cache passes to cacheConformance
 * registerGroup(cacheStatsGroup, cacheRunOptions(options));
 * ```
 */
export const cacheStatsGroup: ConformanceGroup<CacheFixture, CacheConformanceContext> = defineCacheGroup(
  'cache-stats',
  [
    {
      name: 'a fresh cache reports no hits, no misses, no entries',
      async run({ cache }) {
        expect(await counters(cache)).toStrictEqual({ hits: 0, misses: 0, size: 0 });
      },
    },
    {
      name: 'every get counts once: a hit when the key is there, else a miss',
      async run({ cache }) {
        await cache.set('a', 1);
        await cache.set('b', null);
        await cache.get('a');
        await cache.get('a');
        await cache.get('b');
        await cache.get('c');
        await cache.get('d');
        expect(await counters(cache)).toStrictEqual({ hits: 3, misses: 2, size: 2 });
      },
    },
    {
      name: 'set, delete, deleteByPrefix and stats count neither hits nor misses',
      async run({ cache }) {
        await cache.set('a', 1);
        await cache.set('a', 2);
        await cache.delete('a');
        await cache.delete('missing');
        await cache.set('p:1', 1);
        await cache.deleteByPrefix('p:');
        await cache.stats();
        expect(await counters(cache)).toStrictEqual({ hits: 0, misses: 0, size: 0 });
      },
    },
    {
      name: 'size counts the entries held through set, overwrite, delete and deleteByPrefix',
      async run({ cache }) {
        await cache.set('a', 1);
        await cache.set('b', 1);
        await cache.set('p:1', 1);
        await cache.set('p:2', 1);
        expect((await cache.stats()).size).toBe(4);
        await cache.set('a', 2);
        expect((await cache.stats()).size).toBe(4);
        await cache.delete('b');
        expect((await cache.stats()).size).toBe(3);
        await cache.deleteByPrefix('p:');
        expect((await cache.stats()).size).toBe(1);
      },
    },
    {
      name: 'size counts only live entries',
      async run({ cache }) {
        await cache.set('short', 1, { ttlMs: 40 });
        await cache.set('kept', 1);
        await sleep(200);
        expect(await counters(cache)).toStrictEqual({ hits: 0, misses: 0, size: 1 });
      },
    },
    {
      name: 'clear removes every entry and resets the counters',
      async run({ cache }) {
        await cache.set('a', 1);
        await cache.set('b', 2);
        await cache.get('a');
        await cache.get('missing');
        await cache.clear();
        expect(await counters(cache)).toStrictEqual({ hits: 0, misses: 0, size: 0 });
        expect(await cache.get('a')).toBeUndefined();
        expect(await counters(cache)).toStrictEqual({ hits: 0, misses: 1, size: 0 });
        await cache.set('c', 3);
        expect(await cache.get('c')).toBe(3);
        expect(await counters(cache)).toStrictEqual({ hits: 1, misses: 1, size: 1 });
      },
    },
  ],
);
