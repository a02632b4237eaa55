import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Document, Query } from '@berth/core';
import { prepareQuery } from '@berth/core/adapter';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteBackend } from './sqlite-backend.js';
import { queryBuilder } from './sqlite-connection.js';
import { compileAfter, compileFilter, compileOrderBy } from './sqlite-query-compiler.js';
import { SqliteStatementCache, type StatementInput, statementCacheOf, valueClass } from './sqlite-statement-cache.js';

/** The repository's select, compiled by kysely every time: what every cached answer must equal. */
function compileSelect({ prepared, limit }: StatementInput) {
  const where = compileFilter(prepared.filter);
  const after = prepared.after === undefined ? sql`1` : compileAfter(prepared.sort, prepared.after);
  const limitClause = limit === undefined ? sql`LIMIT -1` : sql`LIMIT ${sql.lit(limit)}`;
  return sql`SELECT id, doc FROM ${sql.id('t')} WHERE ${where} AND ${after} ORDER BY ${compileOrderBy(prepared.sort)} ${limitClause} OFFSET ${prepared.offset}`.compile(
    queryBuilder,
  );
}

/** The SQL and parameters of a compiled query (what the cache answers). */
function text({ sql, parameters }: { sql: string; parameters: readonly unknown[] }) {
  return { sql, parameters: [...parameters] };
}

function input(query: Query, limit?: number): StatementInput {
  const prepared = prepareQuery(query);
  return { prepared, limit: limit ?? prepared.limit };
}

/** Pairs of queries on the same paths whose SQL must differ: never one statement for both. */
const DIFFERENT_SHAPES: readonly (readonly [Query, Query])[] = [
  [{ where: { a: 1 } }, { where: { a: '1' } }],
  [{ where: { a: 1 } }, { where: { a: 1.5 } }],
  [{ where: { a: 2 ** 53 - 1 } }, { where: { a: 2 ** 53 } }],
  [{ where: { a: 1 } }, { where: { a: null } }],
  [{ where: { a: true } }, { where: { a: false } }],
  [{ where: { a: 'x' } }, { where: { a: new Date(0) } }],
  [{ where: { a: { $gt: 1 } } }, { where: { a: { $gt: 'a' } } }],
  [{ where: { a: { $in: [1, 2] } } }, { where: { a: { $in: [1, 2, 3] } } }],
  [{ where: { a: { $in: [1, 'x'] } } }, { where: { a: { $in: ['x', 1.5] } } }],
  [{ where: { a: { $in: [1, null] } } }, { where: { a: { $in: [1, 2] } } }],
  [{ where: { id: { $in: ['a', 'b'] } } }, { where: { id: { $in: ['a', 1] } } }],
  [{ where: { id: 'a' } }, { where: { id: 1 as unknown as string } }],
  [{ where: { a: { $exists: true } } }, { where: { a: { $exists: false } } }],
  [{ where: { tags: { $contains: 'x' } } }, { where: { tags: { $contains: 1 } } }],
  [
    { where: { $or: [{ a: 1 }, { $or: [{ b: 1 }, { c: 1 }] }] } },
    { where: { $or: [{ $or: [{ a: 1 }, { b: 1 }] }, { c: 1 }] } },
  ],
  [{ where: { $or: [{ a: 1 }, { b: 1 }] } }, { where: { $and: [{ a: 1 }, { b: 1 }] } }],
  [{ where: { $not: { a: 1 } } }, { where: { $not: { a: '1' } } }],
  [{ where: { 'a.b': 1 } }, { where: { 'a-b': 1 } }],
  [{ orderBy: 'a' }, { orderBy: { field: 'a', direction: 'desc' } }],
  [{ orderBy: 'a', limit: 5 }, { orderBy: 'a' }],
  // The limit is written into the SQL (a bound LIMIT makes SQLite re-prepare at every bind).
  [
    { orderBy: 'a', limit: 5 },
    { orderBy: 'a', limit: 6 },
  ],
];

