import { type DocumentValue, isBerthError } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, rawClient, rejection, requireRedis, uniqueKeyPrefix } from './fixtures/redis-server.js';
import { RedisCache, type RedisCacheConfig } from './redis-cache.js';
import { prefixPattern } from './redis-scan.js';

const raw = rawClient();
const caches: RedisCache[] = [];

/** A cache under a prefix of this test's own, cleared and closed after the file. */
function newCache(config: RedisCacheConfig = {}): RedisCache {
  const cache = new RedisCache({ url: REDIS_URL, keyPrefix: uniqueKeyPrefix('cache'), ...config });
  caches.push(cache);
  return cache;
}

async function expectCode(action: Promise<unknown>, code: string): Promise<void> {
  const error = await rejection(action);
  expect(isBerthError(error) ? error.code : error).toBe(code);
}

beforeAll(async () => {
  await requireRedis();
  await raw.connect();
});

afterAll(async () => {
  for (const cache of caches.splice(0)) {
    await cache.clear().catch(() => {});
    await cache.close();
  }
  raw.disconnect();
});

describe('prefixPattern', () => {
  it('escapes every glob metacharacter and nothing else', () => {
    expect(prefixPattern('a*b?c[d]e\\f:')).toBe('a\\*b\\?c\\[d\\]e\\\\f:*');
    expect(prefixPattern('^$.|+(')).toBe('^$.|+(*');
  });
});

