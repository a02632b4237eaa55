import { expect } from 'vitest';
import { type CacheConformanceContext, type CacheFixture, defineCacheGroup } from '../cache-harness.js';
import type { ConformanceGroup } from '../harness.js';

/** Sets every key (value: the key) and returns a function telling which are still there. */
async function fill(context: CacheConformanceContext, keys: readonly string[]): Promise<() => Promise<string[]>> {
  for (const key of keys) await context.cache.set(key, key);
  return async () => {
    const held: string[] = [];
    for (const key of keys) if ((await context.cache.get(key)) !== undefined) held.push(key);
    return held;
  };
}

/** Keys built around the characters glob, LIKE and regex patterns treat specially. */
const PATTERN_KEYS: readonly string[] = [
  'a',
  'ab',
  'aXb',
  'b*',
  'a*',
  'a*b',
  'a%',
  'a%b',
  'a_',
  'a_b',
  'a[',
  'a[b]',
  'ab]',
  'a?',
  'a?b',
  'a\\',
  'a\\b',
  'a.',
  'a.b',
  'a^',
  'a$',
  'a(b)',
  'a+',
  'a|b',
];

const PATTERN_PREFIXES: readonly string[] = [
  'a*',
  'a%',
  'a_',
  'a[',
  'a[b',
  'a?',
  'a\\',
  'a.',
  'a^',
  'a$',
  'a(',
  'a+',
  'a|',
];

/**
 * `deleteByPrefix`: removes exactly the keys that start with the prefix, every character taken literally.
 *
 * ### Examples
 * ```ts
 * import { type CacheConformanceOptions, cachePrefixGroup, cacheRunOptions, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: CacheConformanceOptions; // what your cache passes to cacheConformance
 * registerGroup(cachePrefixGroup, cacheRunOptions(options));
 * ```
 */
export const cachePrefixGroup: ConformanceGroup<CacheFixture, CacheConformanceContext> = defineCacheGroup(
  'cache-prefix',
  [
    {
      name: 'deleteByPrefix removes exactly the keys starting with the prefix and returns how many',
      async run(context) {
        const keys = ['user:1', 'user:2', 'user:10:x', 'user:', 'users:1', 'xuser:1', 'USER:1', 'use', 'user'];
        const held = await fill(context, keys);
        expect(await context.cache.deleteByPrefix('user:')).toBe(4);
        expect(await held()).toStrictEqual(['users:1', 'xuser:1', 'USER:1', 'use', 'user']);
      },
    },
    {
      name: 'every character of a prefix is literal: * % _ [ ? \\ . ^ $ ( + | match only themselves',
      async run(context) {
        for (const prefix of PATTERN_PREFIXES) {
          await context.cache.clear();
          const held = await fill(context, PATTERN_KEYS);
          const removed = PATTERN_KEYS.filter((key) => key.startsWith(prefix));
          expect(await context.cache.deleteByPrefix(prefix), `count for ${prefix}`).toBe(removed.length);
          expect(await held(), `keys left by ${prefix}`).toStrictEqual(
            PATTERN_KEYS.filter((key) => !key.startsWith(prefix)),
          );
        }
      },
    },
    {
      name: 'a prefix that matches nothing removes nothing and returns 0',
      async run(context) {
        const keys = ['a:1', 'b:2'];
        const held = await fill(context, keys);
        expect(await context.cache.deleteByPrefix('c:')).toBe(0);
        expect(await context.cache.deleteByPrefix('a:1:')).toBe(0);
        expect(await held()).toStrictEqual(keys);
      },
    },
    {
      name: 'prefixes compare exactly: case, accents and emoji',
      async run(context) {
        const keys = ['é:1', 'e\u0301:1', 'E:1', 'e:1', '😀:1', '😁:1'];
        const held = await fill(context, keys);
        expect(await context.cache.deleteByPrefix('é')).toBe(1);
        expect(await context.cache.deleteByPrefix('😀')).toBe(1);
        expect(await context.cache.deleteByPrefix('e')).toBe(2);
        expect(await held()).toStrictEqual(['E:1', '😁:1']);
      },
    },
    {
      name: 'the empty prefix removes every key',
      async run(context) {
        const held = await fill(context, ['a', 'b:c', '😀']);
        expect(await context.cache.deleteByPrefix('')).toBe(3);
        expect(await held()).toStrictEqual([]);
      },
    },
  ],
);