/** Queries whose values change from call to call; each is run after a sibling of its shape. */
const CORPUS: readonly ((n: number) => Query)[] = [
  (n) => ({ where: { guild: `guild-${n}` } }),
  (n) => ({ where: { level: n } }),
  (n) => ({ where: { level: n + 0.25 } }),
  (n) => ({ where: { level: 2 ** 60 + n * 4096 } }),
  (n) => ({ where: { price: { $gte: n, $lt: n + 10 } }, orderBy: 'price', limit: 20 }),
  (n) => ({ where: { price: { $gt: -5e-324 * (n + 1), $lte: 1e308 / (n + 1) } } }),
  (n) => ({ where: { at: { $gte: new Date(n * 86_400_000) } }, orderBy: { field: 'at', direction: 'desc' } }),
  (n) => ({ where: { at: new Date(Date.UTC(2020, 0, n + 1)) } }),
  (n) => ({ where: { name: { $startsWith: `hé😀${n}` } } }),
  (n) => ({ where: { tags: { $contains: `tag-${n}` } } }),
  (n) => ({ where: { tags: { $contains: n } } }),
  (n) => ({ where: { tags: { $contains: new Date(n) } } }),
  (n) => ({ where: { level: { $in: [n, n + 1, n + 0.5, `s${n}`, null, true, new Date(n)] } } }),
  (n) => ({ where: { level: { $nin: [n, 2 ** 53 + 2 * n + 2] } } }),
  (n) => ({ where: { id: { $in: [`h${n}`, `h${n + 1}`] } } }),
  (n) => ({ where: { id: { $gte: `h${n}` } }, offset: n }),
  (n) => ({ where: { $or: [{ guild: `g${n}` }, { $and: [{ level: { $gt: n } }, { $not: { gold: n } }] }] } }),
  (n) => ({ where: { 'stats.strength': { $ne: n } }, orderBy: ['guild', { field: 'level', direction: 'desc' }] }),
];

describe('SqliteStatementCache', () => {
  it('classes values the way the compiler branches on them', () => {
    expect(
      [null, true, false, 1, -0, 2 ** 53 - 1, 2 ** 53, 0.5, 5e-324, 'x', new Date(0), [], {}].map(valueClass),
    ).toStrictEqual(['n', 't', 'f', 'i', 'i', 'i', 'u', 'r', 'r', 's', 'd', 'a', 'o']);
  });

  it('never gives a query the statement of another shape', () => {
    for (const [first, second] of DIFFERENT_SHAPES) {
      const cache = new SqliteStatementCache();
      const a = input(first);
      const b = input(second);
      // Each shape seen, learnt, then answered from the cache.
      for (const query of [a, b, a, b, a, b]) {
        expect(text(cache.statement('t', query, compileSelect))).toStrictEqual(text(compileSelect(query)));
      }
      // Each pair differs in its SQL or, where the compiler binds the difference, in its parameters.
      expect(text(compileSelect(a))).not.toStrictEqual(text(compileSelect(b)));
      expect([cache.size, cache.hits]).toStrictEqual([2, 2]);
    }
  });

  it('answers exactly what kysely compiles, for every value of a shape it has learnt', () => {
    const cache = new SqliteStatementCache();
    for (let n = 0; n < 6; n++) {
      for (const make of CORPUS) {
        const query = input(make(n));
        expect(text(cache.statement('t', query, compileSelect))).toStrictEqual(text(compileSelect(query)));
        const page = input(make(n), 11);
        expect(text(cache.statement('t', page, compileSelect))).toStrictEqual(text(compileSelect(page)));
      }
    }
    // Seen and learnt once per shape, then hits: each query with and without
    // a page's limit (the one with a limit of its own has another one).
    expect(cache.misses).toBe(2 * (2 * CORPUS.length));
    expect(cache.hits).toBe(6 * 2 * CORPUS.length - cache.misses);
  });

  it('keys on the cursor: which of its values are null changes the SQL', () => {
    const cache = new SqliteStatementCache();
    const at = (values: unknown[], id: string): StatementInput => {
      const prepared = prepareQuery({ orderBy: ['a', 'b'], limit: 5 });
      return { prepared: { ...prepared, after: { values, id } }, limit: 6 };
    };
    const queries = [
      at([1, 'x'], 'h1'),
      at([null, 'x'], 'h2'),
      at([2, 'y'], 'h3'),
      at([null, null], 'h4'),
      at([3, 'z'], 'h5'),
    ];
    for (const query of queries) {
      expect(text(cache.statement('t', query, compileSelect))).toStrictEqual(text(compileSelect(query)));
    }
    expect(cache.size).toBe(3);
    expect(cache.hits).toBe(1);
  });

  it('holds at most maxShapes shapes, dropping the least recently used', () => {
    const cache = new SqliteStatementCache(3);
    const shape = (length: number) => input({ where: { a: { $in: Array.from({ length }, (_, i) => i) } } });
    for (const length of [1, 2, 3]) cache.statement('t', shape(length), compileSelect);
    cache.statement('t', shape(1), compileSelect);
    cache.statement('t', shape(4), compileSelect);
    expect(cache.size).toBe(3);
    const misses = cache.misses;
    cache.statement('t', shape(1), compileSelect);
    expect(cache.misses).toBe(misses);
    cache.statement('t', shape(2), compileSelect);
    expect(cache.misses).toBe(misses + 1);
  });

  it('compiles every time a shape whose bound values it cannot trace', () => {
    const cache = new SqliteStatementCache();
    // A compiler that binds something no derivation explains (here, a value's length).
    const odd = (query: StatementInput) => {
      const compiled = compileSelect(query);
      return { ...compiled, parameters: [...compiled.parameters, String(compiled.parameters[0]).length] };
    };
    for (const n of [1, 22, 333]) {
      const query = input({ where: { a: n } });
      expect(text(cache.statement('t', query, odd))).toStrictEqual(text(odd(query)));
    }
    expect(cache.hits).toBe(0);
  });
});

