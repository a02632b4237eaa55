import { normalizeOrderBy, parseFilter } from '@berth/core/adapter';
import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Expression, SqlDialect } from './sql-dialect.js';
import { compileFilter } from './sql-filter.js';
import { compileAfter, compileOrderBy } from './sql-order.js';
import { checkedPath } from './sql-paths.js';

// The walk's structure, on a dialect that writes readable pseudo-SQL; what
// the SQL means is tested on the real engines (adapter-sqlite's and
// adapter-postgres's compiler and conformance tests).

const field = (name: string, path: readonly string[]) => sql.raw(`${name}(${checkedPath(path).join('.')})`);

const FAKE: SqlDialect = {
  true: sql`TRUE`,
  false: sql`FALSE`,
  id: sql`id`,
  rankOf: (path) => field('rank', path),
  sortValuesOf: (path) => [field('num', path), field('str', path)],
  sortParameters: (value) => {
    if (typeof value === 'boolean') return [value ? 1 : 0, null];
    if (typeof value === 'number') return [value, null];
    if (typeof value === 'string') return [null, value];
    if (value instanceof Date) return [null, value.toISOString()];
    return [null, null];
  },
  metadataColumn: (path) => sql.raw(path[0] === '$createdAt' ? 'created' : 'updated'),
  metadataParameter: (value) => (value instanceof Date ? value.getTime() : null),
  exists: (path, present) => field(present ? 'present' : 'absent', path),
  startsWith: (path, prefix) => sql`starts(${field('str', path)}, ${prefix})`,
  contains: (path, element) => sql`has(${field('array', path)}, ${element})`,
  same: (expression, value) => (value === null ? sql`${expression} IS NULL` : sql`${expression} = ${value}`),
};

const compiler = new Kysely<Record<string, Record<string, unknown>>>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
});

/** The SQL with each bound parameter shown in its place as `[json]`. */
function render(expression: Expression): string {
  const { sql: text, parameters } = expression.compile(compiler);
  let index = 0;
  return text.replaceAll('?', () => `[${JSON.stringify(parameters[index++])}]`);
}

const where = (filter: unknown) => render(compileFilter(FAKE, parseFilter(filter)));

describe('compileFilter', () => {
  it('compares a field by its sort key: the rank inlined, the one value of that rank bound', () => {
    expect(where({ a: 5 })).toBe('(rank(a) = 2 AND num(a) = [5])');
    expect(where({ 'a.b': 'x' })).toBe('(rank(a.b) = 3 AND str(a.b) = ["x"])');
    expect(where({ a: true })).toBe('(rank(a) = 1 AND num(a) = [1])');
    expect(where({ a: new Date(0) })).toBe('(rank(a) = 4 AND str(a) = ["1970-01-01T00:00:00.000Z"])');
    expect(where({ a: null })).toBe('(rank(a) = 0)');
    expect(where({ a: { $ne: 5 } })).toBe('(NOT (rank(a) = 2 AND num(a) = [5]))');
    expect(where({ a: { $gte: 'k', $lt: 3 } })).toBe(
      '((rank(a) = 3 AND str(a) >= ["k"]) AND (rank(a) = 2 AND num(a) < [3]))',
    );
  });

  it('writes $in as null first, then one IN list per type, by rank', () => {
    expect(where({ a: { $in: ['x', 2, null, false, 1, 'y'] } })).toBe(
      '((rank(a) = 0) OR (rank(a) = 1 AND num(a) IN ([0])) OR (rank(a) = 2 AND num(a) IN ([2], [1])) OR (rank(a) = 3 AND str(a) IN (["x"], ["y"])))',
    );
    expect(where({ a: { $in: [] } })).toBe('FALSE');
    expect(where({ a: { $nin: [] } })).toBe('(NOT FALSE)');
  });

  it('walks and, or and not, the empty and holding and the empty or not', () => {
    expect(where({ $or: [{ a: 1 }, { $not: { b: null } }], c: { $exists: false } })).toBe(
      '(((rank(a) = 2 AND num(a) = [1]) OR (NOT (rank(b) = 0))) AND absent(c))',
    );
    expect(where({ $and: [] })).toBe('TRUE');
    expect(where({ $or: [] })).toBe('FALSE');
    expect(where(undefined)).toBe('TRUE');
  });

  it('hands exists, startsWith and contains to the dialect', () => {
    expect(where({ a: { $exists: true } })).toBe('present(a)');
    expect(where({ a: { $startsWith: "it's" } })).toBe(`starts(str(a), ["it's"])`);
    expect(where({ a: { $contains: 3 } })).toBe('has(array(a), [3])');
  });

  it('reads id from its column: only strings can match', () => {
    expect(where({ id: 'x' })).toBe('(id = ["x"])');
    expect(where({ id: 3 })).toBe('FALSE');
    expect(where({ id: { $ne: 3 } })).toBe('TRUE');
    expect(where({ id: { $gt: 'm' } })).toBe('(id > ["m"])');
    expect(where({ id: { $in: ['a', 1, 'b'] } })).toBe('(id IN (["a"], ["b"]))');
    expect(where({ id: { $nin: [1] } })).toBe('(NOT FALSE)');
    expect(where({ id: { $exists: false } })).toBe('FALSE');
  });

  it('reads metadata from its columns', () => {
    const at = new Date(1000);
    expect(where({ $createdAt: at })).toBe('(created = [1000])');
    expect(where({ $updatedAt: { $gt: at, $ne: at } })).toBe('((updated > [1000]) AND (updated != [1000]))');
    expect(where({ $createdAt: { $in: [at, new Date(2000)] } })).toBe('(created IN ([1000], [2000]))');
    expect(where({ $createdAt: { $nin: [at] } })).toBe('(NOT (created IN ([1000])))');
    expect(where({ $updatedAt: { $exists: true } })).toBe('TRUE');
  });
});

