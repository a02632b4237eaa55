import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBerthError, type Repository } from '@berth/core';
import { compareValues } from '@berth/core/adapter';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBackend } from './sqlite-backend.js';

// Hostile names, paths and values against a real database file: names and
// paths must be refused before any SQL runs, values must be bound and come
// back (and match) exactly as given.

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-injection-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let counter = 0;
let backend: SqliteBackend;

beforeEach(async () => {
  counter += 1;
  backend = new SqliteBackend({ filename: join(directory, `${counter}.db`) });
  await backend.connect();
});
afterEach(() => backend.close());

/** Every table, index and trigger in the file, with its SQL. */
function schema(): unknown[] {
  return backend.native().prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name').all();
}

/** Runs `work` and returns the error it threw or rejected with. */
async function failure(work: () => unknown): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

async function expectValidation(work: () => unknown): Promise<void> {
  const error = await failure(work);
  expect(isBerthError(error, 'VALIDATION'), String(error)).toBe(true);
}

interface Item {
  id: string;
  name?: string;
  value?: unknown;
  tags?: unknown[];
  n?: number;
}

const HOSTILE_NAMES = [
  'x"; DROP TABLE y; --',
  "x'); DROP TABLE y; --",
  'y; DROP TABLE y',
  'sqlite_master',
  'sqlite_sequence',
  'SQLITE_temp',
  '_berth_migrations',
  '_berth_collections',
  'a b',
  'a.b',
  'a-b',
  '"y"',
  '[y]',
  '`y`',
  '',
  '1abc',
  'é',
  'a'.repeat(64),
  'y\u0000',
];

describe('collection names', () => {
  it('refuses injection-shaped and reserved names with VALIDATION before any SQL runs', async () => {
    const victim = backend.repository<Item>('y');
    await victim.insert({ id: 'kept', name: 'still here' });
    const before = schema();
    for (const name of HOSTILE_NAMES) {
      await expectValidation(() => backend.repository(name));
      await expectValidation(() => backend.transaction(async (tx) => tx.repository(name)));
    }
    expect(schema()).toEqual(before);
    expect(await victim.find()).toEqual([{ id: 'kept', name: 'still here' }]);
  });

  it('refuses the same names as queue names (queues are rows, so only the naming rule applies)', async () => {
    const before = schema();
    for (const name of HOSTILE_NAMES.filter((name) => !/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(name))) {
      await expectValidation(() => backend.queue(name));
    }
    expect(schema()).toEqual(before);
  });

  it('accepts every name the rule allows, up to 63 characters, each in a table of its own', async () => {
    const names = ['a', 'Z9', 'select', 'DROP', 'table_1', `b${'x'.repeat(62)}`];
    for (const name of names) await backend.repository<Item>(name).insert({ id: 'one', name });
    for (const name of names) expect(await backend.repository<Item>(name).find()).toEqual([{ id: 'one', name }]);
  });
});

const HOSTILE_PATHS = [
  'a"b',
  "a'b",
  'a]b',
  'a[0]',
  'tags[0]',
  '$',
  '$.a',
  'a.$date',
  '$date',
  'a..b',
  '.a',
  'a.',
  '',
  'a b',
  'a\\b',
  '*',
  '%',
  "name') OR 1=1 --",
  'name"); DROP TABLE y; --',
  'name\u0000',
  'é',
  'a-'.repeat(40),
  Array.from({ length: 17 }, () => 'a').join('.'),
  'x'.repeat(65),
];

