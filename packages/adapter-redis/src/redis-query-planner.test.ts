import type { Filter } from '@berth/core';
import { parseFilter } from '@berth/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, rawClient, requireRedis, uniqueKeyPrefix } from './fixtures/redis-server.js';
import { RedisBackend } from './redis-backend.js';
import { loadCandidates, readAtomically } from './redis-collection-loader.js';
import { RedisCollectionKeys } from './redis-keys.js';
import { chooseCandidates } from './redis-query-planner.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from './redis-scan.js';

const client = rawClient();
const prefix = uniqueKeyPrefix('planner');
let backend: RedisBackend;

beforeAll(async () => {
  await requireRedis();
  await client.connect();
  backend = new RedisBackend({ url: REDIS_URL, keyPrefix: prefix });
});

afterAll(async () => {
  await backend?.close();
  await forEachKeyBatch(client, prefixPattern(prefix), unlinkKeys, undefined, 'cleanup');
  client.disconnect();
});

/** Values whose order trips byte, UTF-16 and double encodings: every one is stored in `v`. */
const VALUES: unknown[] = [
  0,
  -0,
  1,
  -1,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  5e-324,
  -5e-324,
  1e308,
  -1e308,
  0.1,
  0.30000000000000004,
  '',
  'a',
  'a ',
  'A',
  'ab',
  'a\u0001',
  'é',
  'e\u0301',
  '\uE000',
  '\u{1F600}',
  '\u{1F600}x',
  '\uFFFF',
  '10',
  '9',
  new Date(0),
  new Date(-1),
  new Date(Date.UTC(2026, 10, 26)),
  new Date(Date.UTC(9999, 11, 31)),
  true,
  false,
  null,
  undefined,
  [1],
  ['a'],
  { n: 1 },
];

const FILTERS: Filter[] = [];
for (const operand of VALUES) {
  if (typeof operand === 'number' || typeof operand === 'string' || operand instanceof Date) {
    for (const operator of ['$gt', '$gte', '$lt', '$lte'] as const) FILTERS.push({ v: { [operator]: operand } });
  }
  if (typeof operand === 'string') FILTERS.push({ v: { $startsWith: operand } });
  if (operand !== undefined && !Array.isArray(operand) && typeof operand !== 'object') FILTERS.push({ v: operand });
}
FILTERS.push(
  { v: { $gt: 0, $lt: 1e308 } },
  { v: { $gte: 'a', $lt: 'b' } },
  { v: { $gt: 'a', $startsWith: 'a' } },
  { v: { $gte: new Date(-1), $lte: new Date(0) } },
  { v: { $in: [0, 'a', true, new Date(0)] } },
  { v: { $in: [] } },
  { v: { $gt: 1, $lt: 0 } },
  { v: { $gt: 'b', $lte: 'a' } },
  // Not served: null matches missing, and a condition inside $or is not required.
  { v: null },
  { $or: [{ v: 1 }, { v: 'a' }] },
);

