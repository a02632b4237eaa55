import type { DocumentScalar } from '@berth/core';
import {
  type CursorPosition,
  compareSortTuples,
  compareValues,
  type FilterNode,
  getPathValue,
  isPlainObject,
  matchesNode,
  normalizeOrderBy,
  parseFilter,
  type SortSpec,
  sortValues,
} from '@berth/core/adapter';
import { type Expression, joinConditions } from '@berth/sql';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from './fixtures/pg-test-database.js';
import { quoteIdent } from './pg-names.js';
import {
  compileAfter,
  compileFilter,
  compileOrderBy,
  compileSql,
  groupValueOf,
  indexExpressions,
  POSTGRES_DIALECT,
  stringOf,
  typeOf,
} from './pg-query-compiler.js';

// The PostgreSQL dialect against core's reference evaluator, on the real
// server: every query's ids (and order) must be exactly what matchesNode and
// the reference sort give for the same documents in JavaScript.

const schema = uniqueSchema('pg_query_compiler');
const table = sql.raw(`${quoteIdent(schema)}.docs`);
const client = new pg.Client({ connectionString: POSTGRES_URL });

interface Entry {
  readonly id: string;
  readonly document: Record<string, unknown>;
  readonly meta: { readonly version: number; readonly createdAt: Date; readonly updatedAt: Date };
}

/** JSON text as the repository stores it: Dates as `{"$date": …}`, own `__proto__` keys kept. */
function encode(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, replaced) {
    const raw = this[key];
    return raw instanceof Date ? { $date: raw.toISOString() } : replaced;
  });
}

/** What a stored document reads back as in JavaScript (`-0` is `0`, Dates decoded). */
function decode(text: string): Record<string, unknown> {
  return JSON.parse(text, (_key, value) =>
    isPlainObject(value) && Object.keys(value).length === 1 && typeof value.$date === 'string'
      ? new Date(value.$date)
      : value,
  );
}

const NUMBERS: number[] = [
  0,
  -0,
  1,
  -1,
  1.5,
  -1.5,
  0.1,
  0.1 + 0.2,
  7,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 62,
  2 ** 62 + 1024,
  2 ** 62 - 512,
  4611686018427388000,
  Number('9007199254740993'), // 2 ** 53: the text names a number no double holds
  5e-324,
  -5e-324,
  1e-323,
  1e-40,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  1e21,
  123456789012345680000,
];
const STRINGS: string[] = [
  'a',
  'A',
  'a ',
  'b',
  'ab',
  'Ab',
  'abc',
  '\u00e1',
  'a\u0301',
  '\u{1F600}',
  '\u{1F600}x',
  '\uE000',
  '\uFFFF',
  "it's",
  'x"y\\z',
  '%_*',
  '',
  '10',
  '9',
  '\t',
  '日本',
  "'; DROP TABLE docs; --",
];
const DATES: Date[] = [
  new Date(0),
  new Date(-1),
  new Date(1),
  new Date('2026-01-01T00:00:00.000Z'),
  new Date('2026-01-01T00:00:00.001Z'),
  new Date('0000-01-01T00:00:00.000Z'),
  new Date('9999-12-31T23:59:59.999Z'),
];
const ARRAYS: unknown[][] = [
  [],
  [1, 2],
  [1, '1', null, true, false],
  ['a', 'A', 'a '],
  [2 ** 62, 5e-324],
  [DATES[0], 'x'],
  [[1], { x: 1 }],
  [null],
  [4611686018427388000],
  [0, 1e308],
  [DATES[3], DATES[6]],
];
const OBJECTS: unknown[] = [{}, { x: 1 }, { 0: 'zero' }, { nested: { deep: 1 } }, { date: DATES[1] }];
const SCALARS: DocumentScalar[] = [...NUMBERS, ...STRINGS, ...DATES, true, false, null];
/** Every kind of value a field may hold; `undefined` leaves it out. */
const VALUES: unknown[] = [...SCALARS, ...ARRAYS, ...OBJECTS, undefined];
const IDS: string[] = [
  'a',
  'A',
  'a ',
  '\u00e1',
  'a\u0301',
  '\u{1F600}',
  '\uE000',
  '__proto__',
  'constructor',
  "it's",
  'x"y',
  '10',
  '9',
];

