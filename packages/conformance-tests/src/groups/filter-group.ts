import type { Filter } from '@berth/core';
import { MAX_NESTING_DEPTH } from '@berth/core/adapter';
import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import { compareCodePoints } from './assertions.js';
import {
  EXTREME_NUMBERS,
  expectCode,
  expectMatches,
  extremeNumberDocuments,
  ISO_1999,
  ISO_2021,
  ids,
  LOOKALIKE_STRINGS,
  type LooseDocument,
  lookalikeStringDocuments,
  peopleDocuments,
  seeded,
  VALUE_IDS,
  valueDocuments,
  valueIdsExcept,
} from './query-fixtures.js';

/** Words whose code point order differs from locale order and from UTF-16 code unit order. */
function wordDocuments(): LooseDocument[] {
  return [
    { id: 'w-Z', w: 'Z' },
    { id: 'w-B', w: 'B' },
    { id: 'w-a', w: 'a' },
    { id: 'w-ab', w: 'ab' },
    { id: 'w-e', w: 'e' },
    { id: 'w-eacute', w: '\u00e9' },
    { id: 'w-f', w: 'f' },
    // U+FF5A sits above the surrogate range, so UTF-16 code units put it after
    // every astral character although its code point is smaller.
    { id: 'w-fullwidth-z', w: '\uff5a' },
    { id: 'w-emoji', w: '😀' },
  ];
}

/** Strings full of characters that LIKE, GLOB and regular expressions treat specially. */
function prefixDocuments(): LooseDocument[] {
  return [
    { id: 'p-abc', s: 'abc' },
    { id: 'p-Abc', s: 'Abc' },
    { id: 'p-ab', s: 'ab' },
    { id: 'p-a', s: 'a' },
    { id: 'p-percent', s: '100%' },
    { id: 'p-100', s: '100' },
    { id: 'p-1000', s: '1000' },
    { id: 'p-underscore', s: '1_0' },
    { id: 'p-1x0', s: '1x0' },
    { id: 'p-backslash', s: 'a\\b' },
    { id: 'p-star', s: 'a*b' },
    { id: 'p-dot', s: 'a.b' },
    { id: 'p-aXb', s: 'aXb' },
    { id: 'p-bracket', s: 'a[b]' },
    { id: 'p-leading-percent', s: '%off' },
    { id: 'p-number', s: 100 },
    { id: 'p-array', s: ['abc', '100'] },
    { id: 'p-none' },
  ];
}

const PREFIX_STRING_IDS = [
  'p-abc',
  'p-Abc',
  'p-ab',
  'p-a',
  'p-percent',
  'p-100',
  'p-1000',
  'p-underscore',
  'p-1x0',
  'p-backslash',
  'p-star',
  'p-dot',
  'p-aXb',
  'p-bracket',
  'p-leading-percent',
];

/** Arrays holding every kind of element, and non-array look-alikes. */
function arrayDocuments(): LooseDocument[] {
  return [
    { id: 'c-mixed', tags: [1, 'x', null, true] },
    { id: 'c-strings', tags: ['1', 'y'] },
    { id: 'c-falsy', tags: [false, 0, ''] },
    { id: 'c-date', tags: [new Date(ISO_2021)] },
    { id: 'c-nested', tags: [['x'], [1]] },
    { id: 'c-object', tags: [{ a: 'x' }] },
    { id: 'c-empty', tags: [] },
    { id: 'c-scalar', tags: 'x' },
    { id: 'c-number', tags: 1 },
    { id: 'c-none' },
  ];
}

/** The ids of `documents` whose `field` value satisfies `test`. */
function idsWhere(documents: readonly LooseDocument[], field: string, test: (value: never) => boolean): string[] {
  return documents.filter((document) => test(document[field] as never)).map((document) => document.id);
}

/** Casts malformed filters past the type checker: the engine must reject them at runtime. */
function malformed(filter: unknown): Filter {
  return filter as Filter;
}

/**
 * Every filter operator on top-level and dotted paths, type-strict equality, and malformed filters refused
 * with `VALIDATION`.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, filterGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(filterGroup, options);
 * ```
 */