describe('SQLite find through the statement cache', () => {
  const directory = mkdtempSync(join(tmpdir(), 'berth-statement-cache-'));
  const backend = new SqliteBackend({ filename: join(directory, 'cache.db') });
  afterAll(async () => {
    await backend.close();
    rmSync(directory, { recursive: true, force: true });
  });

  interface Item extends Document {
    readonly v: unknown;
  }

  it('answers entry reads and pages sorted by metadata from the cache too, with their metadata', async () => {
    const items = backend.repository<Item>('entries');
    await items.insertMany([
      { id: 'a', v: 1 },
      { id: 'b', v: 2 },
      { id: 'c', v: 3 },
    ]);
    const connection = (backend as unknown as { connection: object }).connection;
    const cache = statementCacheOf(connection);
    const ids = (entries: readonly { document: Item }[]) => entries.map((entry) => entry.document.id);
    const hits = cache.hits;
    for (let round = 0; round < 3; round++) {
      const entries = await items.findEntries({ where: { v: { $gte: 2 } }, orderBy: 'v' });
      expect(ids(entries)).toStrictEqual(['b', 'c']);
      expect(entries.every((entry) => entry.meta.version === 1 && entry.meta.createdAt instanceof Date)).toBe(true);
      const page = await items.findEntriesPage({ orderBy: '$createdAt', limit: 2 });
      expect(ids(page.items)).toStrictEqual(['a', 'b']);
      const rest = await items.findPage({ orderBy: '$createdAt', limit: 2, cursor: page.nextCursor ?? '' });
      expect(rest.items.map((item) => item.id)).toStrictEqual(['c']);
      // The plain select of a shape and its entry select are different statements.
      expect(ids(await items.findEntries({ orderBy: 'v', limit: 1 }))).toStrictEqual(['a']);
      expect((await items.find({ orderBy: 'v', limit: 1 })).map((item) => item.id)).toStrictEqual(['a']);
    }
    // Each shape is seen, then learnt, then answered: the third round hits for all five.
    expect(cache.hits - hits).toBeGreaterThanOrEqual(5);
  });

  it('answers queries of one path with operands of other types by their own statements', async () => {
    const items = backend.repository<Item>('items');
    await items.insertMany([
      { id: 'int', v: 1 },
      { id: 'text', v: '1' },
      { id: 'real', v: 1.5 },
      { id: 'null', v: null },
      { id: 'true', v: true },
      { id: 'date', v: new Date(1) },
      { id: 'big', v: 2 ** 53 + 2 },
    ]);
    const ids = async (where: Query['where']) => (await items.find({ where })).map((item) => item.id);
    for (let round = 0; round < 3; round++) {
      expect(await ids({ v: 1 })).toStrictEqual(['int']);
      expect(await ids({ v: '1' })).toStrictEqual(['text']);
      expect(await ids({ v: 1.5 })).toStrictEqual(['real']);
      expect(await ids({ v: null })).toStrictEqual(['null']);
      expect(await ids({ v: true })).toStrictEqual(['true']);
      expect(await ids({ v: new Date(1) })).toStrictEqual(['date']);
      expect(await ids({ v: 2 ** 53 + 2 })).toStrictEqual(['big']);
      expect(await ids({ v: { $in: [1, '1'] } })).toStrictEqual(['int', 'text']);
      expect(await ids({ v: { $in: [1.5] } })).toStrictEqual(['real']);
      expect(await ids({ v: { $in: [null, true, 2 ** 53 + 2] } })).toStrictEqual(['big', 'null', 'true']);
      expect(await ids({ $or: [{ v: 1 }, { $or: [{ v: '1' }, { id: 'real' }] }] })).toStrictEqual([
        'int',
        'real',
        'text',
      ]);
    }
  });
});