describe('RedisCache keys and prefixes', () => {
  it('stores under keyPrefix + key, as JSON text with Dates encoded', async () => {
    const cache = newCache();
    await cache.set('k', { at: new Date(5), n: 1 });
    expect(await raw.get(`${cache.keyPrefix}k`)).toBe('{"at":{"$date":"1970-01-01T00:00:00.005Z"},"n":1}');
  });

  it('a key prefix with glob metacharacters only ever touches its own keys', async () => {
    const base = uniqueKeyPrefix('glob');
    const starred = newCache({ keyPrefix: `${base}a*` });
    const plain = newCache({ keyPrefix: `${base}ab` });
    const bracket = newCache({ keyPrefix: `${base}[ab]?\\` });
    const other = newCache({ keyPrefix: `${base}a\\` });
    for (const cache of [starred, plain, bracket, other]) await cache.set('k', cache.keyPrefix);
    await starred.clear();
    await bracket.clear();
    expect(await starred.get('k')).toBeUndefined();
    expect(await bracket.get('k')).toBeUndefined();
    expect(await plain.get('k')).toBe(plain.keyPrefix);
    expect(await other.get('k')).toBe(other.keyPrefix);
    expect((await plain.stats()).size).toBe(1);
  });

  it("deleteByPrefix('a*') deletes a*… and never ab", async () => {
    const cache = newCache();
    for (const key of ['ab', 'a*', 'a*b', 'a', 'b*']) await cache.set(key, key);
    expect(await cache.deleteByPrefix('a*')).toBe(2);
    expect(await cache.get('ab')).toBe('ab');
    expect(await cache.get('a')).toBe('a');
    expect(await cache.get('a*b')).toBeUndefined();
  });

  it('two caches with different prefixes on one server do not see each other', async () => {
    const first = newCache();
    const second = newCache();
    await first.set('shared', 1);
    await second.set('shared', 2);
    await second.set('only-second', 3);
    expect(await first.get('shared')).toBe(1);
    expect(await first.get('only-second')).toBeUndefined();
    expect(await first.deleteByPrefix('')).toBe(1);
    expect(await second.get('shared')).toBe(2);
    expect((await second.stats()).size).toBe(2);
    await second.clear();
    expect((await second.stats()).size).toBe(0);
  });

  it('astral characters, __proto__ and long keys round-trip; NUL and lone surrogates are VALIDATION', async () => {
    const cache = newCache();
    const keys = ['😀', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '__proto__', 'constructor', 'k'.repeat(10_000)];
    for (const [index, key] of keys.entries()) await cache.set(key, index);
    for (const [index, key] of keys.entries()) expect(await cache.get(key)).toBe(index);
    expect(await cache.deleteByPrefix('😀')).toBe(1);
    for (const key of ['a\u0000b', '\uD800']) {
      await expectCode(cache.set(key, 1), 'VALIDATION');
      await expectCode(cache.get(key), 'VALIDATION');
      await expectCode(cache.deleteByPrefix(key), 'VALIDATION');
    }
    expect(() => new RedisCache({ url: REDIS_URL, keyPrefix: 'a\u0000' })).toThrow(/U\+0000/);
  });

  it('a value with an own __proto__ key is VALIDATION; JSON text with one in Redis is refused on get', async () => {
    const cache = newCache();
    const value = JSON.parse('{"__proto__": {"polluted": true}}') as DocumentValue;
    await expectCode(cache.set('k', value), 'VALIDATION');
    await raw.set(`${cache.keyPrefix}k`, '{"__proto__": {"polluted": true}}');
    await expectCode(cache.get('k'), 'VALIDATION');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('text Berth did not write is a VALIDATION error on get, not a crash', async () => {
    const cache = newCache();
    await raw.set(`${cache.keyPrefix}garbage`, 'not json');
    await expectCode(cache.get('garbage'), 'VALIDATION');
  });

  it('keys that are not UTF-8 under the prefix are still deleted and counted', async () => {
    const cache = newCache();
    await raw.set(Buffer.concat([Buffer.from(cache.keyPrefix), Buffer.from([0xff, 0xfe])]), '1');
    await cache.set('k', 1);
    expect((await cache.stats()).size).toBe(2);
    expect(await cache.deleteByPrefix('')).toBe(2);
    expect((await cache.stats()).size).toBe(0);
  });

  it('holds a value of nearly 16 MiB; a larger one is VALIDATION and leaves the old value', async () => {
    const cache = newCache();
    const big = 'x'.repeat(16 * 1024 * 1024 - 100);
    await cache.set('big', big);
    expect(await cache.get('big')).toBe(big);
    await expectCode(cache.set('big', `${big}${'y'.repeat(200)}`), 'VALIDATION');
    expect(((await cache.get('big')) as string).length).toBe(big.length);
  });
});

describe('RedisCache TTLs', () => {
  it('TTLs are milliseconds (PX), the default TTL applies, and a fraction rounds up', async () => {
    const cache = newCache({ defaultTtlMs: 5_000 });
    await cache.set('ms', 1, { ttlMs: 1_500 });
    await cache.set('default', 1);
    await cache.set('fraction', 1, { ttlMs: 0.5 });
    const ms = await raw.pttl(`${cache.keyPrefix}ms`);
    expect(ms).toBeGreaterThan(1_000);
    expect(ms).toBeLessThanOrEqual(1_500);
    const fallback = await raw.pttl(`${cache.keyPrefix}default`);
    expect(fallback).toBeGreaterThan(4_000);
    expect(fallback).toBeLessThanOrEqual(5_000);
  });

  it('refuses a bad defaultTtlMs', () => {
    expect(() => new RedisCache({ url: REDIS_URL, defaultTtlMs: 0 })).toThrow(/defaultTtlMs/);
  });
});

describe('RedisCache configuration and lifetime', () => {
  it('refuses an empty prefix, a URL beside a client, another scheme, and a client with its own keyPrefix', async () => {
    const prefixed = rawClient();
    prefixed.options.keyPrefix = 'p:';
    const cases: RedisCacheConfig[] = [
      { url: REDIS_URL, keyPrefix: '' },
      { url: REDIS_URL, client: raw },
      { url: 'http://127.0.0.1:6379' },
      { client: prefixed },
      { client: raw, commandTimeoutMs: 100 },
      { url: REDIS_URL, commandTimeoutMs: 0 },
    ];
    for (const config of cases) {
      let error: unknown;
      try {
        new RedisCache(config);
      } catch (caught) {
        error = caught;
      }
      expect(isBerthError(error, 'VALIDATION'), JSON.stringify(Object.keys(config))).toBe(true);
    }
    prefixed.disconnect();
  });

  it('uses a client you pass and leaves it open on close; close is idempotent; a closed cache refuses work', async () => {
    const cache = new RedisCache({ client: raw, keyPrefix: uniqueKeyPrefix('client') });
    await cache.set('k', 1);
    expect(await cache.get('k')).toBe(1);
    await cache.clear();
    await cache.close();
    await cache.close();
    expect(await raw.ping()).toBe('PONG');
    const error = await rejection(cache.get('k'));
    expect(isBerthError(error, 'CONNECTION') && !error.retryable).toBe(true);
  });

  it('closes the client it made from the URL', async () => {
    const cache = new RedisCache({ url: REDIS_URL, keyPrefix: uniqueKeyPrefix('own') });
    await cache.stats();
    await cache.close();
    expect((cache as unknown as { client: { status: string } }).client.status).toBe('end');
  });
});