function pick<T>(items: readonly T[], index: number): T {
  return items[((index % items.length) + items.length) % items.length] as T;
}

/** The documents: each value of VALUES once in `v`, the other fields cycling through their pools. */
function documents(): Record<string, unknown>[] {
  const base = Date.UTC(2026, 0, 1);
  return VALUES.map((value, index) => {
    const document: Record<string, unknown> = { id: index < IDS.length ? IDS[index] : `d${index}` };
    if (value !== undefined) document.v = value;
    if (index % 6 !== 0) document.n = pick(NUMBERS, index * 5);
    if (index % 5 !== 1) document.s = pick(STRINGS, index * 3);
    if (index % 3 !== 2) document.b = index % 3 === 0;
    const x = pick(VALUES, index * 7);
    document.o = x === undefined ? { 0: index } : { x, 0: index };
    if (index % 4 !== 3) document.arr = pick(ARRAYS, index);
    document.d = pick(DATES, index);
    document.NULL = index % 2 === 0 ? null : index;
    if (index % 3 !== 0) Object.assign(document, { constructor: `c${index % 2}` });
    document.at = new Date(base + (index % 4));
    return document;
  });
}

/** A document holding `__proto__` keys, written as raw JSON (no JavaScript object literal can hold one). */
const PROTO_DOCUMENT = '{"id":"proto","__proto__":{"v":1},"v":"p","o":{"__proto__":5,"x":1},"n":3}';
/**
 * Numbers spelled as JSON.stringify never spells them (all digits of 2^62,
 * `1.0`, `-0.0`, 0.1 with 34 digits): JSONB keeps each as an exact numeric
 * that differs from the shortest text of the same double, so only a
 * comparison as doubles finds them equal to 2 ** 62, 1, 0 and 0.1.
 */
const RAW_NUMBERS_DOCUMENT =
  '{"id":"raw","n":4611686018427387904,"v":1.0,"o":{"x":-0.0},"arr":[1e0,0.1000000000000000055511151231257827]}';

const entries: Entry[] = [];

beforeAll(async () => {
  await requirePostgres();
  await client.connect();
  await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  await client.query(
    `CREATE TABLE ${quoteIdent(schema)}.docs (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL, version integer NOT NULL, created_at timestamptz(3) NOT NULL, updated_at timestamptz(3) NOT NULL)`,
  );
  const texts = [...documents().map(encode), PROTO_DOCUMENT, RAW_NUMBERS_DOCUMENT];
  const base = Date.UTC(2026, 2, 1);
  for (const [index, text] of texts.entries()) {
    const document = decode(text);
    // Ties in both times, so id breaks them; updatedAt runs backwards to createdAt.
    const meta = {
      version: 1 + (index % 3),
      createdAt: new Date(base + (index % 5)),
      updatedAt: new Date(base + 1000 - 10 * (index % 9)),
    };
    entries.push({ id: document.id as string, document, meta });
    await client.query(`INSERT INTO ${quoteIdent(schema)}.docs VALUES ($1, $2::jsonb, $3, $4, $5)`, [
      document.id,
      text,
      meta.version,
      meta.createdAt.toISOString(),
      meta.updatedAt.toISOString(),
    ]);
  }
});

afterAll(async () => {
  await client.end().catch(() => undefined);
  await dropSchemas([schema]);
});

async function run(query: Expression): Promise<string[]> {
  const compiled = compileSql(query);
  const result = await client.query<{ id: string }>(compiled.sql, [...compiled.parameters]);
  return result.rows.map((row) => row.id);
}