describe('field paths', () => {
  let items: Repository<Item>;
  let before: unknown[];

  beforeEach(async () => {
    items = backend.repository<Item>('items', { indexes: [{ field: 'name', type: 'string' }] });
    await items.insertMany([
      { id: 'a', name: 'alpha', n: 1 },
      { id: 'b', name: 'beta', n: 2 },
    ]);
    before = schema();
  });

  afterEach(async () => {
    expect(schema()).toEqual(before);
    expect(await items.find({ orderBy: 'id' })).toEqual([
      { id: 'a', name: 'alpha', n: 1 },
      { id: 'b', name: 'beta', n: 2 },
    ]);
  });

  it('are refused in filters, at any depth and under every operator', async () => {
    for (const path of HOSTILE_PATHS) {
      await expectValidation(() => items.find({ where: { [path]: 'alpha' } }));
      await expectValidation(() => items.find({ where: { [path]: { $gt: 1 } } }));
      await expectValidation(() => items.find({ where: { $or: [{ name: 'alpha' }, { [path]: { $in: ['x'] } }] } }));
      await expectValidation(() => items.find({ where: { $not: { [path]: { $exists: true } } } }));
      await expectValidation(() => items.count({ [path]: null }));
      await expectValidation(() => items.exists({ [path]: { $startsWith: 'a' } }));
      await expectValidation(() => items.findPage({ where: { [path]: { $contains: 'a' } }, limit: 1 }));
      await expectValidation(() => items.deleteMany({ [path]: 'alpha' }));
      await expectValidation(() => items.updateMany({ [path]: 'alpha' }, { $set: { name: 'x' } }));
      await expectValidation(() => items.explain({ where: { [path]: 'alpha' } }));
    }
  });

  it('are refused in orderBy, in every form', async () => {
    for (const path of HOSTILE_PATHS) {
      // Hostile paths are no paths of Item, so the typed API refuses them; these are sent anyway.
      // @ts-expect-error
      await expectValidation(() => items.find({ orderBy: path }));
      // @ts-expect-error
      await expectValidation(() => items.find({ orderBy: { field: path, direction: 'desc' } }));
      // @ts-expect-error
      await expectValidation(() => items.findPage({ orderBy: ['name', path], limit: 1 }));
    }
  });

  it('are refused in countBy', async () => {
    // @ts-expect-error hostile paths are no paths of Item: the typed API refuses them, sent anyway
    for (const path of HOSTILE_PATHS) await expectValidation(() => items.countBy(path));
  });

  it('are refused in declared indexes, plain and unique, before any table or index exists', async () => {
    for (const path of HOSTILE_PATHS) {
      await expectValidation(() => backend.repository('indexed', { indexes: [{ field: path, type: 'string' }] }));
      await expectValidation(() =>
        backend.repository('indexed', { indexes: [{ field: path, type: 'number', unique: true }] }),
      );
    }
    expect(schema().some((entry) => (entry as { tbl_name: string }).tbl_name === 'indexed')).toBe(false);
  });

  it('are refused in update operators and dotted patch keys', async () => {
    for (const path of HOSTILE_PATHS) {
      await expectValidation(() => items.update('a', { $set: { [path]: 1 } } as never));
      await expectValidation(() => items.update('a', { $inc: { [path]: 1 } } as never));
      await expectValidation(() => items.update('a', { $unset: [path] } as never));
      await expectValidation(() => items.updateMany({}, { $set: { [path]: 1 } } as never));
      if (path.includes('.')) await expectValidation(() => items.update('a', { [path]: 1 } as never));
    }
  });

  it('a sort direction is only asc or desc, never SQL', async () => {
    await expectValidation(() =>
      items.find({ orderBy: { field: 'name', direction: 'DESC; DROP TABLE items' as never } }),
    );
  });
});

/** Strings shaped like SQL, JSON paths, LIKE patterns, escapes and encodings, and odd Unicode. */
const HOSTILE_VALUES: readonly string[] = [
  "' OR 1=1 --",
  "' OR '1'='1",
  "'); DROP TABLE items; --",
  '"; DROP TABLE items; --',
  '$.a',
  '$."name"',
  '$[0]',
  '"',
  "'",
  '\\',
  '\\"',
  '%',
  '_',
  'a%',
  'a_',
  '*',
  '?',
  ':name',
  '@name',
  '$1',
  'json_extract(doc, \'$."name"\')',
  '{"$date":"2020-01-01T00:00:00.000Z"}',
  'null',
  'true',
  '1',
  '',
  ' ',
  '\n\t\r',
  'x'.repeat(10_000),
  '\uFFFF',
  '\uFFFE\uFFFF',
  '\u{10FFFF}',
  '🦀',
  '👩‍👩‍👧',
  'é',
  'e\u0301',
  '\u202Eevil',
];

