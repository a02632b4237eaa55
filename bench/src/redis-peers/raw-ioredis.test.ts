import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hero, heroId, SIZE } from '../heroes.js';
import { RawRedisCollection } from './raw-ioredis.js';
import { BenchPrefixes, checkedPrefix, scanKeys } from './redis-server.js';

// The raw side must do the work a repository does, or the ratios beside it
// mean nothing: these check its answers and index against the heroes
// themselves, on the shared server, under prefixes of the test's own.

const prefixes = new BenchPrefixes();
beforeAll(() => prefixes.reachable());
afterAll(() => prefixes.dropAll());

const keysUnder = (prefix: string): Promise<string[]> => scanKeys(prefixes.redis, `${checkedPrefix(prefix)}*`);

describe('RawRedisCollection', () => {
  it('finds by level exactly the heroes of that level, in id order, after fill', async () => {
    const collection = new RawRedisCollection(prefixes.redis, prefixes.next('test_find'));
    await collection.fill();
    const expected = Array.from({ length: SIZE }, (_, i) => hero(i)).filter((h) => h.level === 42);
    expect(expected).toHaveLength(100);
    expect(await collection.findByLevel(42)).toEqual(expected);
    expect(await collection.get(heroId(7))).toEqual(hero(7));
    expect(await collection.get('missing')).toBeNull();
  });

  it('keeps the index with each insert and update, and refuses a second insert of one id', async () => {
    const collection = new RawRedisCollection(prefixes.redis, prefixes.next('test_write'));
    const document = { ...hero(3), level: 5 };
    await collection.insert(document);
    await expect(collection.insert(document)).rejects.toThrow(/exists/);
    expect(await collection.increment(document.id)).toEqual({ ...document, level: 6 });
    expect(await collection.findByLevel(5)).toEqual([]);
    expect(await collection.findByLevel(6)).toEqual([{ ...document, level: 6 }]);
    await expect(collection.increment('missing')).rejects.toThrow(/missing/);
  });

  it('clear deletes its own keys and no one else’s', async () => {
    const mine = prefixes.next('test_mine');
    const other = prefixes.next('test_other');
    const collection = new RawRedisCollection(prefixes.redis, mine);
    await collection.insertMany([hero(1), hero(2)]);
    await prefixes.redis.set(`${other}kept`, '1');
    expect(await keysUnder(mine)).toHaveLength(3);
    await collection.clear();
    expect(await keysUnder(mine)).toEqual([]);
    expect(await prefixes.redis.get(`${other}kept`)).toBe('1');
  });
});

describe('checkedPrefix', () => {
  it('refuses what is not a benchmark prefix, glob characters included', () => {
    for (const prefix of ['', 'bench:', 'bench:*:', 'bench:a?:', 'bench:[a]:', 'other:a:', 'bench:a']) {
      expect(() => checkedPrefix(prefix)).toThrow(/not a benchmark key prefix/);
    }
    expect(checkedPrefix('bench:a_1:')).toBe('bench:a_1:');
  });
});
