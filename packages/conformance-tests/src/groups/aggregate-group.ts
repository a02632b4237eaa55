import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import {
  EXTREME_NUMBERS,
  expectCode,
  extremeNumberDocuments,
  ISO_2021,
  LOOKALIKE_STRINGS,
  type LooseDocument,
  lookalikeStringDocuments,
  peopleDocuments,
  seeded,
} from './query-fixtures.js';

/** Values of `k` that look alike across types, repeated to make counts above one. */
function groupDocuments(): LooseDocument[] {
  return [
    { id: 'a', k: 1, even: false },
    { id: 'b', k: '1', even: true },
    { id: 'c', k: 1, even: false },
    { id: 'd', k: true, even: true },
    { id: 'e', k: null, even: false },
    { id: 'f', even: true },
    { id: 'g', even: false },
    { id: 'h', k: [1], even: true },
    { id: 'i', k: { a: 1 }, even: false },
    { id: 'j', k: 'a', even: true },
    { id: 'k', k: new Date(ISO_2021), even: false },
    { id: 'l', k: new Date(ISO_2021), even: true },
    { id: 'm', k: 'B', even: false },
    { id: 'n', k: 10, even: true },
    { id: 'o', k: 2, even: false },
    { id: 'p', k: false, even: true },
    { id: 'q', k: ISO_2021, even: false },
  ];
}

/**
 * `count` and `countBy`: exact counts, with and without a filter, that follow inserts, updates and deletes.
 *
 * ### Examples
 * ```ts
 * import { aggregateGroup, type ConformanceOptions, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(aggregateGroup, options);
 * ```
 */
export const aggregateGroup: ConformanceGroup = defineGroup('aggregate', [
  {
    name: 'count without a filter counts every document',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      expect(await people.count()).toBe(7);
      expect(await people.count({})).toBe(7);
      expect(await context.repository().count()).toBe(0);
    },
  },
  {
    name: 'count with a filter counts exactly the matches',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      expect(await people.count({ 'address.city': 'Oslo' })).toBe(2);
      expect(await people.count({ age: null })).toBe(2);
      expect(await people.count({ age: { $ne: 5 } })).toBe(5);
      expect(await people.count({ $not: { age: { $gt: 5 } } })).toBe(4);
      expect(await people.count({ name: 'Nobody' })).toBe(0);
      expect(await people.count({ $or: [] })).toBe(0);
    },
  },
  {
    name: 'count follows inserts, updates and deletes',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      await people.delete('ann');
      await people.update('gus', { age: 6 });
      await people.insert({ id: 'hal', name: 'Hal', age: 5 });
      expect(await people.count()).toBe(7);
      expect(await people.count({ age: 5 })).toBe(2);
    },
  },
  {
    name: 'exists says whether any document matches',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      expect(await people.exists()).toBe(true);
      expect(await people.exists({ name: 'Eve' })).toBe(true);
      expect(await people.exists({ age: { $gt: 40 } })).toBe(false);
      expect(await people.exists({ age: { $exists: false } })).toBe(true);
      expect(await people.exists({ $or: [] })).toBe(false);
      expect(await context.repository().exists()).toBe(false);
    },
  },
  {
    name: 'countBy groups type-strictly, null and missing together under null, in sort order',
    async run(context) {
      const repository = await seeded(context, groupDocuments());
      // h holds an array and i an object: they belong to no group.
      expect(await repository.countBy('k')).toEqual([
        { value: null, count: 3 },
        { value: false, count: 1 },
        { value: true, count: 1 },
        { value: 1, count: 2 },
        { value: 2, count: 1 },
        { value: 10, count: 1 },
        { value: '1', count: 1 },
        { value: ISO_2021, count: 1 },
        { value: 'B', count: 1 },
        { value: 'a', count: 1 },
        { value: new Date(ISO_2021), count: 2 },
      ]);
    },
  },
  {
    name: 'countBy returns Date groups as Date values',
    async run(context) {
      const repository = await seeded(context, groupDocuments());
      const groups = await repository.countBy('k', { k: { $gte: new Date(0) } });
      expect(groups).toHaveLength(1);
      const [group] = groups;
      expect(group?.value).toBeInstanceOf(Date);
      expect(group?.value instanceof Date ? group.value.toISOString() : group?.value).toBe(ISO_2021);
      expect(group?.count).toBe(2);
    },
  },
  {
    name: 'countBy counts only the documents matching its filter',
    async run(context) {
      const repository = await seeded(context, groupDocuments());
      expect(await repository.countBy('k', { even: true })).toEqual([
        { value: null, count: 1 },
        { value: false, count: 1 },
        { value: true, count: 1 },
        { value: 10, count: 1 },
        { value: '1', count: 1 },
        { value: 'a', count: 1 },
        { value: new Date(ISO_2021), count: 1 },
      ]);
      expect(await repository.countBy('k', { k: { $exists: true, $ne: null } })).toHaveLength(10);
      expect(await repository.countBy('k', { $or: [] })).toEqual([]);
    },
  },
  {
    name: 'countBy works on nested paths, and paths through non-objects count as null',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      // ann and cid live in Oslo, bob in Bergen; the rest have no address object.
      expect(await people.countBy('address.city')).toEqual([
        { value: null, count: 4 },
        { value: 'Bergen', count: 1 },
        { value: 'Oslo', count: 2 },
      ]);
    },
  },
  {
    name: 'countBy keeps numbers past 2^53, extreme magnitudes and one-ulp neighbours apart, -0 with 0',
    async run(context) {
      const numbers = await seeded(context, extremeNumberDocuments());
      const groups = await numbers.countBy('n');
      // The fixture lists its numbers ascending; -0 is stored as 0 and joins its group.
      expect(groups).toEqual(EXTREME_NUMBERS.map((value) => ({ value, count: value === 0 ? 2 : 1 })));
      expect(groups.every((group) => !Object.is(group.value, -0))).toBe(true);
      expect(await numbers.countBy('n', { n: { $gte: 2 ** 62 } })).toEqual(
        EXTREME_NUMBERS.filter((value) => value >= 2 ** 62).map((value) => ({ value, count: 1 })),
      );
    },
  },
  {
    name: 'countBy keeps strings differing only by trailing spaces, case, accent or astral character apart',
    async run(context) {
      const strings = await seeded(context, lookalikeStringDocuments());
      expect(await strings.countBy('s')).toEqual(LOOKALIKE_STRINGS.map((value) => ({ value, count: 1 })));
      expect(await strings.countBy('s', { s: { $startsWith: 'a' } })).toEqual([
        { value: 'a', count: 1 },
        { value: 'a ', count: 1 },
        { value: 'a  ', count: 1 },
      ]);
    },
  },
  {
    name: 'countBy on an empty collection or a field nobody has',
    async run(context) {
      expect(await context.repository().countBy('k')).toEqual([]);
      const people = await seeded(context, peopleDocuments());
      expect(await people.countBy('nickname')).toEqual([{ value: null, count: 7 }]);
    },
  },
  {
    name: 'count, exists and countBy reject malformed filters and paths with VALIDATION',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      await expectCode(() => people.count({ age: { $gt: 1, $foo: 2 } as never }), 'VALIDATION');
      await expectCode(() => people.exists({ 'a..b': 1 }), 'VALIDATION');
      await expectCode(() => people.countBy('a..b'), 'VALIDATION');
      await expectCode(() => people.countBy(''), 'VALIDATION');
      await expectCode(() => people.countBy('age', { $or: 'x' as never }), 'VALIDATION');
    },
  },
]);