describe('Redis range, equality and $in indexes', () => {
  it('answer every filter exactly as a scan of an unindexed collection does, order included', async () => {
    const documents = VALUES.map((v, index) => ({ id: `d${String(index).padStart(2, '0')}`, v }));
    const indexed = backend.repository('indexed', { indexes: [{ field: 'v', type: 'number' }] });
    const uniqueIndexed = backend.repository('unique_indexed', {
      indexes: [{ field: 'v', type: 'string', unique: true }],
    });
    const plain = backend.repository('plain');
    // Unique indexes refuse duplicates: -0 and 0 are one value to them, so one of the two is left out there.
    const distinct = documents.filter((document) => !Object.is(document.v, -0));
    await Promise.all([indexed.insertMany(documents), plain.insertMany(documents), uniqueIndexed.insertMany(distinct)]);
    const plainDistinct = backend.repository('plain_distinct');
    await plainDistinct.insertMany(distinct);
    let served = 0;
    for (const where of FILTERS) {
      const query = { where, orderBy: [{ field: 'v', direction: 'desc' as const }] };
      const plan = await indexed.explain(query);
      if (plan.strategy === 'index') served++;
      expect(await indexed.find(query), JSON.stringify(plan)).toStrictEqual(await plain.find(query));
      expect(await indexed.count(where)).toBe(await plain.count(where));
      expect(await uniqueIndexed.find(query)).toStrictEqual(await plainDistinct.find(query));
    }
    expect(served).toBe(FILTERS.length - 2);
  });

  it('an index declared over stored documents is built (equality, unique and range entries) before it answers', async () => {
    const documents = VALUES.map((v, index) => ({ id: `d${String(index).padStart(2, '0')}`, v, w: index }));
    await backend.repository('late').insertMany(documents);
    const late = backend.repository('late', {
      indexes: [
        { field: 'v', type: 'string' },
        { field: 'w', type: 'number', unique: true },
      ],
    });
    const plain = backend.repository('late_plain');
    await plain.insertMany(documents);
    for (const where of [...FILTERS, { w: { $gte: 10, $lt: 20 } }, { w: 3 }]) {
      const query = { where, orderBy: 'v' };
      expect(await late.find(query), JSON.stringify(where)).toStrictEqual(await plain.find(query));
    }
    expect((await late.explain({ where: { w: { $gt: 3 } } })).strategy).toBe('index');
    await expect(late.insert({ id: 'x', w: 3 })).rejects.toMatchObject({ code: 'ALREADY_EXISTS', field: 'w' });
  });

  it('the atomic read (the fallback under constant writes) loads what the batched read loads, for every kind of candidates', async () => {
    await backend
      .repository('atomic', { indexes: [{ field: 'v', type: 'number' }] })
      .insertMany(VALUES.map((v, index) => ({ id: `d${String(index).padStart(2, '0')}`, v })));
    const keys = new RedisCollectionKeys(prefix, 'atomic');
    const specs = [
      { name: 'v', field: 'v', path: ['v'], type: 'number', unique: false, compound: false, key: 'v' },
    ] as const;
    const filters: Filter[] = [
      {},
      { id: 'd01' },
      { id: { $in: ['d01', 'd02', 'missing'] } },
      { v: 1 },
      { v: { $in: [1, 'a'] } },
      { v: { $gt: -1, $lte: 2 ** 53 } },
      { v: { $startsWith: 'a' } },
      { v: { $gt: 'a', $lt: '\uFFFF' } },
    ];
    const kinds = new Set<string>();
    for (const where of filters) {
      const candidates = chooseCandidates(keys, specs as never, parseFilter(where));
      kinds.add(candidates.kind);
      const batched = await loadCandidates(client, keys, candidates);
      const atomic = await readAtomically(client, keys, candidates);
      expect(atomic.counter).toBe(batched.counter);
      const ids = (records: { document: { id: string } }[]) => records.map((record) => record.document.id).sort();
      expect(ids(atomic.records), JSON.stringify(where)).toStrictEqual(ids(batched.records));
      if (where.id === undefined) expect(batched.records.length, JSON.stringify(where)).toBeGreaterThan(0);
      expect(atomic.records.map((record) => record.json()).sort()).toStrictEqual(
        batched.records.map((record) => record.json()).sort(),
      );
    }
    // A unique index: holders by HMGET (in the script: unpack of ARGV).
    await backend
      .repository('atomic_unique', { indexes: [{ field: 'w', type: 'number', unique: true }] })
      .insertMany([1, 2, 3, 4].map((w) => ({ id: `w${w}`, w })));
    const uniqueKeys = new RedisCollectionKeys(prefix, 'atomic_unique');
    const uniqueSpecs = [
      { name: 'w', field: 'w', path: ['w'], type: 'number', unique: true, compound: false, key: 'w' },
    ] as const;
    for (const where of [{ w: 3 }, { w: { $in: [1, 2, 99_999] } }] as Filter[]) {
      const candidates = chooseCandidates(uniqueKeys, uniqueSpecs as never, parseFilter(where));
      kinds.add(candidates.kind);
      const batched = await loadCandidates(client, uniqueKeys, candidates);
      const atomic = await readAtomically(client, uniqueKeys, candidates);
      expect(atomic.records.map((record) => record.json())).toStrictEqual(
        batched.records.map((record) => record.json()),
      );
      expect(atomic.records.length).toBe((where.w as { $in?: unknown[] }).$in === undefined ? 1 : 2);
    }
    expect([...kinds].sort()).toStrictEqual(['all', 'ids', 'lex', 'score', 'sets', 'unique']);
  });
});

describe('Redis sorted walks', () => {
  it('pages sorted by an indexed field holding every type are the reference pages, both directions, with offsets and cursors', async () => {
    const documents = VALUES.flatMap((v, index) => [
      { id: `a${String(index).padStart(2, '0')}`, v, odd: index % 2 === 1 },
      // Ties: each value twice, under ids that sort apart.
      { id: `z${String(index).padStart(2, '0')}`, v, odd: index % 2 === 0 },
    ]);
    const indexed = backend.repository('walk', { indexes: [{ field: 'v', type: 'string' }] });
    const plain = backend.repository('walk_plain');
    await Promise.all([indexed.insertMany(documents), plain.insertMany(documents)]);
    for (const direction of ['asc', 'desc'] as const) {
      for (const where of [{}, { odd: true }, { $or: [{ odd: true }, { v: 1 }] }] as Filter[]) {
        const orderBy = { field: 'v', direction };
        for (const [offset, limit] of [
          [0, 1],
          [0, 7],
          [3, 5],
          [70, 10],
          [0, 200],
        ] as const) {
          const query = { where, orderBy, offset, limit };
          expect(await indexed.findPage(query), JSON.stringify(query)).toStrictEqual(await plain.findPage(query));
        }
        let cursor: string | undefined;
        const pages: unknown[][] = [];
        do {
          const page = await indexed.findPage({ where, orderBy, limit: 3, ...(cursor ? { cursor } : {}) });
          pages.push(page.items);
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
        expect(pages.flat(), `${direction} ${JSON.stringify(where)}`).toStrictEqual(
          await plain.find({ where, orderBy }),
        );
      }
    }
    expect(await indexed.explain({ orderBy: 'v', limit: 3 })).toMatchObject({ strategy: 'index' });
  });
});
