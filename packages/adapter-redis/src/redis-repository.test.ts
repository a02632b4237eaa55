import { freePort } from '@berth/conformance-tests/processes';
import { createBackend, isBerthError } from '@berth/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  PrivateRedis,
  REDIS_URL,
  rawClient,
  rejection,
  requireRedis,
  uniqueKeyPrefix,
} from './fixtures/redis-server.js';
import { RedisBackend } from './redis-backend.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from './redis-scan.js';

const client = rawClient();
const prefixes: string[] = [];
const backends: RedisBackend[] = [];

beforeAll(async () => {
  await requireRedis();
  await client.connect();
});

afterEach(async () => {
  for (const backend of backends.splice(0)) await backend.close();
  for (const prefix of prefixes.splice(0)) {
    await forEachKeyBatch(client, prefixPattern(prefix), unlinkKeys, undefined, 'cleanup');
  }
});

afterAll(() => client.disconnect());

function open(keyPrefix = uniqueKeyPrefix('repo-test')): RedisBackend {
  prefixes.push(keyPrefix);
  const backend = new RedisBackend({ url: REDIS_URL, keyPrefix });
  backends.push(backend);
  return backend;
}

/** Every key under `prefix`, found with SCAN. */
async function keysUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  await forEachKeyBatch(
    client,
    prefixPattern(prefix),
    (_, keys) => {
      for (const key of keys) found.push(key.toString());
      return keys.length;
    },
    undefined,
    'keys',
  );
  return found.sort();
}

describe('RedisBackend key layout', () => {
  it('every key a collection writes sits under the prefix and carries the collection as its hash tag (one slot)', async () => {
    const backend = open();
    const users = backend.repository('users', {
      indexes: [
        { field: 'email', type: 'string', unique: true },
        { field: 'team', type: 'string' },
        {
          fields: [
            { field: 'team', type: 'string' },
            { field: 'age', type: 'number' },
          ],
          unique: true,
        },
      ],
    });
    await users.insertMany([
      { id: 'ada', email: 'ada@example.com', team: 'red', age: 36 },
      { id: 'bob', email: 'bob@example.com', team: 'blue', age: 41 },
    ]);
    await users.update('bob', { team: 'red' });
    await backend.transaction(async (tx) => {
      await tx.repository('users').delete('ada');
      await tx.repository('teams').insert({ id: 'red' });
    });
    const keys = await keysUnder(backend.keyPrefix);
    expect(keys.length).toBeGreaterThanOrEqual(6);
    for (const key of keys) {
      expect(key.startsWith(backend.keyPrefix)).toBe(true);
      // Redis Cluster hashes the text between the first "{" and the next "}".
      const open = key.indexOf('{');
      const tag = key.slice(open + 1, key.indexOf('}', open + 1));
      expect(['users', 'teams'], key).toContain(tag);
    }
  });

  it('refuses a key prefix holding a brace, which would move or break the hash tag', () => {
    for (const keyPrefix of ['a{', '}', 'x{y}:', '{}']) {
      expect(() => new RedisBackend({ url: REDIS_URL, keyPrefix }), keyPrefix).toThrow(/braces/);
    }
  });

  it('refuses a url and a client together, and a client with its own ioredis keyPrefix', () => {
    const prefixed = rawClient();
    prefixed.options.keyPrefix = 'own:';
    try {
      expect(() => new RedisBackend({ url: REDIS_URL, client: prefixed })).toThrow(/not both/);
      expect(() => new RedisBackend({ client: prefixed })).toThrow(/keyPrefix/);
    } finally {
      prefixed.disconnect();
    }
  });
});

