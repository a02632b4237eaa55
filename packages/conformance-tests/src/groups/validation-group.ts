import type {
  Document,
  Repository,
  StandardSchemaV1,
  StandardSchemaV1Issue,
  StandardSchemaV1Result,
} from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceCase, type ConformanceContext, type ConformanceGroup, defineGroup } from '../harness.js';
import {
  expectBerthError,
  expectRepositoryRefused,
  expectUnchanged,
  invalid,
  type LooseDocument,
  snapshot,
} from './assertions.js';
import { limitCases } from './limits-cases.js';
import { prototypePathCases } from './prototype-path-cases.js';

class Point {
  x = 1;
  y = 2;
}

/** Values a document may not hold, each made fresh so no case shares state. */
const BAD_VALUES: readonly (readonly [label: string, make: () => unknown])[] = [
  ['a BigInt', () => 10n],
  ['NaN', () => Number.NaN],
  ['Infinity', () => Number.POSITIVE_INFINITY],
  ['-Infinity', () => Number.NEGATIVE_INFINITY],
  ['a Map', () => new Map([['a', 1]])],
  ['a Set', () => new Set([1])],
  ['a class instance', () => new Point()],
  ['a function', () => () => 1],
  ['a symbol', () => Symbol('s')],
  ['an invalid Date', () => new Date('not a date')],
  ['a Uint8Array', () => new Uint8Array([1, 2])],
  ['a RegExp', () => /a/],
  ['a string with a lone high surrogate', () => 'ab\uD800'],
  ['a string with a lone low surrogate', () => '\uDC00ab'],
  ['a string with U+0000', () => 'a\u0000b'],
];

/** Repository holding one valid document, `keep`, that rejected writes must leave alone. */
async function withKeep(context: ConformanceContext): Promise<Repository<LooseDocument>> {
  const repository = context.repository<LooseDocument>();
  await repository.insert({ id: 'keep', stats: { level: 1 }, tags: ['a'] });
  return repository;
}

function badValueCase(label: string, make: () => unknown): ConformanceCase {
  return {
    name: `rejects ${label} with VALIDATION naming its path, at top level, nested, in an array and in updates`,
    async run(context) {
      const repository = await withKeep(context);
      const before = await snapshot(repository);
      await expectBerthError(repository.insert({ id: 'a', value: make() }), 'VALIDATION', { path: 'value' });
      await expectBerthError(repository.insert({ id: 'a', stats: { born: make() } }), 'VALIDATION', {
        path: 'stats.born',
      });
      await expectBerthError(repository.insert({ id: 'a', tags: ['x', 'y', make()] }), 'VALIDATION', {
        path: 'tags.2',
      });
      await expectBerthError(repository.replace({ id: 'keep', stats: { born: make() } }), 'VALIDATION', {
        path: 'stats.born',
      });
      await expectBerthError(repository.upsert({ id: 'keep', stats: { born: make() } }), 'VALIDATION', {
        path: 'stats.born',
      });
      await expectBerthError(repository.update('keep', invalid({ 'stats.born': make() })), 'VALIDATION', {
        path: 'stats.born',
      });
      await expectBerthError(repository.update('keep', invalid({ $set: { 'stats.born': make() } })), 'VALIDATION', {
        path: 'stats.born',
      });
      await expectUnchanged(repository, before);
    },
  };
}

const HERO_ISSUE = 'level must be a number >= 0';

interface Hero extends Document {
  name: string;
  level: number;
  stats?: { rank: number };
  tags: string[];
}

/**
 * A hand-written Standard Schema: levels and ranks must not be negative, tags
 * must be non-empty strings; its output trims `name` and defaults `tags`.
 */
