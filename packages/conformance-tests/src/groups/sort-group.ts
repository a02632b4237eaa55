import type { OrderBy } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import {
  expectCode,
  extremeNumberDocuments,
  ids,
  type LooseDocument,
  lookalikeStringDocuments,
  render,
  seeded,
  sortedIds,
  valueDocuments,
} from './query-fixtures.js';

/** Numbers whose text order differs from their numeric order. */
function numberDocuments(): LooseDocument[] {
  return [
    { id: 'k1', n: 10 },
    { id: 'k2', n: 2 },
    { id: 'k3', n: -10 },
    { id: 'k4', n: 2.5 },
    { id: 'k5', n: 1e21 },
    { id: 'k6', n: 0 },
    { id: 'k7', n: -0.5 },
    { id: 'k8', n: 15 },
  ];
}
const NUMBERS_ASC = ['k3', 'k7', 'k6', 'k2', 'k4', 'k1', 'k8', 'k5'];

function playerDocuments(): LooseDocument[] {
  return [
    { id: 'p1', team: 'red', score: 5 },
    { id: 'p2', team: 'blue', score: 7 },
    { id: 'p3', team: 'red', score: 9 },
    { id: 'p4', team: 'blue', score: 7 },
    { id: 'p5', team: 'green', score: 1 },
    { id: 'p6', team: 'blue', score: 3 },
  ];
}

/** Same sort value under ids whose code point order differs from locale and UTF-16 order. */
function unicodeIdDocuments(): LooseDocument[] {
  return ['\u00e9', 'B', 'a', '😀', '\uff5a', 'Z', 'a b', 'A'].map((id) => ({ id, rank: 1 }));
}
const UNICODE_IDS_ASC = ['A', 'B', 'Z', 'a', 'a b', '\u00e9', '\uff5a', '😀'];

async function expectOrder(
  repository: { find(query: { orderBy: OrderBy }): Promise<LooseDocument[]> },
  orderBy: OrderBy,
  expected: readonly string[],
): Promise<void> {
  const found = await repository.find({ orderBy });
  expect(ids(found), `order for orderBy ${render(orderBy)}`).toEqual(expected);
}

/**
 * `orderBy`: numeric and mixed-type order, several keys each in its own direction, and ties broken by id in
 * code-point order.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, registerGroup, sortGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(sortGroup, options);
 * ```
 */