function selectIds(conditions: readonly Expression[], sort: readonly SortSpec[], filter?: FilterNode, limit?: number) {
  const where = joinConditions(POSTGRES_DIALECT, conditions, 'AND');
  const limited = limit === undefined ? sql`` : sql` LIMIT ${sql.lit(limit)}`;
  return run(sql`SELECT id FROM ${table} WHERE ${where} ORDER BY ${compileOrderBy(sort, filter)}${limited}`);
}

/** The reference answer: matchesNode, then the reference order, ties by id. */
function expected(node: FilterNode, sort: readonly SortSpec[]): string[] {
  return entries
    .filter((entry) => matchesNode(entry.document, node, entry.meta))
    .map((entry) => ({ id: entry.id, values: sortValues(entry.document, sort, entry.meta) }))
    .sort((a, b) => compareSortTuples(a.values, a.id, b.values, b.id, sort))
    .map((entry) => entry.id);
}

/** Walks every page of a query with keyset cursors, as findPage does. */
async function walk(node: FilterNode, sort: readonly SortSpec[], pageSize: number): Promise<string[]> {
  const seen: string[] = [];
  let after: CursorPosition | undefined;
  for (let page = 0; page <= entries.length; page++) {
    const conditions = [compileFilter(node)];
    if (after !== undefined) conditions.push(compileAfter(sort, after));
    const ids = await selectIds(conditions, sort, node, pageSize);
    seen.push(...ids);
    if (ids.length < pageSize) return seen;
    const last = entries.find((entry) => entry.id === ids.at(-1)) as Entry;
    after = { values: sortValues(last.document, sort, last.meta), id: last.id };
  }
  throw new Error('paging did not end');
}

/** Checks one filter and sort: the query, its negation, and a keyset walk. */
async function check(where: unknown, orderBy: unknown, pageSize = 4): Promise<string[]> {
  const node = parseFilter(where);
  const sort = normalizeOrderBy(orderBy as never);
  const want = expected(node, sort);
  const label = encode({ where, orderBy });
  expect(await selectIds([compileFilter(node)], sort, node), label).toEqual(want);
  const rest = expected({ kind: 'not', node }, sort);
  expect(await selectIds([sql`NOT ${compileFilter(node)}`], sort), `NOT ${label}`).toEqual(rest);
  expect(await walk(node, sort, pageSize), `pages of ${pageSize}: ${label}`).toEqual(want);
  return want;
}

