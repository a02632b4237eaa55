/**
 * `MemoryCache` against `lru-cache`, what users would pick instead. Both sides
 * copy: the `lru-cache` side stores `structuredClone(value)` and hands out
 * `structuredClone` of what it holds, as a cache must so callers cannot
 * change its state. `lru-cache` is bounded by entries only and counts no hits;
 * `MemoryCache` also validates every value, weighs it against `maxBytes`
 * (64 MiB by default), keeps hit and miss counts and answers through promises.
 *
 * Target (issue 9): `set` within 3× of `lru-cache`.
 */
import { MemoryCache } from '@berth/adapter-memory';
import type { DocumentValue } from '@berth/core';
import { LRUCache } from 'lru-cache';
import type { BenchSuite } from './harness.js';
import { type Hero, hero, SIZE } from './heroes.js';

/** Entries each cache holds; the evicting suite cycles through twice as many keys. */
const MAX_ENTRIES = SIZE;

const heroes = Array.from({ length: SIZE }, (_, i) => hero(i));
/** The same heroes as cache values (`Hero` is an interface, which has no index signature). */
const values = heroes as unknown as readonly DocumentValue[];
const keyOf = (i: number): string => `hero:${i}`;

function lruCache(): LRUCache<string, Hero> {
  return new LRUCache<string, Hero>({ max: MAX_ENTRIES });
}

function fillLru(cache: LRUCache<string, Hero>): void {
  for (let i = 0; i < SIZE; i += 1) cache.set(keyOf(i), structuredClone(heroes[i] as Hero));
}

async function fillMemory(cache: MemoryCache): Promise<void> {
  for (let i = 0; i < SIZE; i += 1) await cache.set(keyOf(i), values[i] as DocumentValue);
}

export function memoryCacheSuites(): BenchSuite[] {
  const lruSet = lruCache();
  const memorySet = new MemoryCache({ maxEntries: MAX_ENTRIES });
  const lruEvicting = lruCache();
  const memoryEvicting = new MemoryCache({ maxEntries: MAX_ENTRIES });
  const lruGet = lruCache();
  const memoryGet = new MemoryCache({ maxEntries: MAX_ENTRIES });

  return [
    {
      name: 'cache set (replacing, 10 000 keys)',
      cases: [
        {
          name: 'lru-cache set(structuredClone)',
          baseline: true,
          setup: () => fillLru(lruSet),
          run: (i) => lruSet.set(keyOf(i % SIZE), structuredClone(heroes[i % SIZE] as Hero)),
        },
        {
          name: 'MemoryCache set',
          setup: () => fillMemory(memorySet),
          run: (i) => memorySet.set(keyOf(i % SIZE), values[i % SIZE] as DocumentValue),
        },
      ],
    },
    {
      name: 'cache set (evicting, 20 000 keys into 10 000)',
      cases: [
        {
          name: 'lru-cache set(structuredClone)',
          baseline: true,
          setup: () => fillLru(lruEvicting),
          run: (i) => lruEvicting.set(keyOf(i % (2 * SIZE)), structuredClone(heroes[i % SIZE] as Hero)),
        },
        {
          name: 'MemoryCache set',
          setup: () => fillMemory(memoryEvicting),
          run: (i) => memoryEvicting.set(keyOf(i % (2 * SIZE)), values[i % SIZE] as DocumentValue),
        },
      ],
    },
    {
      name: 'cache get (hit)',
      cases: [
        {
          name: 'lru-cache structuredClone(get)',
          baseline: true,
          setup: () => fillLru(lruGet),
          run: (i) => structuredClone(lruGet.get(keyOf(i % SIZE))),
        },
        {
          name: 'MemoryCache get',
          setup: () => fillMemory(memoryGet),
          run: (i) => memoryGet.get(keyOf(i % SIZE)),
        },
      ],
    },
  ];
}