function heroSchema(mode: 'sync' | 'async'): StandardSchemaV1<unknown, Hero> {
  const check = (value: unknown): StandardSchemaV1Result<Hero> => {
    if (typeof value !== 'object' || value === null) return { issues: [{ message: 'not an object' }] };
    const input = value as Record<string, unknown>;
    const issues: StandardSchemaV1Issue[] = [];
    if (typeof input.name !== 'string') issues.push({ message: 'name must be a string', path: ['name'] });
    if (typeof input.level !== 'number' || input.level < 0) issues.push({ message: HERO_ISSUE, path: ['level'] });
    const rank = (input.stats as { rank?: unknown } | undefined)?.rank;
    if (input.stats !== undefined && (typeof rank !== 'number' || rank < 0)) {
      issues.push({ message: 'rank must be >= 0', path: [{ key: 'stats' }, { key: 'rank' }] });
    }
    const tags = input.tags ?? [];
    if (!Array.isArray(tags)) {
      issues.push({ message: 'tags must be an array', path: ['tags'] });
    } else {
      tags.forEach((tag: unknown, index) => {
        if (typeof tag !== 'string' || tag === '') issues.push({ message: 'empty tag', path: ['tags', index] });
      });
    }
    if (issues.length > 0) return { issues };
    return { value: { ...input, name: (input.name as string).trim(), tags } as Hero };
  };
  return {
    '~standard': {
      version: 1,
      vendor: 'berth-conformance',
      validate: mode === 'sync' ? check : async (value) => check(value),
    },
  };
}

function schemaCases(mode: 'sync' | 'async'): ConformanceCase[] {
  return [
    {
      name: `a ${mode} schema rejects a negative level as VALIDATION with the issue path, storing nothing`,
      async run(context) {
        const repository = context.repository<Hero>({ schema: heroSchema(mode) });
        const error = await expectBerthError(
          repository.insert({ id: 'h', name: 'Ada', level: -1, tags: [] }),
          'VALIDATION',
          {
            path: 'level',
          },
        );
        expect(error.message).toContain(HERO_ISSUE);
        await expectBerthError(
          repository.insert({ id: 'h', name: 'Ada', level: 1, stats: { rank: -5 }, tags: [] }),
          'VALIDATION',
          { path: 'stats.rank' },
        );
        await expectBerthError(repository.insert({ id: 'h', name: 'Ada', level: 1, tags: ['ok', ''] }), 'VALIDATION', {
          path: 'tags.1',
        });
        await expectBerthError(
          repository.insertMany([
            { id: 'ok', name: 'Ok', level: 1, tags: [] },
            { id: 'bad', name: 'Bad', level: -1, tags: [] },
          ]),
          'VALIDATION',
        );
        expect(await repository.count()).toBe(0);
      },
    },
    {
      name: `a ${mode} schema's output is what insert, replace, upsert and insertMany store`,
      async run(context) {
        const repository = context.repository<Hero>({ schema: heroSchema(mode) });
        const inserted = await repository.insert(invalid({ id: 'h', name: '  Ada  ', level: 1 }));
        expect(inserted).toStrictEqual({ id: 'h', name: 'Ada', level: 1, tags: [] });
        expect(await repository.get('h')).toStrictEqual({ id: 'h', name: 'Ada', level: 1, tags: [] });
        await repository.replace({ id: 'h', name: ' Lovelace ', level: 2, tags: ['x'] });
        expect(await repository.get('h')).toStrictEqual({ id: 'h', name: 'Lovelace', level: 2, tags: ['x'] });
        await repository.upsert(invalid({ id: 'u', name: ' Upserted\t', level: 0 }));
        expect(await repository.get('u')).toStrictEqual({ id: 'u', name: 'Upserted', level: 0, tags: [] });
        await repository.insertMany([invalid({ id: 'm', name: ' Many ', level: 3 })]);
        expect(await repository.get('m')).toStrictEqual({ id: 'm', name: 'Many', level: 3, tags: [] });
      },
    },
    {
      name: `a ${mode} schema checks importEntries (issue path under the entry, nothing stored) and its output is stored`,
      async run(context) {
        const repository = context.repository<Hero>({ schema: heroSchema(mode) });
        const meta = { version: 4, createdAt: new Date('2001-01-01T00:00:00.000Z'), updatedAt: new Date('2002-01-01') };
        await expectBerthError(
          repository.importEntries([
            { document: { id: 'ok', name: 'Ok', level: 1, tags: [] }, meta },
            { document: { id: 'bad', name: 'Bad', level: -1, tags: [] }, meta },
          ]),
          'VALIDATION',
          { path: '1.document.level' },
        );
        expect(await repository.count()).toBe(0);
        await repository.importEntries([{ document: invalid({ id: 'h', name: '  Ada ', level: 2 }), meta }]);
        expect(await repository.getEntry('h')).toStrictEqual({
          document: { id: 'h', name: 'Ada', level: 2, tags: [] },
          meta,
        });
      },
    },
    {
      name: `a ${mode} schema validates the whole document after an update is applied`,
      async run(context) {
        const repository = context.repository<Hero>({ schema: heroSchema(mode) });
        await repository.insert({ id: 'h', name: 'Ada', level: 1, tags: [] });
        const before = await snapshot(repository);
        await expectBerthError(repository.update('h', { level: -1 }), 'VALIDATION', { path: 'level' });
        await expectBerthError(repository.update('h', { $inc: { level: -2 } }), 'VALIDATION', { path: 'level' });
        await expectBerthError(repository.update('h', { 'stats.rank': -1 }), 'VALIDATION', { path: 'stats.rank' });
        await expectBerthError(repository.updateMany({}, { $inc: { level: -5 } }), 'VALIDATION', { path: 'level' });
        await expectUnchanged(repository, before);
        expect(await repository.update('h', { name: '  Bob ', 'stats.rank': 4 })).toStrictEqual({
          id: 'h',
          name: 'Bob',
          level: 1,
          stats: { rank: 4 },
          tags: [],
        });
        await repository.update('h', { $set: { name: ' Carol ' } });
        expect((await repository.get('h'))?.name).toBe('Carol');
      },
    },
  ];
}