describe('RedisBackend input that looks like code or patterns', () => {
  const shaped = [
    '*',
    '{',
    '}',
    ']',
    '[a-z]',
    'a b',
    'line\nbreak',
    "redis.call('FLUSHALL')",
    '"]) end --',
    '__proto__',
    '\\',
  ];

  it('ids and values shaped like globs, braces, Lua or __proto__ are stored and found as data', async () => {
    const backend = open();
    const things = backend.repository('things', { indexes: [{ field: 'tag', type: 'string', unique: true }] });
    for (const [index, text] of shaped.entries()) await things.insert({ id: text, tag: text, n: index });
    expect(await things.count()).toBe(shaped.length);
    for (const text of shaped) {
      expect(await things.get(text)).toMatchObject({ id: text, tag: text });
      expect(await things.find({ where: { tag: text } })).toHaveLength(1);
      expect(await things.find({ where: { id: text } })).toHaveLength(1);
    }
    expect((await things.find({ where: { tag: { $startsWith: '*' } } })).map((thing) => thing.id)).toStrictEqual(['*']);
    await expect(things.insert({ id: 'other', tag: '*' })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    // The server still holds every key: nothing ran as a command.
    expect(await client.ping()).toBe('PONG');
    expect(await things.deleteMany({})).toBe(shaped.length);
  });

  it('a prefix that starts with another one never sees its keys', async () => {
    const base = uniqueKeyPrefix('nested');
    const outer = open(base);
    const inner = open(`${base}x`);
    await outer.repository('c', { indexes: [{ field: 'v', type: 'string' }] }).insert({ id: 'a', v: 'same' });
    await inner.repository('c', { indexes: [{ field: 'v', type: 'string' }] }).insert({ id: 'b', v: 'same' });
    expect(await outer.repository('c').find({ where: { v: 'same' } })).toStrictEqual([{ id: 'a', v: 'same' }]);
    expect(await inner.repository('c').find({ where: { v: 'same' } })).toStrictEqual([{ id: 'b', v: 'same' }]);
    expect(await outer.repository('c').count()).toBe(1);
  });

  it('prefixes shaped like glob patterns see only their own keys', async () => {
    const base = uniqueKeyPrefix('glob');
    const star = open(`${base}*`);
    const plain = open(`${base}x`);
    await star.repository('c').insert({ id: 'a' });
    await plain.repository('c').insert({ id: 'b' });
    expect(await star.repository('c').find()).toStrictEqual([{ id: 'a' }]);
    expect(await plain.repository('c').find()).toStrictEqual([{ id: 'b' }]);
  });
});

describe('RedisBackend isolation and connections', () => {
  it('two backends on one server with different prefixes never see each other', async () => {
    const first = open();
    const second = open();
    const unique = [{ field: 'email', type: 'string', unique: true }] as const;
    await first.repository('users', { indexes: unique }).insert({ id: 'ada', email: 'a@example.com' });
    await second.repository('users', { indexes: unique }).insert({ id: 'bob', email: 'a@example.com' });
    expect(await first.repository('users').find()).toStrictEqual([{ id: 'ada', email: 'a@example.com' }]);
    expect(await second.repository('users').find()).toStrictEqual([{ id: 'bob', email: 'a@example.com' }]);
    expect(await second.repository('users').get('ada')).toBeNull();
  });

  it('a backend pointed at a closed port fails with a retryable CONNECTION error that says how to start Redis', async () => {
    const port = await freePort();
    const backend = new RedisBackend({ url: `redis://127.0.0.1:${port}` });
    try {
      for (const action of [
        backend.connect(),
        backend.repository('c').get('a'),
        backend.repository('c').insert({ id: 'a' }),
      ]) {
        const error = await rejection(action);
        expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);
        expect((error as { retryable: boolean }).retryable).toBe(true);
        expect((error as Error).message).toContain(`127.0.0.1:${port}`);
        expect((error as Error).message).toContain('redis-server --daemonize yes');
      }
      expect((await backend.health()).ok).toBe(false);
    } finally {
      await backend.close();
    }
  });

  it('a client passed in stays open after close()', async () => {
    const own = rawClient();
    await own.connect();
    try {
      const prefix = uniqueKeyPrefix('given');
      prefixes.push(prefix);
      const backend = new RedisBackend({ client: own, keyPrefix: prefix });
      await backend.repository('c').insert({ id: 'a' });
      await backend.close();
      await backend.close();
      expect(await own.ping()).toBe('PONG');
      await expect(backend.repository('c').get('a')).rejects.toMatchObject({ code: 'CONNECTION' });
    } finally {
      own.disconnect();
    }
  });

  it('createBackend opens redis:// URLs with ?keyPrefix=, for repositories and queues under that prefix', async () => {
    const prefix = uniqueKeyPrefix('url');
    prefixes.push(prefix);
    const backend = await createBackend(`${REDIS_URL}?keyPrefix=${encodeURIComponent(prefix)}`, {
      adapters: [await import('./index.js')],
    });
    try {
      expect(backend.kind).toBe('redis');
      await backend.repository('c').insert({ id: 'a' });
      expect(await client.exists(`${prefix}{c}:d:a`)).toBe(1);
      const { id } = await backend.queue('jobs').enqueue({ n: 1 });
      expect(await client.exists(`${prefix}{q:jobs}:j:${id}`)).toBe(1);
    } finally {
      await backend.close();
    }
  });
});