describe('PostgreSQL filters, sorts and cursors match the reference evaluator', () => {
  it('compares numbers as the doubles JavaScript holds', async () => {
    expect(await check({ n: 2 ** 62 }, 'id')).toContain('raw');
    expect(await check({ v: 1 }, 'id')).toContain('raw');
    expect(await check({ 'o.x': 0 }, 'id')).toContain('raw');
    expect(await check({ arr: { $contains: 0.1 } }, 'id')).toEqual(['raw']);
    expect(await check({ arr: { $contains: 1 } }, 'id')).toContain('raw');
    expect(await check({ n: 2 ** 62 }, 'id')).not.toEqual([]);
    expect(await check({ n: 4611686018427388000 }, 'id')).toEqual(await check({ n: 2 ** 62 }, 'id'));
    expect(await check({ n: { $gt: 2 ** 53 } }, 'n')).not.toEqual([]);
    expect(await check({ n: 2 ** 53 + 1 }, 'id')).toEqual(await check({ n: 2 ** 53 }, 'id'));
    expect(await check({ n: 5e-324 }, 'id')).not.toEqual([]);
    await check({ n: { $gt: 0, $lt: 1e-300 } }, 'n');
    await check({ n: { $gte: 1e308 } }, { field: 'n', direction: 'desc' });
    await check({ n: -0 }, 'id');
    await check({ n: { $in: [0, 2 ** 62, 1e-40, 'x', true] } }, 'n');
    await check({ v: { $lte: 0.30000000000000004 } }, ['v', 'n']);
  });

  it('compares strings by code point, exactly: case, accents and trailing spaces differ', async () => {
    expect(await check({ v: 'a' }, 'id')).toHaveLength(1);
    await check({ v: { $gt: '\uE000' } }, 'v');
    await check({ s: { $gte: 'a', $lt: 'b' } }, { field: 's', direction: 'desc' });
    await check({ v: { $in: ['a', 'A', 'a ', '\u00e1', 'a\u0301'] } }, 'v');
    expect(await check({ v: { $startsWith: "it'" } }, 'id')).toHaveLength(1);
    expect(await check({ v: { $startsWith: '%' } }, 'id')).toHaveLength(1);
    await check({ v: { $startsWith: '' } }, 'v');
    await check({ v: { $startsWith: '\u{1F600}' } }, 'v');
  });

  it('compares strings in the "C" collation whatever the database locale is', async () => {
    // This server's own locale may well order by code point: ask for the collation itself.
    const compiled = compileSql(sql`SELECT pg_collation_for(${stringOf(['s'])}) AS collation FROM ${table} LIMIT 1`);
    const result = await client.query(compiled.sql, [...compiled.parameters]);
    expect(result.rows[0].collation).toBe('"C"');
  });

  it('is type-strict, and null matches missing', async () => {
    await check({ v: 1 }, 'id');
    await check({ v: '1' }, 'id');
    await check({ v: true }, 'id');
    expect(await check({ v: null }, 'id')).not.toEqual([]);
    await check({ v: { $ne: null } }, 'v');
    await check({ v: { $exists: true } }, 'v');
    await check({ v: { $exists: false } }, 'id');
    await check({ v: { $nin: [null, 1, 'a'] } }, 'v');
    await check({ 'missing.deep': null }, 'id');
    await check({ NULL: null }, 'NULL');
    await check({ NULL: { $gt: 10 } }, { field: 'NULL', direction: 'desc' });
  });

  it('reads Dates as core encodes them, and metadata from its columns', async () => {
    expect(await check({ v: DATES[0] }, 'id')).toHaveLength(1);
    await check({ v: { $gt: DATES[0] } }, 'v');
    await check({ d: { $lt: DATES[3] } }, ['d', 'id']);
    await check({ v: { $in: [DATES[5], DATES[6], '9999-12-31T23:59:59.999Z'] } }, 'v');
    const base = Date.UTC(2026, 2, 1);
    expect(await check({ $createdAt: new Date(base + 2) }, '$updatedAt')).not.toEqual([]);
    await check({ $updatedAt: { $gte: new Date(base + 950) } }, [{ field: '$updatedAt', direction: 'desc' }]);
    await check({ $createdAt: { $in: [new Date(base), new Date(base + 4)] } }, ['$createdAt', 'v'], 3);
    await check({ $createdAt: { $nin: [new Date(base)] }, $updatedAt: { $ne: new Date(base + 1000) } }, 'v');
  });

  it('walks objects only: a path segment never indexes an array', async () => {
    expect(await check({ 'arr.0': 1 }, 'id')).toEqual([]);
    expect(await check({ 'arr.0': { $exists: true } }, 'id')).toEqual([]);
    expect(await check({ 'o.0': 3 }, 'id')).toHaveLength(1);
    await check({ 'o.x': { $exists: true } }, ['o.x', 'id']);
    await check({ 'v.x': 1 }, 'id');
    await check({ 'v.nested.deep': 1 }, 'id');
  });

  it('finds array elements type-strictly with $contains', async () => {
    expect(await check({ arr: { $contains: 2 ** 62 } }, 'id')).not.toEqual([]);
    await check({ arr: { $contains: 4611686018427388000 } }, 'id');
    await check({ arr: { $contains: '1' } }, 'id');
    await check({ arr: { $contains: 1 } }, 'id');
    await check({ arr: { $contains: null } }, 'id');
    await check({ arr: { $contains: true } }, 'id');
    expect(await check({ arr: { $contains: DATES[3] } }, 'id')).not.toEqual([]);
    await check({ v: { $contains: 'a ' } }, 'id');
    await check({ s: { $contains: 'a' } }, 'id');
  });

  it('sorts mixed types in the cross-type order, ties by id, in both directions', async () => {
    await check(undefined, 'v');
    await check(undefined, { field: 'v', direction: 'desc' });
    await check(undefined, ['o.x', { field: 'arr', direction: 'desc' }, 'b'], 7);
    await check(undefined, [{ field: 'id', direction: 'desc' }], 5);
    await check(undefined, [], 9);
    await check({ v: { $gt: 0 } }, ['v'], 2);
  });

  it('reads ids from the id column, and documents holding __proto__ keys', async () => {
    expect(await check({ id: '__proto__' }, 'id')).toEqual(['__proto__']);
    await check({ id: { $gt: 'a', $lte: '\u{1F600}' } }, 'id');
    await check({ id: { $in: ['a', 'A', 3, '\uE000'] } }, 'id');
    await check({ id: { $startsWith: 'd1' } }, 'id');
    expect(await check({ id: 'proto', 'o.x': 1 }, 'id')).toEqual(['proto']);
    await check({ constructor: { $exists: true } }, 'constructor');
  });

  it('agrees on a few hundred seeded random filters and sorts, pages included', async () => {
    const random = seeded(20261126);
    let nonTrivial = 0;
    for (let round = 0; round < 300; round++) {
      // Every generated filter is valid: check parses it (a VALIDATION error fails the test).
      const found = await check(randomFilter(random, 0), randomOrder(random), 3 + Math.floor(random() * 10));
      if (found.length > 0 && found.length < entries.length) nonTrivial++;
    }
    // Operands are often values documents hold: many cases split the documents (121 of 300 with this seed).
    expect(nonTrivial).toBeGreaterThan(100);
  }, 180_000);
});