const BAD_COLLECTION_NAMES: readonly string[] = [
  '',
  `a${'b'.repeat(63)}`,
  '1users',
  '_users',
  'user-profiles',
  'user profiles',
  '"; DROP TABLE x; --',
  'a.b',
  'usérs',
  '用户',
  'users;',
  'users\u0000',
  '`users`',
  "users'",
];

const BAD_PATHS: readonly string[] = [
  "a'b",
  'a"b',
  'a;b',
  'a b',
  '$.a',
  'a[0]',
  'a..b',
  '',
  '.a',
  'a.',
  'a/b',
  'a->b',
  'a\\b',
  'a`b',
  'a\u0000b',
  'é',
  'x'.repeat(65),
  Array.from({ length: 17 }, () => 'a').join('.'),
];

const INJECTION_VALUES: readonly string[] = [
  "'; DROP TABLE x; --",
  '") OR 1=1 --',
  "' OR '1'='1",
  '%',
  '%%',
  'a%',
  'a%b',
  'axb',
  '_',
  'a_',
  'a_b',
  '\\',
  '\\%',
  "\\'",
  '*',
  'a*',
  '?',
  '[a]',
  '.*',
  '^a',
  '$1',
  '{"$gt":""}',
  '@name:{x}',
  "' || '",
  '"',
  "''",
];

/** A document with one value at every path the valid-path case queries. */
function boundaryDocument(id: string, value: number): LooseDocument {
  let deep: Record<string, unknown> = { p: value };
  for (let level = 0; level < 14; level++) deep = { p: deep };
  return { id, 'first-name': value, '2nd': value, snake_case: value, ['s'.repeat(64)]: value, p: deep };
}

const DEEPEST_PATH = Array.from({ length: 16 }, () => 'p').join('.');
const VALID_PATHS: readonly string[] = ['first-name', '2nd', 'snake_case', 's'.repeat(64), DEEPEST_PATH];

/**
 * What is refused with `VALIDATION` before anything is written: cycles, `undefined` in arrays, `$` and
 * `__proto__` keys, bad ids and collection names, unknown operators and injection-shaped field paths; and the
 * unusual but valid names and paths that are accepted.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, registerGroup, validationGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(validationGroup, options);
 * ```
 */