describe('RedisBackend index declarations', () => {
  it('a backend whose cached declarations are stale (the server lost its keys) scans instead of trusting an index', async () => {
    const first = open();
    const teams = first.repository('users', { indexes: [{ field: 'team', type: 'string' }] });
    await teams.insert({ id: 'a', team: 'red' });
    expect(await teams.find({ where: { team: 'red' } })).toHaveLength(1);
    // As after a restart of a server without persistence, or an operator's delete.
    await forEachKeyBatch(client, prefixPattern(first.keyPrefix), unlinkKeys, undefined, 'lose');
    const second = open(first.keyPrefix);
    await second.repository('users').insert({ id: 'b', team: 'red' });
    expect(await teams.find({ where: { team: 'red' } })).toStrictEqual([{ id: 'b', team: 'red' }]);
    // Its next write declares the index again, built over what is stored, and the index serves again.
    await teams.insert({ id: 'c', team: 'red' });
    expect(await teams.explain({ where: { team: 'red' } })).toMatchObject({ strategy: 'index' });
    expect(await second.repository('users').find({ where: { team: 'red' } })).toStrictEqual([
      { id: 'b', team: 'red' },
      { id: 'c', team: 'red' },
    ]);
  });
});

describe('RedisBackend bulk writes', () => {
  // A private server: the one script of 20 000 documents holds a server for
  // about 100 ms, which would stall the short leases other files' tests hold
  // on the shared one.
  let server: PrivateRedis;
  beforeAll(async () => {
    server = await PrivateRedis.start();
  });
  afterAll(() => server?.kill());

  it('insertMany of 20 000 documents is one commit (no argument list too long for the stack)', async () => {
    const backend = new RedisBackend({ url: server.url, keyPrefix: 'bulk:' });
    backends.push(backend);
    const items = backend.repository('items', { indexes: [{ field: 'n', type: 'number' }] });
    const documents = Array.from({ length: 20_000 }, (_, n) => ({ id: `i${n}`, n }));
    expect(await items.insertMany(documents)).toHaveLength(documents.length);
    expect(await items.count()).toBe(documents.length);
    expect(await items.count({ n: { $gte: 19_990 } })).toBe(10);
    expect(await items.deleteMany({})).toBe(documents.length);
  }, 30_000);
});