describe('compileOrderBy', () => {
  it('orders by rank and sort values per key, then id', () => {
    const sort = normalizeOrderBy([{ field: 'a', direction: 'desc' }, '$createdAt']);
    expect(render(compileOrderBy(FAKE, sort))).toBe('rank(a) DESC, num(a) DESC, str(a) DESC, created ASC, id ASC');
    expect(render(compileOrderBy(FAKE, []))).toBe('id ASC');
  });

  it('leaves out a rank a top-level term of the filter fixes', () => {
    const sort = normalizeOrderBy(['a', 'b']);
    const filter = parseFilter({ a: { $gt: 1 }, b: null });
    expect(render(compileOrderBy(FAKE, sort, filter))).toBe(
      'num(a) ASC, str(a) ASC, rank(b) ASC, num(b) ASC, str(b) ASC, id ASC',
    );
    const either = parseFilter({ $or: [{ a: 1 }, { a: 2 }] });
    expect(render(compileOrderBy(FAKE, sort, either))).toContain('rank(a) ASC');
  });
});

describe('on the id column', () => {
  it('orders by the id column, and nothing after an id key', () => {
    expect(render(compileOrderBy(FAKE, normalizeOrderBy('id')))).toBe('id ASC');
    expect(render(compileOrderBy(FAKE, normalizeOrderBy({ field: 'id', direction: 'desc' })))).toBe('id DESC');
    const sort = normalizeOrderBy(['a', { field: 'id', direction: 'desc' }, 'b']);
    expect(render(compileOrderBy(FAKE, sort))).toBe('rank(a) ASC, num(a) ASC, str(a) ASC, id DESC');
  });

  it('keysets on the id column alone for an id key', () => {
    expect(render(compileAfter(FAKE, normalizeOrderBy('id'), { values: ['k'], id: 'k' }))).toBe('((id > ["k"]))');
    const sort = normalizeOrderBy([{ field: 'id', direction: 'desc' }, 'b']);
    expect(render(compileAfter(FAKE, sort, { values: ['k'], id: 'k' }))).toBe('((id < ["k"]))');
  });

  it('reads $startsWith on the id as a primary-key range, the exact check kept', () => {
    expect(where({ id: { $startsWith: 'ab' } })).toBe('(id >= ["ab"] AND id < ["ac"] AND starts(str(id), ["ab"]))');
    expect(where({ id: { $startsWith: 'a\u{10FFFF}' } })).toBe(
      '(id >= ["a\u{10FFFF}"] AND id < ["b"] AND starts(str(id), ["a\u{10FFFF}"]))',
    );
    expect(where({ id: { $startsWith: '\u{D7FF}' } })).toBe(
      '(id >= ["\u{D7FF}"] AND id < ["\u{E000}"] AND starts(str(id), ["\u{D7FF}"]))',
    );
    expect(where({ id: { $startsWith: '\u{10FFFF}' } })).toBe(
      '(id >= ["\u{10FFFF}"] AND starts(str(id), ["\u{10FFFF}"]))',
    );
    expect(where({ id: { $startsWith: '' } })).toBe('(id >= [""] AND starts(str(id), [""]))');
  });
});

describe('compileAfter', () => {
  it('expands the keyset: beyond on one column, the same on every earlier one', () => {
    const sort = normalizeOrderBy('a');
    expect(render(compileAfter(FAKE, sort, { values: [5], id: 'k' }))).toBe(
      '((rank(a) > [2]) OR (rank(a) = [2] AND num(a) > [5]) OR (rank(a) = [2] AND num(a) = [5] AND str(a) IS NULL AND id > ["k"]))',
    );
  });

  it('skips the NULL columns of a rank, and compares downward for descending keys', () => {
    const sort = normalizeOrderBy([{ field: 'a', direction: 'desc' }]);
    expect(render(compileAfter(FAKE, sort, { values: [null], id: 'k' }))).toBe(
      '((rank(a) < [0]) OR (rank(a) = [0] AND num(a) IS NULL AND str(a) IS NULL AND id > ["k"]))',
    );
    expect(render(compileAfter(FAKE, sort, { values: ['s'], id: 'k' }))).toBe(
      '((rank(a) < [3]) OR (rank(a) = [3] AND num(a) IS NULL AND str(a) < ["s"]) OR (rank(a) = [3] AND num(a) IS NULL AND str(a) = ["s"] AND id > ["k"]))',
    );
  });

  it('uses the metadata column alone for a metadata key', () => {
    const sort = normalizeOrderBy([{ field: '$updatedAt', direction: 'desc' }]);
    expect(render(compileAfter(FAKE, sort, { values: [new Date(7)], id: 'k' }))).toBe(
      '((updated < [7]) OR (updated = [7] AND id > ["k"]))',
    );
  });
});

describe('checkedPath', () => {
  it('refuses any segment core would refuse, and segments holding a dot', () => {
    expect(checkedPath(['a', 'b-c', '0'])).toEqual(['a', 'b-c', '0']);
    for (const path of [["a'b"], ['a.b'], ['__proto__'], [], ['a', ''], ['a b']]) {
      expect(() => checkedPath(path), path.join('|')).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
    expect(() => compileFilter(FAKE, { kind: 'eq', path: ["x'"], value: 1 })).toThrow(
      expect.objectContaining({ code: 'VALIDATION' }),
    );
  });
});