export const sortGroup: ConformanceGroup = defineGroup('sort', [
  {
    name: 'sorting by a number field ascending orders numerically, not as text',
    async run(context) {
      const numbers = await seeded(context, numberDocuments());
      await expectOrder(numbers, 'n', NUMBERS_ASC);
    },
  },
  {
    name: 'sorting by a number field descending reverses the order',
    async run(context) {
      const numbers = await seeded(context, numberDocuments());
      await expectOrder(numbers, { field: 'n', direction: 'desc' }, [...NUMBERS_ASC].reverse());
    },
  },
  {
    name: 'sorting by several fields orders by the first, then the next, each in its own direction',
    async run(context) {
      const players = await seeded(context, playerDocuments());
      await expectOrder(players, ['team', { field: 'score', direction: 'desc' }], ['p2', 'p4', 'p6', 'p5', 'p3', 'p1']);
      await expectOrder(players, [{ field: 'team', direction: 'desc' }, 'score'], ['p1', 'p3', 'p5', 'p6', 'p2', 'p4']);
    },
  },
  {
    name: 'ties are broken by id ascending, also when sorting descending',
    async run(context) {
      const ranked = await seeded(context, [
        { id: 'm', rank: 1 },
        { id: 'b', rank: 2 },
        { id: 'z', rank: 1 },
        { id: 'a', rank: 1 },
        { id: 'k', rank: 2 },
      ]);
      await expectOrder(ranked, 'rank', ['a', 'm', 'z', 'b', 'k']);
      await expectOrder(ranked, { field: 'rank', direction: 'desc' }, ['b', 'k', 'a', 'm', 'z']);
    },
  },
  {
    name: 'the id tie-break compares ids by code point',
    async run(context) {
      const repository = await seeded(context, unicodeIdDocuments());
      await expectOrder(repository, 'rank', UNICODE_IDS_ASC);
      await expectOrder(repository, { field: 'rank', direction: 'desc' }, UNICODE_IDS_ASC);
    },
  },
  {
    name: 'without orderBy, results come in id order',
    async run(context) {
      const repository = await seeded(context, unicodeIdDocuments());
      expect(ids(await repository.find())).toEqual(UNICODE_IDS_ASC);
    },
  },
  {
    name: 'sorting by id descending reverses id order',
    async run(context) {
      const repository = await seeded(context, unicodeIdDocuments());
      await expectOrder(repository, { field: 'id', direction: 'desc' }, [...UNICODE_IDS_ASC].reverse());
    },
  },
  {
    name: 'ascending order across types is missing = null < false < true < numbers < strings < Dates < arrays < objects',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      // missing and null tie (id breaks it); arrays tie among themselves, objects too, whatever they hold.
      await expectOrder(values, 'v', [
        'missing',
        'null',
        'false',
        'true',
        'num-neg',
        'num-0',
        'num-1',
        'num-2',
        'num-10',
        'str-empty',
        'str-1',
        'str-iso',
        'str-B',
        'str-a',
        'str-true',
        'date-b',
        'date-a',
        'arr-a',
        'arr-b',
        'obj-a',
        'obj-b',
      ]);
    },
  },
  {
    name: 'descending order across types reverses the whole order, missing and null last',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectOrder(values, { field: 'v', direction: 'desc' }, [
        'obj-a',
        'obj-b',
        'arr-a',
        'arr-b',
        'date-a',
        'date-b',
        'str-true',
        'str-a',
        'str-B',
        'str-iso',
        'str-1',
        'str-empty',
        'num-10',
        'num-2',
        'num-1',
        'num-0',
        'num-neg',
        'true',
        'false',
        'missing',
        'null',
      ]);
    },
  },
  {
    name: 'strings sort by code point, not by locale collation or UTF-16 code units',
    async run(context) {
      const words = await seeded(
        context,
        ['b', 'B', 'a', 'A', '\u00e9', 'e', 'f', '\uff5a', '😀', 'Z', '', 'aa', 'a '].map((w, index) => ({
          id: `w${String(index).padStart(2, '0')}`,
          w,
        })),
      );
      const found = await words.find({ orderBy: 'w' });
      expect(found.map((document) => document.w)).toEqual([
        '',
        'A',
        'B',
        'Z',
        'a',
        'a ',
        'aa',
        'b',
        'e',
        'f',
        '\u00e9',
        '\uff5a',
        '😀',
      ]);
    },
  },
  {
    name: 'numbers past 2^53 and 2^63, extreme magnitudes and one-ulp neighbours sort as doubles, -0 tied with 0',
    async run(context) {
      const documents = extremeNumberDocuments();
      const numbers = await seeded(context, documents);
      await expectOrder(numbers, 'n', sortedIds(documents, 'n', 'asc'));
      await expectOrder(numbers, { field: 'n', direction: 'desc' }, sortedIds(documents, 'n', 'desc'));
    },
  },
  {
    name: 'strings differing only by trailing spaces, case, accent or astral character sort apart, by code point',
    async run(context) {
      const documents = lookalikeStringDocuments();
      const strings = await seeded(context, documents);
      await expectOrder(strings, 's', sortedIds(documents, 's', 'asc'));
      await expectOrder(strings, { field: 's', direction: 'desc' }, sortedIds(documents, 's', 'desc'));
    },
  },
  {
    name: 'Dates sort chronologically to the millisecond, before and after 1970',
    async run(context) {
      const dates = await seeded(context, [
        { id: 'd1', at: new Date('2000-01-01T00:00:00.001Z') },
        { id: 'd2', at: new Date('2000-01-01T00:00:00.000Z') },
        { id: 'd3', at: new Date('1970-01-01T00:00:00.000Z') },
        { id: 'd4', at: new Date('1969-12-31T23:59:59.999Z') },
        { id: 'd5', at: new Date('0001-01-01T00:00:00.000Z') },
      ]);
      await expectOrder(dates, 'at', ['d5', 'd4', 'd3', 'd2', 'd1']);
      await expectOrder(dates, { field: 'at', direction: 'desc' }, ['d1', 'd2', 'd3', 'd4', 'd5']);
    },
  },
  {
    name: 'sorting by a nested path treats paths through missing, null or scalar values as missing',
    async run(context) {
      const repository = await seeded(context, [
        { id: 'a', stats: { level: 3 } },
        { id: 'b', stats: { level: 1 } },
        { id: 'c', stats: null },
        { id: 'd', stats: 'high' },
        { id: 'e' },
        { id: 'f', stats: { level: null } },
        { id: 'g', stats: { level: 2, rank: 'x' } },
      ]);
      await expectOrder(repository, 'stats.level', ['c', 'd', 'e', 'f', 'b', 'g', 'a']);
      await expectOrder(repository, { field: 'stats.level', direction: 'desc' }, ['a', 'g', 'b', 'c', 'd', 'e', 'f']);
    },
  },
  {
    name: "orderBy accepts 'field', { field }, { field, direction } and arrays of both",
    async run(context) {
      const players = await seeded(context, playerDocuments());
      const byScore = ['p5', 'p6', 'p1', 'p2', 'p4', 'p3'];
      await expectOrder(players, 'score', byScore);
      await expectOrder(players, { field: 'score' }, byScore);
      await expectOrder(players, { field: 'score', direction: 'asc' }, byScore);
      await expectOrder(players, ['score'], byScore);
      await expectOrder(players, [{ field: 'score' }], byScore);
      await expectOrder(players, { field: 'score', direction: 'desc' }, ['p3', 'p2', 'p4', 'p1', 'p6', 'p5']);
      await expectOrder(players, ['team', 'score'], ['p6', 'p2', 'p4', 'p5', 'p1', 'p3']);
      await expectOrder(
        players,
        [{ field: 'team' }, { field: 'score', direction: 'desc' }],
        ['p2', 'p4', 'p6', 'p5', 'p3', 'p1'],
      );
    },
  },
  {
    name: 'sorting combines with a filter',
    async run(context) {
      const players = await seeded(context, playerDocuments());
      const found = await players.find({
        where: { team: { $ne: 'green' } },
        orderBy: { field: 'score', direction: 'desc' },
      });
      expect(ids(found)).toEqual(['p3', 'p2', 'p4', 'p1', 'p6']);
    },
  },
  {
    name: 'a malformed sort field or direction is a VALIDATION error',
    async run(context) {
      const players = await seeded(context, playerDocuments());
      await expectCode(() => players.find({ orderBy: 'a..b' }), 'VALIDATION');
      await expectCode(() => players.find({ orderBy: { field: 'score; drop table x' } }), 'VALIDATION');
      await expectCode(() => players.find({ orderBy: [{ field: '' }] }), 'VALIDATION');
      await expectCode(
        () => players.find({ orderBy: { field: 'score', direction: 'sideways' as unknown as 'asc' } }),
        'VALIDATION',
      );
    },
  },
]);