describe('RedisBackend queries', () => {
  it('explain names the index that narrows and the scan otherwise', async () => {
    const backend = open();
    const users = backend.repository('users', {
      indexes: [
        { field: 'email', type: 'string', unique: true },
        { field: 'team', type: 'string' },
      ],
    });
    expect(await users.explain({ where: { email: 'a@example.com', team: 'red' } })).toMatchObject({
      strategy: 'index',
      index: expect.stringContaining('email'),
    });
    expect(await users.explain({ where: { team: 'red' } })).toMatchObject({ strategy: 'index' });
    expect(await users.explain({ where: { id: 'ada' } })).toMatchObject({ strategy: 'index', index: 'id' });
    // Inside an $or the condition is not required, so the index cannot narrow.
    expect(await users.explain({ where: { $or: [{ team: 'red' }, { age: 3 }] } })).toMatchObject({ strategy: 'scan' });
    expect(await users.explain({ where: { team: null } })).toMatchObject({ strategy: 'scan' });
  });
});

describe('RedisBackend reads under concurrent transactions', () => {
  it('a find, count or getMany never shows half of a transaction that moved a token between documents', async () => {
    const backend = open();
    const writer = open(backend.keyPrefix);
    const name = 'tokens';
    const filler = Array.from({ length: 700 }, (_, index) => ({
      id: `f${String(index).padStart(3, '0')}`,
      token: false,
    }));
    await backend.repository(name).insertMany([{ id: 'a', token: true }, ...filler, { id: 'z', token: false }]);
    let reading = true;
    let moved = 0;
    const moves = (async () => {
      while (reading) {
        moved++;
        await writer.transaction(
          async (tx) => {
            const tokens = tx.repository<{ id: string; token: boolean }>(name);
            const [a] = await tokens.getMany(['a']);
            await tokens.update('a', { token: !a?.token });
            await tokens.update('z', { token: a?.token ?? false });
          },
          { retries: 10 },
        );
      }
    })();
    const seen: number[] = [];
    const reader = backend.repository<{ id: string; token: boolean }>(name);
    try {
      for (let round = 0; round < 30; round++) {
        seen.push((await reader.find({ where: { token: true } })).length);
        seen.push(await reader.count({ token: true }));
        seen.push((await reader.getMany(['a', 'z'])).filter((document) => document?.token).length);
      }
    } finally {
      reading = false;
      await moves;
    }
    expect(moved).toBeGreaterThan(10);
    expect(seen.filter((count) => count !== 1)).toStrictEqual([]);
  });
});