describe('values', () => {
  let items: Repository<Item>;
  const ids = HOSTILE_VALUES.map((_, index) => `v${String(index).padStart(2, '0')}`);

  beforeEach(async () => {
    items = backend.repository<Item>('items', {
      indexes: [
        { field: 'name', type: 'string' },
        { field: 'value', type: 'string', unique: true },
      ],
    });
    await items.insertMany(
      HOSTILE_VALUES.map((value, index) => ({ id: ids[index] as string, name: value, value, tags: [value, 'other'] })),
    );
  });

  it('are stored and returned exactly', async () => {
    for (const [index, value] of HOSTILE_VALUES.entries()) {
      expect(await items.get(ids[index] as string)).toEqual({
        id: ids[index],
        name: value,
        value,
        tags: [value, 'other'],
      });
    }
    const stored = backend.native().prepare('SELECT count(*) AS n FROM items').get() as { n: number };
    expect(stored.n).toBe(HOSTILE_VALUES.length);
  });

  it('match themselves and nothing else under $eq, $in, $contains and $ne', async () => {
    for (const [index, value] of HOSTILE_VALUES.entries()) {
      const id = ids[index];
      expect(
        (await items.find({ where: { name: value } })).map((item) => item.id),
        value,
      ).toEqual([id]);
      expect((await items.find({ where: { value: { $in: [value, 'absent'] } } })).map((item) => item.id)).toEqual([id]);
      expect((await items.find({ where: { tags: { $contains: value } } })).map((item) => item.id)).toEqual([id]);
      expect(await items.count({ name: { $ne: value } })).toBe(HOSTILE_VALUES.length - 1);
      expect(await items.exists({ name: value })).toBe(true);
    }
  });

  it('are literal prefixes under $startsWith: no pattern characters, code points counted right', async () => {
    for (const value of HOSTILE_VALUES) {
      const expected = ids.filter((_, index) => (HOSTILE_VALUES[index] as string).startsWith(value));
      const found = await items.find({ where: { name: { $startsWith: value } } });
      expect(found.map((item) => item.id).sort(), JSON.stringify(value.slice(0, 20))).toEqual(expected);
    }
  });

  it('order and compare by code point in SQL, as the reference evaluator does', async () => {
    const sorted = [...HOSTILE_VALUES].sort((a, b) => compareValues(a, b));
    expect((await items.find({ orderBy: 'name' })).map((item) => item.name)).toEqual(sorted);
    expect((await items.find({ orderBy: { field: 'value', direction: 'desc' } })).map((item) => item.name)).toEqual(
      [...sorted].reverse(),
    );
    for (const value of ['%', '\uFFFF', '🦀', "' OR 1=1 --"]) {
      const above = HOSTILE_VALUES.filter((candidate) => compareValues(candidate, value) > 0);
      const found = await items.find({ where: { name: { $gt: value } }, orderBy: 'name' });
      expect(found.map((item) => item.name)).toEqual([...above].sort((a, b) => compareValues(a, b)));
    }
  });

  it('page through keyset cursors built from them', async () => {
    const seen: string[] = [];
    let cursor: string | null | undefined;
    do {
      const page = await items.findPage({ orderBy: 'name', limit: 4, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((item) => item.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual((await items.find({ orderBy: 'name' })).map((item) => item.id));
  });

  it('group literally under countBy', async () => {
    const groups = await items.countBy('name');
    expect(groups.map((group) => group.value)).toEqual([...HOSTILE_VALUES].sort((a, b) => compareValues(a, b)));
    expect(groups.every((group) => group.count === 1)).toBe(true);
  });

  it('work as ids and as updates, and an absent hostile id matches nothing', async () => {
    const other = backend.repository<Item>('others');
    for (const value of HOSTILE_VALUES) {
      if (value === '' || value.length > 256) continue;
      await other.insert({ id: value, value });
      expect(await other.get(value)).toEqual({ id: value, value });
      expect((await other.update(value, { $set: { name: value } })).name).toBe(value);
    }
    expect(await other.get("x' OR 1=1 --")).toBeNull();
    expect(await other.getMany(["x' OR '1'='1", '%', HOSTILE_VALUES[0] as string])).toEqual([
      null,
      { id: '%', value: '%', name: '%' },
      { id: HOSTILE_VALUES[0], value: HOSTILE_VALUES[0], name: HOSTILE_VALUES[0] },
    ]);
    expect(await other.delete("x' OR 1=1 --")).toBe(false);
    expect(await other.count()).toBe(HOSTILE_VALUES.filter((value) => value !== '' && value.length <= 256).length);
  });

  it('a unique index compares them literally: a different string with the same pattern is not a duplicate', async () => {
    await items.insert({ id: 'like', value: 'a\\%' });
    const duplicate = await failure(() => items.insert({ id: 'dup', value: '%' }));
    expect(isBerthError(duplicate, 'ALREADY_EXISTS')).toBe(true);
    expect(isBerthError(duplicate, 'ALREADY_EXISTS') && duplicate.field).toBe('value');
  });
});

describe('JSON encoding tricks', () => {
  it('a string that looks like an encoded Date stays a string and never equals a Date', async () => {
    const items = backend.repository<Item>('items', { indexes: [{ field: 'value', type: 'date' }] });
    const text = '{"$date":"2020-01-01T00:00:00.000Z"}';
    const date = new Date('2020-01-01T00:00:00.000Z');
    await items.insertMany([
      { id: 'text', value: text },
      { id: 'date', value: date },
      { id: 'nested', value: { when: text } },
    ]);
    expect(await items.get('text')).toEqual({ id: 'text', value: text });
    expect((await items.get('date'))?.value).toBeInstanceOf(Date);
    expect((await items.find({ where: { value: date } })).map((item) => item.id)).toEqual(['date']);
    expect((await items.find({ where: { value: text } })).map((item) => item.id)).toEqual(['text']);
    expect((await items.find({ where: { value: { $gte: date } } })).map((item) => item.id)).toEqual(['date']);
    expect((await items.find({ where: { value: { $gte: '{' } } })).map((item) => item.id)).toEqual(['text']);
    expect((await items.find({ where: { 'value.when': text } })).map((item) => item.id)).toEqual(['nested']);
    const groups = await items.countBy('value');
    expect(groups).toEqual([
      { value: text, count: 1 },
      { value: date, count: 1 },
    ]);
  });

  it('keys that could pass for the Date encoding or operators are refused by core, nothing written', async () => {
    const items = backend.repository<Item>('items');
    await expectValidation(() => items.insert({ id: 'a', value: { $date: '2020-01-01T00:00:00.000Z' } }));
    await expectValidation(() => items.insert({ id: 'b', value: { nested: { $gt: 1 } } }));
    await expectValidation(() => items.insertMany([{ id: 'c' }, { id: 'd', value: [{ $where: '1' }] }]));
    await expectValidation(() => items.insert({ id: 'e', value: JSON.parse('{"__proto__": 1}') }));
    expect(await items.count()).toBe(0);
  });

  it('keys holding quotes, dots, brackets and dollars mid-key are data, stored and returned as given', async () => {
    const items = backend.repository<Item>('items');
    const value = { 'a"b': 1, "c'd": 2, 'e.f': 3, 'g[0]': 4, h$: 5, '': 6, ' ': 7, '🦀': 8 };
    await items.insert({ id: 'keys', value });
    expect(await items.get('keys')).toEqual({ id: 'keys', value });
    expect(await items.find({ where: { value: { $exists: true } } })).toEqual([{ id: 'keys', value }]);
  });
});