export const filterGroup: ConformanceGroup = defineGroup('filter', [
  {
    name: 'equality on a top-level field matches exactly the documents holding that value',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      await expectMatches(people, { name: 'Ann' }, ['ann']);
      await expectMatches(people, { age: 5 }, ['fay', 'gus']);
      await expectMatches(people, { name: 'ann' }, []);
    },
  },
  {
    name: 'equality on a dotted path matches nested fields at any depth',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      await expectMatches(people, { 'address.city': 'Bergen' }, ['bob']);
      await expectMatches(people, { 'address.geo.zone': 2 }, ['cid']);
      await expectMatches(people, { 'address.zip': '0150' }, ['ann']);
    },
  },
  {
    name: 'equality is type-strict: 1, "1", true, "true", 0, false and "" are all different',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: 1 }, ['num-1']);
      await expectMatches(values, { v: '1' }, ['str-1']);
      await expectMatches(values, { v: true }, ['true']);
      await expectMatches(values, { v: 'true' }, ['str-true']);
      await expectMatches(values, { v: 0 }, ['num-0']);
      await expectMatches(values, { v: false }, ['false']);
      await expectMatches(values, { v: '' }, ['str-empty']);
      await expectMatches(values, { v: { $eq: 1 } }, ['num-1']);
    },
  },
  {
    name: 'a Date equals a Date of the same instant and never its ISO string',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: new Date(ISO_2021) }, ['date-a']);
      await expectMatches(values, { v: { $eq: new Date(ISO_1999) } }, ['date-b']);
      await expectMatches(values, { v: ISO_2021 }, ['str-iso']);
      await expectMatches(values, { v: new Date(Date.parse(ISO_2021) + 1) }, []);
    },
  },
  {
    name: 'a scalar never matches an array field, even one holding that scalar',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: 'a' }, ['str-a']);
      await expectMatches(values, { v: { $eq: 1 } }, ['num-1']);
      const people = await seeded(context, peopleDocuments());
      await expectMatches(people, { tags: 'ops' }, []);
    },
  },
  {
    name: '{ f: null } and { f: { $eq: null } } match null and missing fields',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: null }, ['missing', 'null']);
      await expectMatches(values, { v: { $eq: null } }, ['missing', 'null']);
      const people = await seeded(context, peopleDocuments());
      await expectMatches(people, { age: null }, ['cid', 'dan']);
    },
  },
  {
    name: '$ne matches every other value, including null and missing fields',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: { $ne: 1 } }, valueIdsExcept('num-1'));
      await expectMatches(values, { v: { $ne: 'a' } }, valueIdsExcept('str-a'));
      await expectMatches(values, { v: { $ne: new Date(ISO_2021) } }, valueIdsExcept('date-a'));
    },
  },
  {
    name: '$ne: null matches present non-null values only',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: { $ne: null } }, valueIdsExcept('missing', 'null'));
    },
  },
  {
    name: '$gt, $gte, $lt and $lte on a number match numbers only',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: { $gt: 1 } }, ['num-2', 'num-10']);
      await expectMatches(values, { v: { $gte: 1 } }, ['num-1', 'num-2', 'num-10']);
      await expectMatches(values, { v: { $lt: 1 } }, ['num-neg', 'num-0']);
      await expectMatches(values, { v: { $lte: 0 } }, ['num-neg', 'num-0']);
      await expectMatches(values, { v: { $gt: -1e9 } }, ['num-neg', 'num-0', 'num-1', 'num-2', 'num-10']);
    },
  },
  {
    name: '$gt, $gte, $lt and $lte on a string match strings only, by code point',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: { $gt: 'B' } }, ['str-a', 'str-true']);
      await expectMatches(values, { v: { $lt: 'B' } }, ['str-empty', 'str-1', 'str-iso']);
      await expectMatches(values, { v: { $lte: 'a' } }, ['str-empty', 'str-1', 'str-iso', 'str-B', 'str-a']);
      await expectMatches(values, { v: { $gte: '' } }, ['str-empty', 'str-1', 'str-true', 'str-iso', 'str-B', 'str-a']);
    },
  },
  {
    name: 'string ranges follow code points, not locale collation or UTF-16 code units',
    async run(context) {
      const words = await seeded(context, wordDocuments());
      // A locale puts 'B' and 'Z' after 'a'; code points put every capital first.
      await expectMatches(words, { w: { $lt: 'a' } }, ['w-B', 'w-Z']);
      // A locale puts 'é' between 'e' and 'f'; its code point is above 'z'.
      await expectMatches(words, { w: { $gt: 'f' } }, ['w-eacute', 'w-fullwidth-z', 'w-emoji']);
      // UTF-16 code units put '😀' (U+1F600, D83D DE00) before U+FF5A.
      await expectMatches(words, { w: { $gt: '\uff5a' } }, ['w-emoji']);
      await expectMatches(words, { w: { $lt: '😀' } }, [
        'w-Z',
        'w-B',
        'w-a',
        'w-ab',
        'w-e',
        'w-eacute',
        'w-f',
        'w-fullwidth-z',
      ]);
      await expectMatches(words, { w: { $gte: 'a', $lt: 'b' } }, ['w-a', 'w-ab']);
    },
  },
  {
    name: '$gt, $gte, $lt and $lte on a Date compare chronologically to the millisecond and match Dates only',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: { $gt: new Date('2000-01-01T00:00:00.000Z') } }, ['date-a']);
      await expectMatches(values, { v: { $lt: new Date(ISO_2021) } }, ['date-b']);
      await expectMatches(values, { v: { $lte: new Date(ISO_2021) } }, ['date-a', 'date-b']);
      await expectMatches(values, { v: { $gt: new Date(ISO_1999) } }, ['date-a']);
      await expectMatches(values, { v: { $gt: new Date('1999-12-31T23:59:59.998Z') } }, ['date-a', 'date-b']);
    },
  },
  {
    name: 'range operators never match missing or null fields',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      await expectMatches(people, { age: { $lt: 100 } }, ['ann', 'bob', 'eve', 'fay', 'gus']);
      await expectMatches(people, { age: { $lte: 5 } }, ['fay', 'gus']);
      await expectMatches(people, { 'address.city': { $gte: '' } }, ['ann', 'bob', 'cid']);
    },
  },
  {
    name: 'numbers compare as the doubles JavaScript holds: past 2^53 and 2^63, extreme magnitudes, one-ulp neighbours',
    async run(context) {
      const documents = extremeNumberDocuments();
      const numbers = await seeded(context, documents);
      for (const x of EXTREME_NUMBERS) {
        const equal = idsWhere(documents, 'n', (n: number) => n === x);
        await expectMatches(numbers, { n: x }, equal);
        await expectMatches(numbers, { n: { $in: [x] } }, equal);
        await expectMatches(numbers, { n: { $gte: x, $lte: x } }, equal);
        await expectMatches(
          numbers,
          { n: { $gt: x } },
          idsWhere(documents, 'n', (n: number) => n > x),
        );
        await expectMatches(
          numbers,
          { n: { $lt: x } },
          idsWhere(documents, 'n', (n: number) => n < x),
        );
      }
      await expectMatches(
        numbers,
        { n: -0 },
        idsWhere(documents, 'n', (n: number) => n === 0),
      );
      await expectMatches(
        numbers,
        { n: { $ne: 2 ** 62 } },
        idsWhere(documents, 'n', (n: number) => n !== 2 ** 62),
      );
      await expectMatches(
        numbers,
        { n: { $in: [2 ** 62, 1e19, 1e-40, 1.0000000000000005e-300, 7] } },
        idsWhere(documents, 'n', (n: number) => [2 ** 62, 1e19, 1e-40, 1.0000000000000005e-300].includes(n)),
      );
      await expectMatches(
        numbers,
        { n: { $nin: [2 ** 62, -(2 ** 62), 1e-40] } },
        idsWhere(documents, 'n', (n: number) => ![2 ** 62, -(2 ** 62), 1e-40].includes(n)),
      );
    },
  },
  {
    name: '$contains finds integers past 2^53 and extreme numbers inside arrays exactly',
    async run(context) {
      const documents = extremeNumberDocuments();
      const numbers = await seeded(context, documents);
      for (const x of [2 ** 62, -(2 ** 62), 2 ** 62 + 1024, 1e19, 1e-40, 5e-324, 1.0000000000000009e-300, 1e308]) {
        await expectMatches(
          numbers,
          { list: { $contains: x } },
          idsWhere(documents, 'n', (n: number) => n === x),
        );
      }
    },
  },
  {
    name: 'strings differing only by trailing spaces, case, accent or astral character are different values',
    async run(context) {
      const documents = lookalikeStringDocuments();
      const strings = await seeded(context, documents);
      for (const x of LOOKALIKE_STRINGS) {
        const equal = idsWhere(documents, 's', (s: string) => s === x);
        expect(equal).toHaveLength(1);
        await expectMatches(strings, { s: x }, equal);
        await expectMatches(strings, { s: { $in: [x] } }, equal);
        await expectMatches(strings, { s: { $gte: x, $lte: x } }, equal);
        await expectMatches(
          strings,
          { s: { $ne: x } },
          idsWhere(documents, 's', (s: string) => s !== x),
        );
        await expectMatches(
          strings,
          { s: { $startsWith: x } },
          idsWhere(documents, 's', (s: string) => s.startsWith(x)),
        );
        await expectMatches(
          strings,
          { s: { $gt: x } },
          idsWhere(documents, 's', (s: string) => compareCodePoints(s, x) > 0),
        );
        await expectMatches(
          strings,
          { s: { $lt: x } },
          idsWhere(documents, 's', (s: string) => compareCodePoints(s, x) < 0),
        );
      }
      await expectMatches(strings, { s: 'a   ' }, []);
      await expectMatches(strings, { s: { $in: ['a   ', 'b', 'e\u0300'] } }, []);
    },
  },
  {
    name: '$in matches any listed value, type-strictly',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: { $in: [1, 'a'] } }, ['num-1', 'str-a']);
      await expectMatches(values, { v: { $in: [new Date(ISO_2021), 'B', false] } }, ['date-a', 'str-B', 'false']);
      await expectMatches(values, { v: { $in: ['2', 'x'] } }, []);
    },
  },
  {
    name: '$in with null in the list matches null and missing fields',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: { $in: [null, 2] } }, ['missing', 'null', 'num-2']);
    },
  },
  {
    name: '$nin matches missing fields unless null is listed',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: { $nin: [1, 'a'] } }, valueIdsExcept('num-1', 'str-a'));
      await expectMatches(values, { v: { $nin: [null, 1] } }, valueIdsExcept('missing', 'null', 'num-1'));
    },
  },
  {
    name: '$exists: true matches present fields (null counts as present), $exists: false absent ones',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: { $exists: true } }, valueIdsExcept('missing'));
      await expectMatches(values, { v: { $exists: false } }, ['missing']);
      const people = await seeded(context, peopleDocuments());
      await expectMatches(people, { age: { $exists: true } }, ['ann', 'bob', 'cid', 'eve', 'fay', 'gus']);
      await expectMatches(people, { 'address.geo': { $exists: false } }, ['ann', 'bob', 'dan', 'eve', 'fay', 'gus']);
    },
  },
  {
    name: '$startsWith is case-sensitive',
    async run(context) {
      const prefixes = await seeded(context, prefixDocuments());
      await expectMatches(prefixes, { s: { $startsWith: 'ab' } }, ['p-abc', 'p-ab']);
      await expectMatches(prefixes, { s: { $startsWith: 'Ab' } }, ['p-Abc']);
      await expectMatches(prefixes, { s: { $startsWith: 'AB' } }, []);
      await expectMatches(prefixes, { s: { $startsWith: 'a' } }, [
        'p-abc',
        'p-ab',
        'p-a',
        'p-backslash',
        'p-star',
        'p-dot',
        'p-aXb',
        'p-bracket',
      ]);
    },
  },
  {
    name: '$startsWith treats %, _, \\, *, . and [ as literal characters',
    async run(context) {
      const prefixes = await seeded(context, prefixDocuments());
      await expectMatches(prefixes, { s: { $startsWith: '100%' } }, ['p-percent']);
      await expectMatches(prefixes, { s: { $startsWith: '%' } }, ['p-leading-percent']);
      await expectMatches(prefixes, { s: { $startsWith: 'a%' } }, []);
      await expectMatches(prefixes, { s: { $startsWith: '1_' } }, ['p-underscore']);
      await expectMatches(prefixes, { s: { $startsWith: 'a_b' } }, []);
      await expectMatches(prefixes, { s: { $startsWith: '_' } }, []);
      await expectMatches(prefixes, { s: { $startsWith: 'a\\' } }, ['p-backslash']);
      await expectMatches(prefixes, { s: { $startsWith: 'a*' } }, ['p-star']);
      await expectMatches(prefixes, { s: { $startsWith: 'a.' } }, ['p-dot']);
      await expectMatches(prefixes, { s: { $startsWith: 'a[' } }, ['p-bracket']);
      await expectMatches(prefixes, { s: { $startsWith: 'a[b]' } }, ['p-bracket']);
    },
  },
  {
    name: '$startsWith matches string values only (every string for an empty prefix)',
    async run(context) {
      const prefixes = await seeded(context, prefixDocuments());
      await expectMatches(prefixes, { s: { $startsWith: '1' } }, [
        'p-percent',
        'p-100',
        'p-1000',
        'p-underscore',
        'p-1x0',
      ]);
      await expectMatches(prefixes, { s: { $startsWith: 'abc' } }, ['p-abc']);
      await expectMatches(prefixes, { s: { $startsWith: '' } }, PREFIX_STRING_IDS);
    },
  },
  {
    name: '$contains matches arrays holding an element equal to the operand, type-strictly',
    async run(context) {
      const arrays = await seeded(context, arrayDocuments());
      await expectMatches(arrays, { tags: { $contains: 'x' } }, ['c-mixed']);
      await expectMatches(arrays, { tags: { $contains: 1 } }, ['c-mixed']);
      await expectMatches(arrays, { tags: { $contains: '1' } }, ['c-strings']);
      await expectMatches(arrays, { tags: { $contains: true } }, ['c-mixed']);
      await expectMatches(arrays, { tags: { $contains: false } }, ['c-falsy']);
      await expectMatches(arrays, { tags: { $contains: 0 } }, ['c-falsy']);
      await expectMatches(arrays, { tags: { $contains: '' } }, ['c-falsy']);
      await expectMatches(arrays, { tags: { $contains: null } }, ['c-mixed']);
      await expectMatches(arrays, { tags: { $contains: new Date(ISO_2021) } }, ['c-date']);
      await expectMatches(arrays, { tags: { $contains: ISO_2021 } }, []);
    },
  },
  {
    name: '$contains never matches a non-array field, nor elements nested in inner arrays or objects',
    async run(context) {
      const arrays = await seeded(context, arrayDocuments());
      // c-scalar holds 'x' and c-number holds 1 directly; c-nested and c-object hold them one level down.
      await expectMatches(arrays, { tags: { $contains: 'x' } }, ['c-mixed']);
      await expectMatches(arrays, { tags: { $contains: 'y' } }, ['c-strings']);
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: { $contains: 'a' } }, ['arr-a']);
      await expectMatches(values, { v: { $contains: 2 } }, []);
    },
  },
  {
    name: '$and requires every filter to hold, and an empty $and holds for every document',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { $and: [{ v: { $gte: 1 } }, { v: { $lt: 10 } }] }, ['num-1', 'num-2']);
      await expectMatches(values, { $and: [] }, VALUE_IDS);
    },
  },
  {
    name: '$or requires any filter to hold, and an empty $or matches nothing',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { $or: [{ v: 'a' }, { v: 1 }, { v: null }] }, ['str-a', 'num-1', 'missing', 'null']);
      await expectMatches(values, { $or: [] }, []);
    },
  },
  {
    name: '$not is plain negation: documents missing the field match $not of a condition on it',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      await expectMatches(people, { $not: { age: { $gt: 5 } } }, ['cid', 'dan', 'fay', 'gus']);
      await expectMatches(people, { $not: { 'address.city': 'Oslo' } }, ['bob', 'dan', 'eve', 'fay', 'gus']);
      await expectMatches(people, { $not: { $or: [] } }, ['ann', 'bob', 'cid', 'dan', 'eve', 'fay', 'gus']);
      await expectMatches(people, { $not: { $and: [] } }, []);
    },
  },
  {
    name: 'logical operators nest to any depth',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      const where: Filter = {
        $or: [
          { $and: [{ 'address.city': 'Oslo' }, { age: { $gte: 30 } }] },
          { $not: { $or: [{ age: { $exists: true } }, { name: 'Gus' }] } },
        ],
      };
      await expectMatches(people, where, ['ann', 'dan']);
      await expectMatches(people, { $not: { $not: { age: 5 } } }, ['fay', 'gus']);
    },
  },
  {
    name: 'several operators in one field condition must all hold',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { v: { $gt: 0, $lt: 10, $ne: 2 } }, ['num-1']);
      await expectMatches(
        values,
        { v: { $exists: true, $ne: null, $nin: [0, 'a'] } },
        valueIdsExcept('missing', 'null', 'num-0', 'str-a'),
      );
      await expectMatches(values, { v: { $gte: 1, $lt: 'z' } }, []);
    },
  },
  {
    name: 'field entries and logical keys of one filter must all hold',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      await expectMatches(people, { 'address.city': 'Oslo', age: 31 }, ['ann']);
      await expectMatches(people, { 'address.city': 'Oslo', age: 40 }, []);
      await expectMatches(people, { name: { $startsWith: 'E' }, $or: [{ age: 40 }, { age: 5 }] }, ['eve']);
      await expectMatches(people, { age: 5, $not: { name: 'Gus' } }, ['fay']);
    },
  },
  {
    name: 'filters apply to id like any other field',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectMatches(values, { id: 'str-a' }, ['str-a']);
      await expectMatches(values, { id: { $in: ['num-1', 'absent'] } }, ['num-1']);
      await expectMatches(values, { id: { $startsWith: 'num-' } }, ['num-neg', 'num-0', 'num-1', 'num-2', 'num-10']);
      // By code point 'str-1' < 'str-B' < 'str-a' < 'str-empty' < 'str-iso' < 'str-true' < 'true'.
      await expectMatches(values, { id: { $gt: 'str-B' } }, ['str-a', 'str-empty', 'str-iso', 'str-true', 'true']);
      await expectMatches(values, { id: null }, []);
    },
  },
  {
    name: 'a path that meets a scalar, null or an array midway matches as missing',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      // eve's address is a string, fay's an array of objects, dan's null, gus has none.
      await expectMatches(people, { 'address.city': 'Oslo' }, ['ann', 'cid']);
      await expectMatches(people, { 'address.city': null }, ['dan', 'eve', 'fay', 'gus']);
      await expectMatches(people, { 'address.city': { $exists: false } }, ['dan', 'eve', 'fay', 'gus']);
      await expectMatches(people, { 'address.city': { $ne: 'Oslo' } }, ['bob', 'dan', 'eve', 'fay', 'gus']);
      await expectMatches(people, { 'name.first': { $exists: true } }, []);
    },
  },
  {
    name: 'a numeric path segment never indexes into an array',
    async run(context) {
      const people = await seeded(context, peopleDocuments());
      await expectMatches(people, { 'tags.0': 'admin' }, []);
      await expectMatches(people, { 'address.0.city': 'Oslo' }, []);
      await expectMatches(people, { 'tags.0': null }, ['ann', 'bob', 'cid', 'dan', 'eve', 'fay', 'gus']);
    },
  },
  {
    name: 'a document nested to the maximum depth is found by filters on top-level and deep fields, sorted and counted',
    async run(context) {
      // Levels 1..depth, each { n: level, d: next }; the document itself is one more level.
      const nested = (level: number, depth: number): LooseDocument[string] =>
        level === depth ? { n: level, bottom: 'x' } : { n: level, d: nested(level + 1, depth) };
      const deep: LooseDocument = { id: 'deep', kind: 'deep', tree: nested(1, MAX_NESTING_DEPTH - 1) };
      const repository = await seeded(context, [
        { id: 'a', kind: 'shallow', tree: { n: 1 } },
        { id: 'b', kind: 'shallow', tree: { n: 15 } },
      ]);
      await expectCode(() => repository.insert({ id: 'deeper', tree: nested(1, MAX_NESTING_DEPTH) }), 'VALIDATION');
      expect(await repository.insert(deep)).toStrictEqual(deep);
      expect(await repository.get('deep')).toStrictEqual(deep);
      await expectMatches(repository, { kind: 'deep' }, ['deep']);
      await expectMatches(repository, { kind: { $ne: 'shallow' } }, ['deep']);
      // Sixteen segments, the longest path: tree, fourteen times d, then n.
      const longest = ['tree', ...Array.from({ length: 14 }, () => 'd'), 'n'].join('.');
      await expectMatches(repository, { [longest]: 15 }, ['deep']);
      await expectMatches(repository, { [longest]: { $gte: 1 } }, ['deep']);
      await expectMatches(repository, { 'tree.n': 1 }, ['a', 'deep']);
      expect(ids(await repository.find({ orderBy: ['kind', { field: 'tree.n', direction: 'desc' }] }))).toEqual([
        'deep',
        'b',
        'a',
      ]);
      expect(await repository.countBy('kind')).toEqual([
        { value: 'deep', count: 1 },
        { value: 'shallow', count: 2 },
      ]);
      expect(await repository.countBy(longest)).toEqual([
        { value: null, count: 2 },
        { value: 15, count: 1 },
      ]);
      await repository.update('deep', { kind: 'deeper' });
      await expectMatches(repository, { kind: 'deeper' }, ['deep']);
    },
  },
  {
    name: 'an unknown operator is a VALIDATION error',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectCode(() => values.find({ where: malformed({ v: { $regex: 'a' } }) }), 'VALIDATION');
      await expectCode(() => values.find({ where: malformed({ $nor: [{ v: 1 }] }) }), 'VALIDATION');
      await expectCode(() => values.count(malformed({ v: { $gt: 1, $like: 'a%' } })), 'VALIDATION');
    },
  },
  {
    name: 'an empty operator object, or an array or object where a scalar is expected, is a VALIDATION error',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectCode(() => values.find({ where: malformed({ v: {} }) }), 'VALIDATION');
      await expectCode(() => values.find({ where: malformed({ v: [1, 'a'] }) }), 'VALIDATION');
      await expectCode(() => values.find({ where: malformed({ v: { $eq: { x: 1 } } }) }), 'VALIDATION');
      await expectCode(() => values.find({ where: malformed({ v: { $contains: [1] } }) }), 'VALIDATION');
      await expectCode(() => values.find({ where: malformed({ v: { $in: [[1]] } }) }), 'VALIDATION');
    },
  },
  {
    name: 'operands of the wrong type are a VALIDATION error',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      await expectCode(() => values.find({ where: malformed({ v: { $gt: true } }) }), 'VALIDATION');
      await expectCode(() => values.find({ where: malformed({ v: { $lt: null } }) }), 'VALIDATION');
      await expectCode(() => values.find({ where: malformed({ v: { $in: 1 } }) }), 'VALIDATION');
      await expectCode(() => values.find({ where: malformed({ v: { $exists: 1 } }) }), 'VALIDATION');
      await expectCode(() => values.find({ where: malformed({ v: { $startsWith: 1 } }) }), 'VALIDATION');
      await expectCode(() => values.find({ where: malformed({ $and: { v: 1 } }) }), 'VALIDATION');
      await expectCode(() => values.find({ where: malformed({ $or: 'v' }) }), 'VALIDATION');
    },
  },
  {
    name: '$in and $nin accept at most 1000 values',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      const thousand = Array.from({ length: 1000 }, (_, index) => index);
      await expectMatches(values, { v: { $in: thousand } }, ['num-0', 'num-1', 'num-2', 'num-10']);
      await expectCode(() => values.find({ where: { v: { $in: [...thousand, 1000] } } }), 'VALIDATION');
      await expectCode(() => values.find({ where: { v: { $nin: [...thousand, 1000] } } }), 'VALIDATION');
    },
  },
  {
    name: 'a malformed field path is a VALIDATION error',
    async run(context) {
      const values = await seeded(context, valueDocuments());
      for (const path of ['', 'a..b', '.a', 'a.', 'a b', "a'b", 'a;b', 'é', 'x'.repeat(65)]) {
        await expectCode(() => values.find({ where: { [path]: 1 } }), 'VALIDATION');
      }
      const seventeen = Array.from({ length: 17 }, () => 'a').join('.');
      await expectCode(() => values.find({ where: { [seventeen]: 1 } }), 'VALIDATION');
      const sixteen = Array.from({ length: 16 }, () => 'a').join('.');
      await expectMatches(values, { [sixteen]: null }, VALUE_IDS);
    },
  },
]);