describe('countBy groups', () => {
  it('groups by the value as JavaScript holds it, type-strictly, null and missing together', async () => {
    for (const field of ['v', 'n', 's', 'b', 'o.x', 'd', 'NULL', 'arr']) {
      const path = field.split('.');
      const compiled = compileSql(
        sql`SELECT ${typeOf(path)} AS type, ${groupValueOf(path)} AS value, count(*)::int AS n FROM ${table} GROUP BY 1, 2`,
      );
      const rows = await client.query<{ type: string | null; value: unknown; n: number }>(compiled.sql, [
        ...compiled.parameters,
      ]);
      const actual = new Map<string, number>();
      for (const row of rows.rows) {
        let value: unknown = row.type === null ? null : row.value;
        if (row.type === 'array') continue;
        if (row.type === 'object') {
          if (!isPlainObject(row.value) || typeof row.value.$date !== 'string') continue;
          value = new Date(row.value.$date);
        }
        const key = groupKey(value);
        actual.set(key, (actual.get(key) ?? 0) + row.n);
      }
      const reference = new Map<string, number>();
      for (const entry of entries) {
        const value = getPathValue(entry.document, path) ?? null;
        if (Array.isArray(value) || (isPlainObject(value) && !(value instanceof Date))) continue;
        const key = groupKey(value);
        reference.set(key, (reference.get(key) ?? 0) + 1);
      }
      expect(new Map([...actual].sort()), field).toEqual(new Map([...reference].sort()));
    }
  });
});