describe('RedisBackend paging in id order', () => {
  let server: PrivateRedis;

  beforeAll(async () => {
    server = await PrivateRedis.start();
  });

  afterAll(async () => {
    await server?.kill();
  });

  /** HMGET calls the private server has answered so far (one per document read). */
  async function documentReads(probe: ReturnType<typeof rawClient>): Promise<number> {
    const stats = (await probe.info('commandstats')) as string;
    return Number(/cmdstat_hmget:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  }

  it('a page, and iterate, read the ids from the cursor on and stop when the page is full, with the reference results', async () => {
    const probe = rawClient(server.url);
    await probe.connect();
    const backend = new RedisBackend({ url: server.url, keyPrefix: 'paging:' });
    try {
      const things = backend.repository<{ id: string; n: number; even: boolean }>('things');
      const all = Array.from({ length: 3000 }, (_, n) => ({
        id: `t${String(n).padStart(5, '0')}`,
        n,
        even: n % 2 === 0,
      }));
      await things.insertMany(all);
      const even = all.filter((thing) => thing.even);

      const before = await documentReads(probe);
      const first = await things.findPage({ where: { even: true }, limit: 10 });
      expect(first.items).toStrictEqual(even.slice(0, 10));
      expect(await documentReads(probe)).toBeLessThanOrEqual(before + 500);
      const second = await things.findPage({ where: { even: true }, limit: 10, cursor: first.nextCursor as string });
      expect(second.items).toStrictEqual(even.slice(10, 20));
      expect(await things.find({ where: { even: true }, orderBy: 'id', offset: 5, limit: 3 })).toStrictEqual(
        even.slice(5, 8),
      );
      const last = await things.findPage({ where: { even: true }, limit: 10, offset: even.length - 10 });
      expect(last).toStrictEqual({ items: even.slice(-10), nextCursor: null });

      const walked = await documentReads(probe);
      const iterated: unknown[] = [];
      for await (const thing of things.iterate({ where: { even: true } }, { batchSize: 100 })) iterated.push(thing);
      expect(iterated).toStrictEqual(even);
      // Each page reads about its own share of the ids: one pass over the collection, not one per page.
      expect(await documentReads(probe)).toBeLessThanOrEqual(walked + 2 * all.length);
    } finally {
      await backend.close();
      probe.disconnect();
    }
  });

  it('an id range or prefix in id order reads from its lower bound on, not every id before it', async () => {
    const probe = rawClient(server.url);
    await probe.connect();
    const backend = new RedisBackend({ url: server.url, keyPrefix: 'id-range:' });
    try {
      const things = backend.repository<{ id: string; n: number }>('things');
      const all = Array.from({ length: 3000 }, (_, n) => ({ id: `t${String(n).padStart(5, '0')}`, n }));
      await things.insertMany(all);
      // berth copy resumes with `id $gt lastId`: each page reads about its own documents.
      let before = await documentReads(probe);
      const resumed = await things.find({ orderBy: 'id', where: { id: { $gt: 't02900' } }, limit: 10 });
      expect(resumed).toStrictEqual(all.slice(2901, 2911));
      expect(await documentReads(probe)).toBeLessThanOrEqual(before + 64);
      before = await documentReads(probe);
      const prefixed = await things.findPage({ where: { id: { $startsWith: 't0150' } }, orderBy: 'id', limit: 4 });
      expect(prefixed.items).toStrictEqual(all.slice(1500, 1504));
      const rest = await things.find({
        where: { id: { $startsWith: 't0150' } },
        orderBy: 'id',
        limit: 100,
        cursor: prefixed.nextCursor as string,
      });
      expect(rest).toStrictEqual(all.slice(1504, 1510));
      // The upper bound stops the walk too: the prefix's ten ids, not the 1,490 after them.
      expect(await documentReads(probe)).toBeLessThanOrEqual(before + 80);
      // A cursor beyond the lower bound wins; one before it is overtaken by the bound.
      const page = await things.findPage({ where: { id: { $gte: 't00100', $lt: 't00110' } }, limit: 5 });
      expect(page.items).toStrictEqual(all.slice(100, 105));
      const next = await things.find({
        where: { id: { $gte: 't00100', $lt: 't00110' } },
        limit: 50,
        cursor: page.nextCursor as string,
      });
      expect(next).toStrictEqual(all.slice(105, 110));
      expect(
        await things.find({ where: { id: { $gt: 't02998', $lte: 'zzz' } }, orderBy: 'id', limit: 9 }),
      ).toStrictEqual([all[2999]]);
    } finally {
      await backend.close();
      probe.disconnect();
    }
  });

  it('a top-N sorted by an indexed field walks the index and reads about N documents', async () => {
    const probe = rawClient(server.url);
    await probe.connect();
    const backend = new RedisBackend({ url: server.url, keyPrefix: 'top:' });
    try {
      const scores = backend.repository<{ id: string; score: number }>('scores', {
        indexes: [{ field: 'score', type: 'number' }],
      });
      const all = Array.from({ length: 3000 }, (_, n) => ({ id: `p${n}`, score: (n * 7919) % 3001 }));
      await scores.insertMany(all);
      const best = [...all].sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1)).slice(0, 10);
      const before = await documentReads(probe);
      const page = await scores.findPage({ orderBy: { field: 'score', direction: 'desc' }, limit: 10 });
      expect(page.items).toStrictEqual(best);
      expect(await documentReads(probe)).toBeLessThanOrEqual(before + 40);
      const next = await scores.find({ orderBy: { field: 'score', direction: 'desc' }, limit: 10, offset: 10 });
      expect(next).toStrictEqual([...all].sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1)).slice(10, 20));
    } finally {
      await backend.close();
      probe.disconnect();
    }
  });
});