export const validationGroup: ConformanceGroup = defineGroup('validation', [
  ...BAD_VALUES.map(([label, make]) => badValueCase(label, make)),
  {
    name: 'rejects circular references with VALIDATION naming where the cycle closes',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const top: Record<string, unknown> = { id: 'a' };
      top.self = top;
      await expectBerthError(repository.insert(invalid(top)), 'VALIDATION', { path: 'self' });
      const stats: Record<string, unknown> = { level: 1 };
      stats.loop = stats;
      await expectBerthError(repository.insert({ id: 'a', stats }), 'VALIDATION', { path: 'stats.loop' });
      const list: unknown[] = ['x'];
      list.push(list);
      await expectBerthError(repository.insert({ id: 'a', list }), 'VALIDATION', { path: 'list.1' });
      expect(await repository.count()).toBe(0);
    },
  },
  {
    name: 'accepts the same object referenced twice when there is no cycle',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const shared = { x: 1, at: new Date(7) };
      await repository.insert({ id: 'a', left: shared, right: shared, list: [shared, shared] });
      expect(await repository.get('a')).toStrictEqual({ id: 'a', left: shared, right: shared, list: [shared, shared] });
    },
  },
  {
    name: 'rejects undefined and holes inside arrays with VALIDATION naming the element',
    async run(context) {
      const repository = await withKeep(context);
      const before = await snapshot(repository);
      await expectBerthError(repository.insert({ id: 'a', tags: ['x', undefined, 'z'] }), 'VALIDATION', {
        path: 'tags.1',
      });
      // biome-ignore lint/suspicious/noSparseArray: the hole is the value under test.
      await expectBerthError(repository.insert({ id: 'a', tags: ['x', , 'z'] }), 'VALIDATION', { path: 'tags.1' });
      await expectBerthError(repository.insert({ id: 'a', stats: { list: [undefined] } }), 'VALIDATION', {
        path: 'stats.list.0',
      });
      await expectBerthError(repository.update('keep', invalid({ $set: { tags: ['a', undefined] } })), 'VALIDATION', {
        path: 'tags.1',
      });
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'rejects object keys starting with $ with VALIDATION naming the key, including a Date-encoding look-alike',
    async run(context) {
      const repository = await withKeep(context);
      const before = await snapshot(repository);
      await expectBerthError(repository.insert({ id: 'a', $where: 'true' }), 'VALIDATION', { path: '$where' });
      await expectBerthError(repository.insert({ id: 'a', stats: { $inc: 1 } }), 'VALIDATION', { path: 'stats.$inc' });
      await expectBerthError(
        repository.insert({ id: 'a', born: { $date: '2020-01-01T00:00:00.000Z' } }),
        'VALIDATION',
        { path: 'born.$date' },
      );
      await expectBerthError(repository.insert({ id: 'a', list: [{ $gt: 1 }] }), 'VALIDATION', { path: 'list.0.$gt' });
      await expectBerthError(repository.update('keep', { $set: { stats: { $gt: 1 } } }), 'VALIDATION', {
        path: 'stats.$gt',
      });
      await expectBerthError(repository.replace({ id: 'keep', stats: { $ne: null } }), 'VALIDATION', {
        path: 'stats.$ne',
      });
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'accepts a $ inside a key and a key named like a prototype member other than __proto__',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const document = { id: 'a', price$: 1, nested: { a$b: 2, constructor: 'c', toString: 't', prototype: 'p' } };
      await repository.insert(document);
      expect(await repository.get('a')).toStrictEqual(document);
    },
  },
  {
    name: 'rejects a __proto__ key with VALIDATION naming it, at top level and nested',
    async run(context) {
      const repository = await withKeep(context);
      const before = await snapshot(repository);
      const top: LooseDocument = JSON.parse('{"id":"a","__proto__":{"admin":true}}');
      await expectBerthError(repository.insert(top), 'VALIDATION', { path: '__proto__' });
      const nested: LooseDocument = JSON.parse('{"id":"a","stats":{"__proto__":{"admin":true}}}');
      await expectBerthError(repository.insert(nested), 'VALIDATION', { path: 'stats.__proto__' });
      const inArray: LooseDocument = JSON.parse('{"id":"a","list":[{"__proto__":1}]}');
      await expectBerthError(repository.insert(inArray), 'VALIDATION', { path: 'list.0.__proto__' });
      const replacement: LooseDocument = JSON.parse('{"id":"keep","stats":{"__proto__":{"admin":true}}}');
      await expectBerthError(repository.replace(replacement), 'VALIDATION', { path: 'stats.__proto__' });
      await expectUnchanged(repository, before);
      expect(({} as Record<string, unknown>).admin).toBeUndefined();
    },
  },
  {
    name: 'rejects object keys holding U+0000 or a lone surrogate with VALIDATION',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await expectBerthError(repository.insert({ id: 'a', 'bad\u0000key': 1 }), 'VALIDATION');
      await expectBerthError(repository.insert({ id: 'a', stats: { 'bad\uD800': 1 } }), 'VALIDATION');
      expect(await repository.count()).toBe(0);
    },
  },
  {
    name: 'rejects ids holding U+0000 or a lone surrogate with VALIDATION',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await expectBerthError(repository.insert({ id: 'a\u0000b' }), 'VALIDATION', { path: 'id' });
      await expectBerthError(repository.insert({ id: 'a\uD800' }), 'VALIDATION', { path: 'id' });
      await expectBerthError(repository.upsert({ id: '\uDC00' }), 'VALIDATION', { path: 'id' });
      expect(await repository.count()).toBe(0);
    },
  },
  {
    name: 'refuses collection names outside letters, digits and _ (starting with a letter, at most 63) with VALIDATION',
    async run(context) {
      for (const name of BAD_COLLECTION_NAMES) {
        await expectRepositoryRefused(context.backend, name, 'VALIDATION');
      }
    },
  },
  {
    name: 'accepts a collection name of exactly 63 characters, mixed case and digits',
    async run(context) {
      const base = context.collectionName('Mixed9');
      const name = context.reportCollection(`${base}${'Z'.repeat(63 - base.length)}`);
      expect(name).toHaveLength(63);
      const repository = context.backend.repository<LooseDocument>(name);
      await repository.insert({ id: 'a', value: 1 });
      expect(await context.backend.repository<LooseDocument>(name).get('a')).toStrictEqual({ id: 'a', value: 1 });
    },
  },
  {
    name: 'refuses index declarations whose field path is injection-shaped with VALIDATION',
    async run(context) {
      for (const field of ["a'b", 'a b', 'a;b', '$.a', 'a..b', '']) {
        await expectRepositoryRefused(context.backend, context.collectionName(), 'VALIDATION', {
          indexes: [{ field, type: 'string' }],
        });
      }
    },
  },
  {
    name: 'rejects unknown filter operators with VALIDATION in every query and bulk write',
    async run(context) {
      const repository = await withKeep(context);
      const before = await snapshot(repository);
      const filters = [
        { stats: { $regex: '.*' } },
        { $where: 'true' },
        { 'stats.level': { $foo: 1 } },
        { $foo: [] },
        { $and: [{ 'stats.level': { $regex: '1' } }] },
        { $not: { $where: '1' } },
        { 'stats.level': { $gt: 0, $elemMatch: {} } },
      ];
      for (const where of filters) {
        await expectBerthError(repository.find({ where }), 'VALIDATION');
        await expectBerthError(repository.findOne({ where }), 'VALIDATION');
        await expectBerthError(repository.count(where), 'VALIDATION');
        await expectBerthError(repository.exists(where), 'VALIDATION');
        await expectBerthError(repository.countBy('stats.level', where), 'VALIDATION');
        await expectBerthError(repository.updateMany(where, { $set: { touched: true } }), 'VALIDATION');
        await expectBerthError(repository.deleteMany(where), 'VALIDATION');
      }
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'rejects injection-shaped field paths in filters with VALIDATION, writing nothing',
    async run(context) {
      const repository = await withKeep(context);
      const before = await snapshot(repository);
      for (const path of BAD_PATHS) {
        await expectBerthError(repository.find({ where: { [path]: 1 } }), 'VALIDATION');
        await expectBerthError(repository.find({ where: { [path]: { $gt: 1 } } }), 'VALIDATION');
        await expectBerthError(repository.count({ $or: [{ [path]: 'x' }] }), 'VALIDATION');
        await expectBerthError(repository.deleteMany({ [path]: { $exists: false } }), 'VALIDATION');
        await expectBerthError(repository.updateMany({ [path]: null }, { $set: { touched: true } }), 'VALIDATION');
      }
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'rejects injection-shaped field paths in orderBy and countBy with VALIDATION',
    async run(context) {
      const repository = await withKeep(context);
      for (const path of BAD_PATHS) {
        await expectBerthError(repository.find({ orderBy: path }), 'VALIDATION');
        await expectBerthError(repository.find({ orderBy: { field: path, direction: 'desc' } }), 'VALIDATION');
        await expectBerthError(repository.find({ orderBy: ['stats.level', path] }), 'VALIDATION');
        await expectBerthError(repository.countBy(path), 'VALIDATION');
      }
    },
  },
  {
    name: 'rejects injection-shaped field paths in $set, $unset and $inc with VALIDATION, writing nothing',
    async run(context) {
      const repository = await withKeep(context);
      const before = await snapshot(repository);
      for (const path of BAD_PATHS) {
        await expectBerthError(repository.update('keep', { $set: { [path]: 1 } }), 'VALIDATION');
        await expectBerthError(repository.update('keep', { $unset: [path] }), 'VALIDATION');
        await expectBerthError(repository.update('keep', { $inc: { [path]: 1 } }), 'VALIDATION');
        await expectBerthError(repository.updateMany({}, { $inc: { [path]: 1 } }), 'VALIDATION');
      }
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'accepts field paths with -, leading digits, 64-character segments and 16 segments everywhere paths go',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insertMany([boundaryDocument('a', 1), boundaryDocument('b', 2)]);
      for (const path of VALID_PATHS) {
        expect((await repository.find({ where: { [path]: 2 } })).map((document) => document.id)).toStrictEqual(['b']);
        const descending = await repository.find({ orderBy: { field: path, direction: 'desc' } });
        expect(descending.map((document) => document.id)).toStrictEqual(['b', 'a']);
        expect(await repository.countBy(path)).toStrictEqual([
          { value: 1, count: 1 },
          { value: 2, count: 1 },
        ]);
        await repository.update('a', { $inc: { [path]: 10 } });
        expect(await repository.count({ [path]: 11 })).toBe(1);
        await repository.update('a', { $set: { [path]: 1 } });
      }
      await repository.update('a', { $unset: [DEEPEST_PATH] });
      expect(await repository.count({ [DEEPEST_PATH]: { $exists: false } })).toBe(1);
    },
  },
  {
    name: 'stores and matches injection-shaped string values literally',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insertMany(INJECTION_VALUES.map((value, index) => ({ id: `v${index}`, value, tags: [value] })));
      for (const [index, value] of INJECTION_VALUES.entries()) {
        const id = `v${index}`;
        expect(await repository.get(id)).toStrictEqual({ id, value, tags: [value] });
        const ids = async (where: Record<string, unknown>): Promise<string[]> =>
          (await repository.find({ where: invalid(where), orderBy: 'id' })).map((document) => document.id);
        expect(await ids({ value })).toStrictEqual([id]);
        expect(await ids({ value: { $in: [value] } })).toStrictEqual([id]);
        expect(await ids({ tags: { $contains: value } })).toStrictEqual([id]);
        expect(await ids({ value: { $ne: value } })).toHaveLength(INJECTION_VALUES.length - 1);
        const expected = INJECTION_VALUES.flatMap((other, otherIndex) =>
          other.startsWith(value) ? [`v${otherIndex}`] : [],
        ).sort();
        expect(await ids({ value: { $startsWith: value } })).toStrictEqual(expected);
      }
      expect(await repository.count()).toBe(INJECTION_VALUES.length);
    },
  },
  ...prototypePathCases,
  ...limitCases,
  ...schemaCases('sync'),
  ...schemaCases('async'),
]);