describe('injection', () => {
  it('binds every value: hostile strings are data, never SQL', async () => {
    const hostile = ["'; DROP TABLE docs; --", "x') OR 1=1 --", '$1', '\\', '"', "''"];
    for (const value of hostile) {
      const compiled = compileSql(compileFilter(parseFilter({ s: { $in: [value] }, v: { $startsWith: value } })));
      if (value.length > 2) expect(compiled.sql).not.toContain(value);
      expect(compiled.parameters).toContain(value);
      await check({ $or: [{ s: value }, { v: { $gt: value } }, { arr: { $contains: value } }] }, 's');
    }
    expect(await check({ s: "'; DROP TABLE docs; --" }, 'id')).not.toEqual([]);
    const count = await client.query(`SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.docs`);
    expect(count.rows[0].n).toBe(entries.length);
  });

  it('refuses a path that could reach the SQL text, in core and again in the compiler', () => {
    for (const path of ["a'b", 'a"b', 'a;b', 'a b', "x') OR 1=1 --", 'a.__proto__', '']) {
      expect(() => parseFilter({ [path]: 1 }), path).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
      expect(() => normalizeOrderBy(path), path).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
    // A tree built by hand, past core's parser, is still refused before any SQL is written.
    for (const path of [["a'b"], ['a', "'); DROP TABLE docs; --"], ['a.b'], ['__proto__'], []]) {
      const node: FilterNode = { kind: 'eq', path, value: 1 };
      expect(() => compileFilter(node), path.join('|')).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
      const sort: SortSpec[] = [{ field: 'x', path, direction: 'asc' }];
      expect(() => compileOrderBy(sort), path.join('|')).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
  });
});

describe('expression indexes', () => {
  it('are built on the sort key the compiler writes, so the planner uses them', async () => {
    const name = quoteIdent(`${schema}_n`);
    await client.query(
      `CREATE INDEX ${name} ON ${quoteIdent(schema)}.docs (${[...indexExpressions(['n']), 'id'].join(', ')})`,
    );
    await client.query('BEGIN');
    try {
      await client.query('SET LOCAL enable_seqscan = off');
      const plans: string[] = [];
      const explain = async (query: Expression) => {
        const compiled = compileSql(sql`EXPLAIN (FORMAT JSON) ${query}`);
        const result = await client.query(compiled.sql, [...compiled.parameters]);
        plans.push(JSON.stringify(result.rows[0]));
      };
      const sort = normalizeOrderBy('n');
      for (const where of [{ n: 7 }, { n: { $gt: 1, $lt: 2 ** 62 } }, { n: { $in: [1, 7] } }]) {
        const node = parseFilter(where);
        await explain(sql`SELECT id FROM ${table} WHERE ${compileFilter(node)} ORDER BY ${compileOrderBy(sort, node)}`);
      }
      await explain(sql`SELECT id FROM ${table} ORDER BY ${compileOrderBy(sort)} LIMIT 3`);
      for (const plan of plans) expect(plan).toContain(`"Index Name":"${schema}_n"`);
      // A sort on the index after an equality on its rank needs no Sort node.
      expect(plans[1]).not.toContain('"Node Type":"Sort"');
      expect(plans[3]).not.toContain('"Node Type":"Sort"');
    } finally {
      await client.query('ROLLBACK');
    }
  });
});

function groupKey(value: unknown): string {
  if (value instanceof Date) return `date:${value.getTime()}`;
  return `${typeof value}:${Object.is(value, -0) ? 0 : String(value)}`;
}

/** A small seeded generator (Park and Miller's), so a failure replays. */
function seeded(seed: number): () => number {
  let state = seed % 2147483647;
  return () => {
    state = (state * 48271) % 2147483647;
    return state / 2147483647;
  };
}

const FILTER_PATHS = ['v', 'n', 's', 'b', 'o.x', 'o.0', 'arr', 'arr.0', 'd', 'NULL', 'constructor', 'id', 'at', 'none'];
const SORT_PATHS = ['v', 'n', 's', 'b', 'o.x', 'arr', 'd', 'NULL', 'id', 'at', 'none', '$createdAt', '$updatedAt'];
const META_DATES = [0, 1, 2, 4, 5, 950, 990, 1000].map((offset) => new Date(Date.UTC(2026, 2, 1) + offset));

function randomFilter(random: () => number, depth: number): Record<string, unknown> {
  const roll = random();
  const children = () => Array.from({ length: Math.floor(random() * 4) }, () => randomFilter(random, depth + 1));
  if (depth < 3 && roll < 0.12) return { $and: children() };
  if (depth < 3 && roll < 0.24) return { $or: children() };
  if (depth < 3 && roll < 0.3) return { $not: randomFilter(random, depth + 1) };
  if (roll < 0.38) {
    const path = random() < 0.5 ? '$createdAt' : '$updatedAt';
    const date = () => pick(META_DATES, Math.floor(random() * 100));
    const operator = pick(
      ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists'],
      Math.floor(random() * 9),
    );
    if (operator === '$exists') return { [path]: { $exists: random() < 0.5 } };
    if (operator === '$in' || operator === '$nin') return { [path]: { [operator]: [date(), date()] } };
    return { [path]: { [operator]: date() } };
  }
  const path = pick(FILTER_PATHS, Math.floor(random() * 100));
  return { [path]: randomCondition(random, path) };
}

/** An operand for a condition on `path`: most often a value some document holds there. */
function randomCondition(random: () => number, path: string): unknown {
  const stored = (accept: (value: unknown) => boolean) => {
    const value = getPathValue(pick(entries, Math.floor(random() * 1000)).document, path.split('.'));
    return accept(value) && random() < 0.75 ? value : undefined;
  };
  const isScalar = (value: unknown) =>
    value === null || ['boolean', 'number', 'string'].includes(typeof value) || value instanceof Date;
  const isOrdered = (value: unknown) => ['number', 'string'].includes(typeof value) || value instanceof Date;
  const scalar = () => (stored(isScalar) as DocumentScalar | undefined) ?? pick(SCALARS, Math.floor(random() * 1000));
  const ordered = () => stored(isOrdered) ?? pick([...NUMBERS, ...STRINGS, ...DATES], Math.floor(random() * 1000));
  switch (Math.floor(random() * 9)) {
    case 0:
      return scalar();
    case 1:
      return { $ne: scalar() };
    case 2:
      return { [pick(['$gt', '$gte', '$lt', '$lte'], Math.floor(random() * 4))]: ordered() };
    case 3: {
      const low = ordered();
      const high = ordered();
      return { $gte: low, $lte: high };
    }
    case 4:
      return { $in: Array.from({ length: Math.floor(random() * 6) }, scalar) };
    case 5:
      return { $nin: Array.from({ length: Math.floor(random() * 4) }, scalar) };
    case 6:
      return { $exists: random() < 0.5 };
    case 7: {
      const text = [
        ...((stored((value) => typeof value === 'string') as string | undefined) ??
          pick(STRINGS, Math.floor(random() * 100))),
      ];
      return { $startsWith: text.slice(0, Math.floor(random() * (text.length + 1))).join('') };
    }
    default:
      return {
        $contains: random() < 0.5 ? scalar() : pick([2 ** 62, 1, 'a', null, true, DATES[3]], Math.floor(random() * 6)),
      };
  }
}

function randomOrder(random: () => number): unknown {
  return Array.from({ length: Math.floor(random() * 4) }, () => ({
    field: pick(SORT_PATHS, Math.floor(random() * 100)),
    direction: random() < 0.5 ? 'asc' : 'desc',
  }));
}

// compareValues is the order the reference sort uses; a sanity check of the pools themselves.
it('the value pools hold neighbours the engine must keep apart', () => {
  expect(compareValues(2 ** 62, 2 ** 62 + 1024)).toBe(-1);
  expect(compareValues(5e-324, 1e-323)).toBe(-1);
  expect(compareValues('\uE000', '\u{1F600}')).toBe(-1);
});
