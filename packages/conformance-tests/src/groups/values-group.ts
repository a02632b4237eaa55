import type { Document, Repository } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import { compareCodePoints, expectBerthError, invalid, type LooseDocument, present } from './assertions.js';
import { EXTREME_NUMBERS } from './query-fixtures.js';

/**
 * Inserts `document` and checks that insert, get, getMany, getEntry and an
 * id-equality find all give it back exactly (types, Dates, nesting).
 */
async function expectRoundTrip(
  repository: Repository<LooseDocument>,
  document: LooseDocument,
  expected: LooseDocument = document,
): Promise<void> {
  expect(await repository.insert(document)).toStrictEqual(expected);
  expect(await repository.get(document.id)).toStrictEqual(expected);
  expect(await repository.getMany([document.id])).toStrictEqual([expected]);
  expect((await repository.getEntry(document.id))?.document).toStrictEqual(expected);
  expect(await repository.find({ where: { id: document.id } })).toStrictEqual([expected]);
}

const SPECIAL_IDS: readonly string[] = [
  'a/b/c',
  'urn:berth:1',
  "it's",
  'say "hi"',
  '100%',
  'snake_case',
  'with space',
  ' padded ',
  '🚀 launch',
  '𝒳 astral',
  'back\\slash',
  "'; DROP TABLE x; --",
  '*',
  '?',
  '.',
  'a.b',
  '$dollar',
  'x'.repeat(256),
  // 128 astral characters are 256 UTF-16 code units: the limit counts code units.
  '🚀'.repeat(128),
];

interface Profile extends Document {
  name: string;
  born: Date;
  tags: string[];
  stats: { level: number; history: number[]; seen: Date };
}

function profile(id: string): Profile {
  return {
    id,
    name: 'Ada',
    born: new Date('1815-12-10T00:00:00.000Z'),
    tags: ['math', 'engines'],
    stats: { level: 3, history: [1, 2, 3], seen: new Date('2024-01-02T03:04:05.678Z') },
  };
}

/** Mutates every part of a profile: top level, nested object, array and Date. */
function scramble(value: Profile): void {
  value.name = 'changed';
  value.born.setTime(0);
  value.tags.push('extra');
  value.stats.level = 99;
  value.stats.history.length = 0;
  value.stats.seen.setTime(0);
}

/**
 * Every value a document may hold (numbers past 2^53, -0, strings, Dates, nested arrays and objects) round-
 * trips exactly, and stored values are copies.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, registerGroup, valuesGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(valuesGroup, options);
 * ```
 */
