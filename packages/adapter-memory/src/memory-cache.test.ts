import { type DocumentValue, isBerthError } from '@berth/core';
import { MAX_NESTING_DEPTH, stringifyDocument } from '@berth/core/adapter';
import { describe, expect, it } from 'vitest';
import { MemoryCache, type MemoryCacheConfig } from './memory-cache.js';

// The contract (round trips, copies, TTL, prefix delete, stats, LRU) is the
// cache conformance suite's, run on MemoryCache in @berth/conformance-tests.
// These tests pin what is MemoryCache's own: the clock, the byte weights and
// the configuration checks.

function withClock(config: MemoryCacheConfig = {}): { cache: MemoryCache; advance(ms: number): void } {
  let now = 1_000;
  const cache = new MemoryCache({ ...config, now: () => now });
  return {
    cache,
    advance: (ms) => {
      now += ms;
    },
  };
}

async function codeOf(work: () => unknown): Promise<string | undefined> {
  try {
    await work();
  } catch (error) {
    return isBerthError(error) ? error.code : String(error);
  }
  return undefined;
}

describe('MemoryCache', () => {
  it('expires an entry exactly at its TTL on its clock', async () => {
    const { cache, advance } = withClock();
    await cache.set('k', 1, { ttlMs: 100 });
    advance(99);
    expect(await cache.get('k')).toBe(1);
    advance(1);
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.stats()).toStrictEqual({ hits: 1, misses: 1, size: 0 });
  });

  it('applies defaultTtlMs to a set without a TTL, and a TTL given on set over it', async () => {
    const { cache, advance } = withClock({ defaultTtlMs: 50 });
    await cache.set('default', 1);
    await cache.set('own', 2, { ttlMs: 500 });
    advance(60);
    expect(await cache.get('default')).toBeUndefined();
    expect(await cache.get('own')).toBe(2);
  });

  it('drops expired entries when stats() is asked, freeing their bytes', async () => {
    const { cache, advance } = withClock();
    await cache.set('short', 'x'.repeat(100), { ttlMs: 10 });
    await cache.set('kept', 1);
    const bytesBefore = cache.byteSize;
    advance(10);
    expect((await cache.stats()).size).toBe(1);
    expect(cache.byteSize).toBe(bytesBefore - ('short'.length + 102));
  });

  it('weighs an entry as the UTF-8 bytes of its key and of its JSON text, Dates encoded', async () => {
    const cache = new MemoryCache();
    await cache.set('k€', { at: new Date(0) });
    // 'k€' is 4 bytes; {"at":{"$date":"1970-01-01T00:00:00.000Z"}} is 43.
    expect(cache.byteSize).toBe(4 + 43);
    await cache.set('k€', '😀');
    expect(cache.byteSize).toBe(4 + 6);
    await cache.delete('k€');
    expect(cache.byteSize).toBe(0);
  });

  it('weighs exactly what the JSON text would weigh, without writing it', async () => {
    // set() counts the bytes from the value; these are the cases where a
    // count could drift from the encoded text: escapes, astral characters,
    // number spellings, Dates at the ends of their range, deep nesting, size.
    let deep: DocumentValue = 'bottom';
    for (let level = 0; level < MAX_NESTING_DEPTH; level++) deep = level % 2 === 0 ? [deep] : { [`k${level}`]: deep };
    const values: DocumentValue[] = [
      '',
      'quote " backslash \\ slash /',
      '\u0001\u001f\b\t\n\f\r\u007f\u0080',
      'é€😀𝄞 \u2028\u2029 \uFEFF',
      '😀'.repeat(100_000),
      `${'x'.repeat(1_000_000)}"\\\n`,
      0,
      -0,
      5e-324,
      1e308,
      -1.7976931348623157e308,
      2 ** 53 + 2,
      1e21,
      123456789.125,
      true,
      false,
      null,
      [],
      {},
      [[], {}, [null]],
      { 'key "quoted"': 1, 'é😀': [1, 'two', { three: 3 }], '\u0001': '\n' },
      new Date(-1),
      new Date('0000-01-01T00:00:00.000Z'),
      new Date('9999-12-31T23:59:59.999Z'),
      { at: [new Date(0), { nested: new Date(1) }] },
      deep,
    ];
    const cache = new MemoryCache({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 });
    const utf8 = (text: string): number => Buffer.byteLength(text, 'utf8');
    for (const [index, value] of values.entries()) {
      const key = `k😀${index}`;
      await cache.set(key, value);
      expect({ index, bytes: cache.byteSize }).toStrictEqual({
        index,
        bytes: utf8(key) + utf8(stringifyDocument(value)),
      });
      await cache.delete(key);
    }
    expect(cache.byteSize).toBe(0);
  });

  it('keeps a value exactly at maxBytes and refuses one a byte heavier', async () => {
    // Key 'k' (1) + '"' + 7 × '😀' (28 bytes) + 'x' + '"' = 32 bytes.
    const cache = new MemoryCache({ maxBytes: 32 });
    await cache.set('k', `${'😀'.repeat(7)}x`);
    expect(cache.byteSize).toBe(32);
    expect(await cache.get('k')).toBe(`${'😀'.repeat(7)}x`);
    // A newline is one byte of UTF-8 but two of JSON (`\n`): 33 bytes, not kept.
    await cache.set('k', `${'😀'.repeat(7)}\n`);
    expect(cache.byteSize).toBe(0);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('evicts in recency order through long runs of sets, hits, deletes and clears, as a reference LRU does', async () => {
    // The reference: a Map re-inserted on every use, evicting from the front.
    const reference = new Map<string, number>();
    const cache = new MemoryCache({ maxEntries: 5, maxBytes: 22 });
    const weight = (key: string, value: number): number => key.length + String(value).length;
    let bytes = 0;
    const drop = (key: string): void => {
      const value = reference.get(key);
      if (value === undefined) return;
      reference.delete(key);
      bytes -= weight(key, value);
    };
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 0; step < 5_000; step++) {
      const key = `k${random(9)}`;
      const action = random(20);
      if (action < 10) {
        const value = random(10) === 0 ? 10 ** 30 : random(1000);
        await cache.set(key, value);
        drop(key);
        if (weight(key, value) <= 22) {
          reference.set(key, value);
          bytes += weight(key, value);
          for (const oldest of reference.keys()) {
            if (reference.size <= 5 && bytes <= 22) break;
            drop(oldest);
          }
        }
      } else if (action < 17) {
        const expected = reference.get(key);
        if (expected !== undefined) {
          reference.delete(key);
          reference.set(key, expected);
        }
        expect(await cache.get(key)).toBe(expected);
      } else if (action < 19) {
        expect(await cache.delete(key)).toBe(reference.has(key));
        drop(key);
      } else if (random(10) === 0) {
        await cache.clear();
        reference.clear();
        bytes = 0;
      }
      expect(cache.byteSize).toBe(bytes);
    }
    expect((await cache.stats()).size).toBe(reference.size);
  });

  it('evicts to the entry bound and to the byte bound', async () => {
    const byEntries = new MemoryCache({ maxEntries: 2 });
    for (const key of ['a', 'b', 'c']) await byEntries.set(key, key);
    expect((await byEntries.stats()).size).toBe(2);
    expect(await byEntries.get('a')).toBeUndefined();

    const byBytes = new MemoryCache({ maxBytes: 20 });
    await byBytes.set('a', 'x'.repeat(10));
    expect(byBytes.byteSize).toBe(1 + 12);
    // 13 + 8 bytes pass the bound: 'a' goes.
    await byBytes.set('b', 'x'.repeat(5));
    expect(await byBytes.get('a')).toBeUndefined();
    expect(byBytes.byteSize).toBe(1 + 7);
    await byBytes.set('c', 'x'.repeat(30));
    expect(await byBytes.get('b')).toBe('xxxxx');
    expect(await byBytes.get('c')).toBeUndefined();
  });

  it('leaves a value in place when a set fails validation', async () => {
    const cache = new MemoryCache();
    await cache.set('k', 'kept');
    expect(await codeOf(() => cache.set('k', { n: Number.NaN }))).toBe('VALIDATION');
    expect(await codeOf(() => cache.set('k', 1, { ttlMs: 0 }))).toBe('VALIDATION');
    expect(await cache.get('k')).toBe('kept');
  });

  it('refuses keys and prefixes that are not well-formed strings', async () => {
    const cache = new MemoryCache();
    expect(await codeOf(() => cache.set('\uD800', 1))).toBe('VALIDATION');
    expect(await codeOf(() => cache.get('a\u0000'))).toBe('VALIDATION');
    expect(await codeOf(() => cache.deleteByPrefix(5 as unknown as string))).toBe('VALIDATION');
  });

  it('checks its configuration', async () => {
    expect(await codeOf(() => new MemoryCache({ maxEntries: 0 }))).toBe('VALIDATION');
    expect(await codeOf(() => new MemoryCache({ maxEntries: 1.5 }))).toBe('VALIDATION');
    expect(await codeOf(() => new MemoryCache({ maxBytes: -1 }))).toBe('VALIDATION');
    expect(await codeOf(() => new MemoryCache({ defaultTtlMs: Number.POSITIVE_INFINITY }))).toBe('VALIDATION');
    const cache = new MemoryCache();
    expect([cache.maxEntries, cache.maxBytes, cache.defaultTtlMs]).toStrictEqual([10_000, 64 * 1024 * 1024, undefined]);
  });

  it('closes idempotently', async () => {
    const cache = new MemoryCache();
    await cache.close();
    await cache.close();
  });
});
