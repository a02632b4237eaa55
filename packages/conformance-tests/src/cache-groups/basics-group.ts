import type { DocumentValue } from '@berth/core';
import { expect } from 'vitest';
import { type CacheConformanceContext, type CacheFixture, defineCacheGroup } from '../cache-harness.js';
import { expectBerthError, invalid } from '../groups/assertions.js';
import type { ConformanceGroup } from '../harness.js';

/** One value of every kind a cache must hold, Dates included. */
const VALUES: readonly (readonly [string, DocumentValue])[] = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['zero', 0],
  ['negative fraction', -12.5],
  ['huge number', 1e300],
  ['max safe integer', Number.MAX_SAFE_INTEGER],
  ['empty string', ''],
  ['string of every sort of character', 'a/b:c\'"%_*?[]\\ é 😀\n\t'],
  ['date', new Date('2026-11-05T10:20:30.456Z')],
  ['epoch date', new Date(0)],
  ['date before 1970', new Date('1901-02-03T04:05:06.007Z')],
  ['empty array', []],
  ['empty object', {}],
  ['nested', { a: { b: [1, 'x', null, { at: new Date(5) }] }, list: [[1], []], flag: false }],
];

class Point {
  constructor(readonly x: number) {}
}

function circular(): unknown {
  const value: Record<string, unknown> = { a: 1 };
  value.self = value;
  return value;
}

/** Values outside the document model, each of which `set` must refuse. */
const BAD_VALUES: readonly (readonly [string, () => unknown])[] = [
  ['undefined', () => undefined],
  ['NaN', () => Number.NaN],
  ['Infinity', () => Number.POSITIVE_INFINITY],
  ['a BigInt', () => ({ n: 1n })],
  ['a Map', () => ({ m: new Map() })],
  ['a class instance', () => ({ p: new Point(1) })],
  ['a function', () => [() => 1]],
  ['a symbol', () => Symbol('s')],
  ['an invalid Date', () => ({ at: new Date(Number.NaN) })],
  ['undefined in an array', () => [1, undefined]],
  ['a key starting with $', () => ({ nested: { $where: 1 } })],
  ['U+0000 in a string', () => 'a\u0000b'],
  ['a lone surrogate', () => ({ s: '\uD800' })],
  ['a circular reference', circular],
];

/** Expects a VALIDATION error, naming the value when there is none. */
async function refused(name: string, action: () => Promise<unknown>): Promise<void> {
  try {
    await expectBerthError(action, 'VALIDATION');
  } catch (error) {
    throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * `get`, `set` and `delete`: every kind of value round-trips (Dates as Dates), and values are copied in and
 * out.
 *
 * ### Examples
 * ```ts
 * import { cacheBasicsGroup, type CacheConformanceOptions, cacheRunOptions, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: CacheConformanceOptions; // what your cache passes to cacheConformance
 * registerGroup(cacheBasicsGroup, cacheRunOptions(options));
 * ```
 */
export const cacheBasicsGroup: ConformanceGroup<CacheFixture, CacheConformanceContext> = defineCacheGroup(
  'cache-basics',
  [
    {
      name: 'every kind of value round-trips, Dates as Dates',
      async run({ cache }) {
        for (const [name, value] of VALUES) await cache.set(`value:${name}`, value);
        for (const [name, value] of VALUES) {
          expect(await cache.get(`value:${name}`), name).toStrictEqual(value);
        }
        await cache.set('value:minus zero', -0);
        expect(Object.is(await cache.get('value:minus zero'), 0), '-0 comes back as 0').toBe(true);
      },
    },
    {
      name: 'a missing key gives undefined; delete says whether the key was there',
      async run({ cache }) {
        expect(await cache.get('missing')).toBeUndefined();
        expect(await cache.delete('missing')).toBe(false);
        await cache.set('k', 'v');
        expect(await cache.delete('k')).toBe(true);
        expect(await cache.get('k')).toBeUndefined();
        expect(await cache.delete('k')).toBe(false);
      },
    },
    {
      name: 'set replaces the value of a key',
      async run({ cache }) {
        await cache.set('k', { version: 1 });
        await cache.set('k', [2]);
        expect(await cache.get('k')).toStrictEqual([2]);
        await cache.set('k', null);
        expect(await cache.get('k')).toBeNull();
      },
    },
    {
      name: 'values are copied in and out: no caller shares state with the cache',
      async run({ cache }) {
        const at = new Date(1000);
        const value = { list: [1, 2], nested: { at }, name: 'a' };
        await cache.set('k', value);
        value.list.push(3);
        value.nested.at.setTime(2000);
        value.name = 'changed';
        const expected = { list: [1, 2], nested: { at: new Date(1000) }, name: 'a' };
        const first = (await cache.get('k')) as typeof value;
        expect(first).toStrictEqual(expected);
        first.list.push(4);
        first.nested.at.setTime(3000);
        first.name = 'mutated';
        const second = await cache.get('k');
        expect(second).toStrictEqual(expected);
        expect(second).not.toBe(first);
      },
    },
    {
      name: 'keys of any characters are kept apart',
      async run({ cache }) {
        const keys = [
          'a',
          'A',
          'a ',
          ' a',
          'a:b',
          'a/b',
          'a\\b',
          "it's",
          'a"b',
          'a*',
          'a%',
          'a_',
          'a[b]',
          'a?',
          'ключ',
          'é',
          'e\u0301',
          '😀',
          'k'.repeat(1000),
        ];
        for (const [index, key] of keys.entries()) await cache.set(key, index);
        for (const [index, key] of keys.entries()) expect(await cache.get(key), key).toBe(index);
      },
    },
    {
      name: 'a value outside the document model is a VALIDATION error and changes nothing',
      async run({ cache }) {
        await cache.set('k', 'before');
        for (const [name, make] of BAD_VALUES) {
          await refused(name, () => cache.set('k', invalid<DocumentValue>(make())));
          await refused(name, () => cache.set(`new ${name}`, invalid<DocumentValue>(make())));
          expect(await cache.get(`new ${name}`), name).toBeUndefined();
        }
        expect(await cache.get('k')).toBe('before');
      },
    },
    {
      name: 'a ttlMs that is not a positive number is a VALIDATION error',
      async run({ cache }) {
        for (const ttlMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '100']) {
          await expectBerthError(() => cache.set('k', 1, { ttlMs: invalid<number>(ttlMs) }), 'VALIDATION');
        }
        expect(await cache.get('k')).toBeUndefined();
      },
    },
    {
      name: 'an aborted signal rejects every operation with ABORTED and changes nothing',
      async run({ cache }) {
        await cache.set('kept', 1);
        const controller = new AbortController();
        const reason = new Error('stop');
        controller.abort(reason);
        const signal = controller.signal;
        await expectBerthError(() => cache.set('new', 1, { signal }), 'ABORTED', { cause: reason });
        await expectBerthError(() => cache.get('kept', { signal }), 'ABORTED', { cause: reason });
        await expectBerthError(() => cache.delete('kept', { signal }), 'ABORTED', { cause: reason });
        await expectBerthError(() => cache.deleteByPrefix('', { signal }), 'ABORTED', { cause: reason });
        await expectBerthError(() => cache.clear({ signal }), 'ABORTED', { cause: reason });
        await expectBerthError(() => cache.stats({ signal }), 'ABORTED', { cause: reason });
        expect(await cache.get('new')).toBeUndefined();
        expect(await cache.get('kept')).toBe(1);
      },
    },
  ],
);