export const valuesGroup: ConformanceGroup = defineGroup('values', [
  {
    name: 'round-trips null and booleans',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await expectRoundTrip(repository, { id: 'a', none: null, yes: true, no: false });
    },
  },
  {
    name: 'round-trips integers, floats, negative, large and small numbers exactly',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await expectRoundTrip(repository, {
        id: 'n',
        zero: 0,
        one: 1,
        negative: -42,
        float: 0.1 + 0.2,
        negativeFloat: -1.5,
        pi: Math.PI,
        maxSafe: Number.MAX_SAFE_INTEGER,
        minSafe: Number.MIN_SAFE_INTEGER,
        huge: 1e300,
        max: Number.MAX_VALUE,
        tiny: 1e-300,
        smallest: Number.MIN_VALUE,
        negativeTiny: -5e-324,
        epsilon: Number.EPSILON,
      });
    },
  },
  {
    name: 'round-trips integers past 2^53 and 2^63 and numbers one ulp apart exactly',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const numbers = EXTREME_NUMBERS.filter((n) => n !== 0);
      await expectRoundTrip(repository, {
        id: 'extreme',
        ...Object.fromEntries(numbers.map((n, index) => [`n${index}`, n])),
        list: numbers,
        nested: { big: 2 ** 62, negative: -(2 ** 62), past63: 1e19 },
      });
    },
  },
  {
    name: 'stores -0 as 0',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const inserted = await repository.insert({ id: 'z', value: -0, nested: { value: -0 }, list: [-0] });
      const stored = await repository.get('z');
      for (const document of [inserted, present(stored, 'stored document')]) {
        expect(Object.is(document.value, 0)).toBe(true);
        expect(Object.is((document.nested as { value: number }).value, 0)).toBe(true);
        expect(Object.is((document.list as number[])[0], 0)).toBe(true);
      }
    },
  },
  {
    name: 'round-trips strings with unicode, emoji, astral characters and escapes',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await expectRoundTrip(repository, {
        id: 's',
        empty: '',
        latin: 'ñandú über straße',
        cjk: '中文 日本語 한국어',
        rtl: 'مرحبا שלום',
        emoji: '🚀👩‍👩‍👧🏳️‍🌈',
        astral: '𝒳𝕐𝟘 𓀀',
        combining: 'e\u0301 a\u0308',
        whitespace: ' \t\n\r ',
        controls: '\u0001\u001f\u007f',
        separators: '\u2028\u2029',
        bom: '\uFEFF',
        nonCharacter: '\uFFFF',
        quotes: `'"\`\\`,
        sql: "'; DROP TABLE x; --",
        json: '{"$date":"2020-01-01T00:00:00.000Z"}',
      });
    },
  },
  {
    name: 'keeps a string that looks like an ISO date a string',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await expectRoundTrip(repository, { id: 'iso', when: '2020-01-01T00:00:00.000Z', list: ['2020-01-01'] });
    },
  },
  {
    name: 'round-trips nested objects and arrays, including empty ones',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await expectRoundTrip(repository, {
        id: 'nested',
        emptyObject: {},
        emptyArray: [],
        matrix: [[1, 2], [3], []],
        mixed: [1, 'two', null, true, { three: [3] }, [[]], {}],
        deep: { a: { b: { c: { d: 'e' } }, list: [{ x: 1 }, { x: 2 }] } },
        keys: { 'with space': 1, 'a-b': 2, é: 3, '🚀': 4, '': 5, '0': 6 },
      });
    },
  },
  {
    name: 'returns Dates as Date instances with the same time, at top level',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const instants = {
        id: 'd',
        epoch: new Date(0),
        beforeEpoch: new Date('1969-07-20T20:17:40.123Z'),
        millis: new Date('2038-01-19T03:14:08.999Z'),
        now: new Date(),
      };
      await expectRoundTrip(repository, instants);
      const stored = present(await repository.get('d'), 'stored document');
      for (const key of ['epoch', 'beforeEpoch', 'millis', 'now'] as const) {
        expect(stored[key]).toBeInstanceOf(Date);
        expect((stored[key] as Date).getTime()).toBe(instants[key].getTime());
      }
    },
  },
  {
    name: 'returns Dates inside arrays and nested objects as Date instances',
    async run(context) {
      const first = new Date('2001-02-03T04:05:06.007Z');
      const second = new Date('1999-12-31T23:59:59.999Z');
      const repository = context.repository<LooseDocument>();
      await expectRoundTrip(repository, {
        id: 'dn',
        dates: [first, second],
        nested: { at: first, deeper: { list: [{ at: second }] } },
      });
      const stored = present(await repository.get('dn'), 'stored document');
      const dates = stored.dates as unknown[];
      expect(dates[0]).toBeInstanceOf(Date);
      expect((dates[1] as Date).getTime()).toBe(second.getTime());
      const nested = stored.nested as { at: unknown; deeper: { list: { at: unknown }[] } };
      expect(nested.at).toBeInstanceOf(Date);
      const deepest = present(nested.deeper.list[0], 'nested.deeper.list.0').at;
      expect(deepest).toBeInstanceOf(Date);
      expect((deepest as Date).getTime()).toBe(second.getTime());
    },
  },
  {
    name: 'drops properties whose value is undefined, at every depth',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const inserted = await repository.insert({
        id: 'u',
        kept: 1,
        gone: undefined,
        nested: { gone: undefined, kept: 2 },
      });
      const expected = { id: 'u', kept: 1, nested: { kept: 2 } };
      expect(inserted).toStrictEqual(expected);
      const stored = await repository.get('u');
      expect(stored).toStrictEqual(expected);
      expect(Object.keys(stored ?? {})).not.toContain('gone');
      expect(Object.keys(stored?.nested ?? {})).toEqual(['kept']);
    },
  },
  {
    name: 'round-trips a document holding a 1 MiB string',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789🚀';
      // Whole repetitions, so no surrogate pair is cut in half.
      const big = alphabet.repeat(Math.ceil((1024 * 1024) / alphabet.length));
      await repository.insert({ id: 'big', big });
      const stored = await repository.get('big');
      expect(stored?.big).toBe(big);
      expect(await repository.count({ id: 'big' })).toBe(1);
    },
  },
  {
    name: 'round-trips an array of 5,000 elements in order',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const items = Array.from({ length: 5000 }, (_, index) => ({ index, label: `item-${index}` }));
      await expectRoundTrip(repository, { id: 'long', items });
    },
  },
  {
    name: 'round-trips objects nested 50 levels deep',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      let deep: Record<string, unknown> = { bottom: true, at: new Date(5) };
      for (let level = 0; level < 50; level++) deep = { [`level${level}`]: deep, list: [level] };
      await expectRoundTrip(repository, { id: 'deep', deep });
    },
  },
  {
    name: 'round-trips ids with punctuation, spaces, emoji and 256 characters, found by get, getMany and find',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      // Look-alikes catch ids matched by pattern (LIKE, glob) instead of equality.
      const decoys = ['a_b_c', '100X', 'snakeXcase', 'anything', 'a', 'ab'];
      for (const id of [...SPECIAL_IDS, ...decoys]) await repository.insert({ id, value: id });
      for (const id of SPECIAL_IDS) {
        expect(await repository.get(id)).toStrictEqual({ id, value: id });
        expect((await repository.getEntry(id))?.document.id).toBe(id);
        expect(await repository.find({ where: { id } })).toStrictEqual([{ id, value: id }]);
        expect(await repository.count({ id })).toBe(1);
      }
      const many = await repository.getMany(SPECIAL_IDS);
      expect(many.map((document) => document?.id)).toStrictEqual(SPECIAL_IDS);
      expect(await repository.count()).toBe(SPECIAL_IDS.length + decoys.length);
    },
  },
  {
    name: 'updates, replaces and deletes documents whose ids hold special characters',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      for (const id of SPECIAL_IDS) await repository.insert({ id, n: 0 });
      for (const id of SPECIAL_IDS) {
        expect(await repository.update(id, { $inc: { n: 1 } })).toStrictEqual({ id, n: 1 });
        expect(await repository.replace({ id, n: 2 })).toStrictEqual({ id, n: 2 });
      }
      expect(await repository.count({ n: 2 })).toBe(SPECIAL_IDS.length);
      for (const id of SPECIAL_IDS) expect(await repository.delete(id)).toBe(true);
      expect(await repository.count()).toBe(0);
    },
  },
  {
    name: 'rejects an empty id and an id longer than 256 characters',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await expectBerthError(repository.insert({ id: '', value: 1 }), 'VALIDATION', { path: 'id' });
      await expectBerthError(repository.insert({ id: 'x'.repeat(257), value: 1 }), 'VALIDATION', { path: 'id' });
      await expectBerthError(repository.insert({ id: `${'🚀'.repeat(128)}a`, value: 1 }), 'VALIDATION', {
        path: 'id',
      });
      await expectBerthError(repository.upsert({ id: 'x'.repeat(257), value: 1 }), 'VALIDATION', { path: 'id' });
      expect(await repository.count()).toBe(0);
    },
  },
  {
    name: 'rejects an id that is not a string',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await expectBerthError(repository.insert(invalid({ id: 42, value: 1 })), 'VALIDATION', { path: 'id' });
      await expectBerthError(repository.insert(invalid({ id: { nested: 'x' }, value: 1 })), 'VALIDATION', {
        path: 'id',
      });
      expect(await repository.count()).toBe(0);
    },
  },
  {
    name: 'generates a string id when none is given and the document is found by it',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const inserted = await repository.insert({ name: 'generated' });
      expect(typeof inserted.id).toBe('string');
      expect(inserted.id.length).toBeGreaterThanOrEqual(1);
      expect(inserted.id.length).toBeLessThanOrEqual(256);
      expect(inserted).toStrictEqual({ id: inserted.id, name: 'generated' });
      expect(await repository.get(inserted.id)).toStrictEqual(inserted);
    },
  },
  {
    name: 'generates ids that sort by code point in insertion order',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const ids: string[] = [];
      for (let index = 0; index < 25; index++) ids.push((await repository.insert({ index })).id);
      const many = await repository.insertMany(Array.from({ length: 25 }, (_, index) => ({ index: 25 + index })));
      ids.push(...many.map((document) => document.id));
      expect(new Set(ids).size).toBe(50);
      for (let index = 1; index < ids.length; index++) {
        expect(compareCodePoints(ids[index - 1] ?? '', ids[index] ?? '')).toBeLessThan(0);
      }
      const sorted = await repository.find({ orderBy: 'id' });
      expect(sorted.map((document) => document.index)).toStrictEqual(Array.from({ length: 50 }, (_, index) => index));
    },
  },
  {
    name: 'returns copies from insert and insertMany: mutating the result or the input leaves stored documents intact',
    async run(context) {
      const repository = context.repository<Profile>();
      const input = profile('p');
      const inserted = await repository.insert(input);
      scramble(input);
      scramble(inserted);
      expect(await repository.get('p')).toStrictEqual(profile('p'));
      const batch = [profile('q'), profile('r')];
      const insertedMany = await repository.insertMany(batch);
      for (const value of [...batch, ...insertedMany]) scramble(value);
      expect(await repository.getMany(['q', 'r'])).toStrictEqual([profile('q'), profile('r')]);
    },
  },
  {
    name: 'returns copies from get and getEntry: mutating them leaves the stored document intact',
    async run(context) {
      const repository = context.repository<Profile>();
      await repository.insert(profile('p'));
      const first = await repository.get('p');
      if (first === null) return expect.unreachable('inserted document is missing');
      scramble(first);
      expect(await repository.get('p')).toStrictEqual(profile('p'));
      const entry = await repository.getEntry('p');
      if (entry === null) return expect.unreachable('inserted document is missing');
      const createdAt = entry.meta.createdAt.getTime();
      scramble(entry.document);
      entry.meta.createdAt.setTime(0);
      const again = await repository.getEntry('p');
      expect(again?.document).toStrictEqual(profile('p'));
      expect(again?.meta.createdAt.getTime()).toBe(createdAt);
    },
  },
  {
    name: 'returns copies from find, findOne and getMany: mutating them leaves stored documents intact',
    async run(context) {
      const repository = context.repository<Profile>();
      await repository.insert(profile('p'));
      for (const found of await repository.find()) scramble(found);
      const one = await repository.findOne({ where: { id: 'p' } });
      if (one !== null) scramble(one);
      for (const found of await repository.getMany(['p', 'p'])) if (found !== null) scramble(found);
      expect(await repository.get('p')).toStrictEqual(profile('p'));
      expect(await repository.find({ where: { 'stats.level': 3 } })).toStrictEqual([profile('p')]);
    },
  },
  {
    name: 'returns copies from update, replace and upsert, and does not keep references to their input',
    async run(context) {
      const repository = context.repository<Profile>();
      await repository.insert(profile('p'));
      const stats = { level: 3, history: [1, 2, 3], seen: new Date('2024-01-02T03:04:05.678Z') };
      scramble(await repository.update('p', { $set: { stats } }));
      stats.history.push(4);
      stats.seen.setTime(0);
      expect(await repository.get('p')).toStrictEqual(profile('p'));
      const replacement = profile('p');
      scramble(await repository.replace(replacement));
      scramble(replacement);
      expect(await repository.get('p')).toStrictEqual(profile('p'));
      const upserted = profile('q');
      scramble(await repository.upsert(upserted));
      scramble(upserted);
      expect(await repository.get('q')).toStrictEqual(profile('q'));
    },
  },
]);
