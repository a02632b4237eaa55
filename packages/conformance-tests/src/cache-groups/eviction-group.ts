import type { Cache } from '@berth/core';
import { expect } from 'vitest';
import { type CacheConformanceContext, type CacheFixture, defineCacheGroup } from '../cache-harness.js';
import type { ConformanceGroup } from '../harness.js';

/** Which of `keys` the cache still holds (each lookup refreshes recency; call it last). */
async function held(cache: Cache, keys: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const key of keys) if ((await cache.get(key)) !== undefined) found.push(key);
  return found;
}

/**
 * The byte cases weigh an entry as the UTF-8 length of its key plus its
 * value's JSON text. Three ~295-byte entries fit in 1 000 bytes with room for
 * up to 40 bytes of bookkeeping each; a fourth never does.
 */
const MAX_BYTES = 1_000;

/**
 * Least-recently-used eviction past `maxEntries` and `maxBytes`. Registered by `cacheConformance` when the
 * cache claims `lru`.
 *
 * ### Examples
 * ```ts
 * import { type CacheConformanceOptions, cacheEvictionGroup, cacheRunOptions, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: CacheConformanceOptions; // what your cache passes to cacheConformance
 * registerGroup(cacheEvictionGroup, cacheRunOptions(options));
 * ```
 */
export const cacheEvictionGroup: ConformanceGroup<CacheFixture, CacheConformanceContext> = defineCacheGroup(
  'cache-eviction',
  [
    {
      name: 'past maxEntries the least recently used entry goes first; eviction counts no hit or miss',
      async run(context) {
        const cache = await context.createCache({ maxEntries: 3 });
        for (const key of ['a', 'b', 'c', 'd']) await cache.set(key, key);
        const { hits, misses, size } = await cache.stats();
        expect({ hits, misses, size }).toStrictEqual({ hits: 0, misses: 0, size: 3 });
        expect(await held(cache, ['a', 'b', 'c', 'd'])).toStrictEqual(['b', 'c', 'd']);
      },
    },
    {
      name: 'a get makes an entry the most recently used',
      async run(context) {
        const cache = await context.createCache({ maxEntries: 3 });
        for (const key of ['a', 'b', 'c']) await cache.set(key, key);
        await cache.get('a');
        await cache.set('d', 'd');
        expect(await held(cache, ['a', 'b', 'c', 'd'])).toStrictEqual(['a', 'c', 'd']);
      },
    },
    {
      name: 'setting an existing key makes it the most recently used',
      async run(context) {
        const cache = await context.createCache({ maxEntries: 3 });
        for (const key of ['a', 'b', 'c']) await cache.set(key, key);
        await cache.set('a', 'again');
        await cache.set('d', 'd');
        expect(await held(cache, ['a', 'b', 'c', 'd'])).toStrictEqual(['a', 'c', 'd']);
        expect(await cache.get('a')).toBe('again');
      },
    },
    {
      name: 'eviction keeps following recency over several evictions',
      async run(context) {
        const cache = await context.createCache({ maxEntries: 3 });
        for (const key of ['a', 'b', 'c']) await cache.set(key, key);
        await cache.get('a');
        await cache.get('b');
        await cache.set('d', 'd');
        await cache.set('e', 'e');
        expect(await held(cache, ['a', 'b', 'c', 'd', 'e'])).toStrictEqual(['b', 'd', 'e']);
      },
    },
    {
      name: 'past maxBytes the least recently used entries go first',
      async run(context) {
        const cache = await context.createCache({ maxEntries: 1_000, maxBytes: MAX_BYTES });
        for (const key of ['a', 'b', 'c']) await cache.set(key, 'x'.repeat(290));
        await cache.get('a');
        await cache.set('d', 'x'.repeat(290));
        expect(await held(cache, ['a', 'b', 'c', 'd'])).toStrictEqual(['a', 'c', 'd']);
      },
    },
    {
      name: 'bytes are UTF-8 bytes, not UTF-16 code units',
      async run(context) {
        const cache = await context.createCache({ maxEntries: 1_000, maxBytes: MAX_BYTES });
        // 96 euro signs: 288 bytes of UTF-8 but 96 code units.
        for (const key of ['a', 'b', 'c', 'd']) await cache.set(key, '€'.repeat(96));
        expect(await held(cache, ['a', 'b', 'c', 'd'])).toStrictEqual(['b', 'c', 'd']);
      },
    },
    {
      name: 'a value heavier than maxBytes is not kept, evicts nothing, and drops the value it replaced',
      async run(context) {
        const cache = await context.createCache({ maxEntries: 1_000, maxBytes: MAX_BYTES });
        await cache.set('a', 'small');
        await cache.set('b', 'small');
        await cache.set('big', 'x'.repeat(2 * MAX_BYTES));
        await cache.set('a', 'x'.repeat(2 * MAX_BYTES));
        expect(await held(cache, ['a', 'b', 'big'])).toStrictEqual(['b']);
        expect((await cache.stats()).size).toBe(1);
      },
    },
  ],
);
