import type { NewDocument, Page, Query, Repository } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import {
  collect,
  expectCode,
  extremeNumberDocuments,
  idSet,
  ids,
  LOOKALIKE_STRINGS,
  type LooseDocument,
  lookalikeStringDocuments,
  render,
  seeded,
  sortedIds,
} from './query-fixtures.js';

/** Ten documents `n10`…`n100` with `n` = 10…100 and `odd` set on every other one. */
function tenDocuments(): LooseDocument[] {
  return Array.from({ length: 10 }, (_, index) => ({
    id: `n${(index + 1) * 10}`,
    n: (index + 1) * 10,
    odd: index % 2 === 0,
  }));
}

/** Twelve documents sharing few `group` values, so every page boundary falls inside a tie. */
function tiedDocuments(): LooseDocument[] {
  const groups = [3, 1, 2, 1, 3, 2, 1, 3, 2, 3, 1, 2];
  return groups.map((group, index) => ({ id: `t${String.fromCharCode(108 - index)}`, group }));
}
// Ids run 'tl' down to 'ta'; within each group they sort ascending.
const TIED_ASC = ['tb', 'tf', 'ti', 'tk', 'ta', 'td', 'tg', 'tj', 'tc', 'te', 'th', 'tl'];

/** Follows `nextCursor` until it is null, returning every page's ids. */
async function walk(repository: Repository<LooseDocument>, query: Query): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await repository.findPage(cursor === undefined ? query : { ...query, cursor });
    pages.push(ids(page.items) as string[]);
    if (page.nextCursor === null) return pages;
    expect(pages.length, `findPage ${render(query)} never ended`).toBeLessThan(1000);
    cursor = page.nextCursor;
  }
}

/** The cursor of `page`, which must have one. */
function cursorOf(page: Page<LooseDocument>): string {
  expect(page.nextCursor, 'expected a nextCursor: more matches remain').not.toBeNull();
  return page.nextCursor ?? '';
}

async function firstCursor(repository: Repository<LooseDocument>, query: Query): Promise<string> {
  return cursorOf(await repository.findPage(query));
}

/**
 * `limit`, `offset`, `findPage` cursors and `iterate`: pages neither skip nor repeat documents, and nothing is
 * capped silently.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, pagingGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(pagingGroup, options);
 * ```
 */
export const pagingGroup: ConformanceGroup = defineGroup('paging', [
  {
    name: 'limit returns the first matches in order, offset skips matches before them',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      expect(ids(await repository.find({ orderBy: 'n', limit: 3 }))).toEqual(['n10', 'n20', 'n30']);
      expect(ids(await repository.find({ orderBy: 'n', limit: 3, offset: 2 }))).toEqual(['n30', 'n40', 'n50']);
      expect(ids(await repository.find({ orderBy: { field: 'n', direction: 'desc' }, offset: 7 }))).toEqual([
        'n30',
        'n20',
        'n10',
      ]);
      expect(ids(await repository.find({ where: { odd: true }, orderBy: 'n', limit: 2, offset: 1 }))).toEqual([
        'n30',
        'n50',
      ]);
    },
  },
  {
    name: 'a limit larger than the matches or an offset past the end is not an error',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      expect(ids(await repository.find({ orderBy: 'n', offset: 8, limit: 5 }))).toEqual(['n90', 'n100']);
      expect(await repository.find({ orderBy: 'n', offset: 10 })).toEqual([]);
      expect(await repository.find({ orderBy: 'n', offset: 50, limit: 5 })).toEqual([]);
    },
  },
  {
    name: 'limit 0 returns no documents',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      expect(await repository.find({ limit: 0 })).toEqual([]);
      expect(await repository.find({ orderBy: 'n', limit: 0, offset: 3 })).toEqual([]);
    },
  },
  {
    name: 'find without limit returns every match: 2,500 documents, nothing capped',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const expected = Array.from({ length: 2500 }, (_, index) => `doc-${String(index).padStart(4, '0')}`);
      const documents = expected.map((id, index) => ({ id, n: index % 7 }));
      await repository.insertMany(documents as NewDocument<LooseDocument>[]);
      const all = await repository.find();
      expect(all).toHaveLength(2500);
      expect(idSet(all)).toEqual(expected);
      const some = await repository.find({ where: { n: { $ne: 0 } } });
      expect(some).toHaveLength(2500 - 358);
      expect(await repository.count()).toBe(2500);
    },
  },
  {
    name: 'findPage walks every match with nextCursor, then gives a null cursor',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      expect(await walk(repository, { orderBy: 'n', limit: 3 })).toEqual([
        ['n10', 'n20', 'n30'],
        ['n40', 'n50', 'n60'],
        ['n70', 'n80', 'n90'],
        ['n100'],
      ]);
    },
  },
  {
    name: 'findPage gives a null cursor on the last page even when it is exactly full',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      expect(await walk(repository, { where: { n: { $lte: 90 } }, orderBy: 'n', limit: 3 })).toEqual([
        ['n10', 'n20', 'n30'],
        ['n40', 'n50', 'n60'],
        ['n70', 'n80', 'n90'],
      ]);
      expect(await walk(repository, { where: { n: { $gt: 1000 } }, limit: 3 })).toEqual([[]]);
    },
  },
  {
    name: 'findPage without limit returns every match and a null cursor',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      const page = await repository.findPage({ where: { odd: false }, orderBy: { field: 'n', direction: 'desc' } });
      expect(ids(page.items)).toEqual(['n100', 'n80', 'n60', 'n40', 'n20']);
      expect(page.nextCursor).toBeNull();
    },
  },
  {
    name: 'cursor pages honour where and a descending sort',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      expect(
        await walk(repository, { where: { odd: true }, orderBy: { field: 'n', direction: 'desc' }, limit: 2 }),
      ).toEqual([['n90', 'n70'], ['n50', 'n30'], ['n10']]);
    },
  },
  {
    name: 'cursor pages split ties by id, with no repeats and no gaps',
    async run(context) {
      const repository = await seeded(context, tiedDocuments());
      const pages = await walk(repository, { orderBy: 'group', limit: 5 });
      expect(pages).toEqual([TIED_ASC.slice(0, 5), TIED_ASC.slice(5, 10), TIED_ASC.slice(10)]);
      const descending = await walk(repository, { orderBy: { field: 'group', direction: 'desc' }, limit: 2 });
      expect(descending.flat()).toEqual(['tc', 'te', 'th', 'tl', 'ta', 'td', 'tg', 'tj', 'tb', 'tf', 'ti', 'tk']);
    },
  },
  {
    name: 'cursor pages walk a sort across mixed types, missing and null values',
    async run(context) {
      const repository = await seeded(context, [
        { id: 'a', v: 'x' },
        { id: 'b' },
        { id: 'c', v: 2 },
        { id: 'd', v: null },
        { id: 'e', v: true },
        { id: 'f', v: new Date('2020-01-01T00:00:00.000Z') },
        { id: 'g', v: [1] },
        { id: 'h', v: 1 },
        { id: 'i', v: { k: 1 } },
        { id: 'j' },
      ]);
      const ascending = await walk(repository, { orderBy: 'v', limit: 3 });
      expect(ascending.flat()).toEqual(['b', 'd', 'j', 'e', 'h', 'c', 'a', 'f', 'g', 'i']);
      const descending = await walk(repository, { orderBy: { field: 'v', direction: 'desc' }, limit: 3 });
      expect(descending.flat()).toEqual(['i', 'g', 'f', 'a', 'c', 'h', 'e', 'b', 'd', 'j']);
    },
  },
  {
    name: 'cursor pages advance over numbers past 2^53, extreme magnitudes and one-ulp neighbours',
    async run(context) {
      const documents = extremeNumberDocuments();
      const numbers = await seeded(context, documents);
      for (const direction of ['asc', 'desc'] as const) {
        for (const limit of [1, 4]) {
          const pages = await walk(numbers, { orderBy: { field: 'n', direction }, limit });
          expect(pages.flat(), `pages of ${limit} by n ${direction}`).toEqual(sortedIds(documents, 'n', direction));
        }
      }
      const large = documents.filter((document) => (document.n as number) >= 2 ** 53);
      const pages = await walk(numbers, { where: { n: { $gte: 2 ** 53 } }, orderBy: 'n', limit: 1 });
      expect(pages.flat()).toEqual(sortedIds(large, 'n', 'asc'));
    },
  },
  {
    name: 'cursor pages advance over strings differing only by trailing spaces, case or accent',
    async run(context) {
      const documents = lookalikeStringDocuments();
      const strings = await seeded(context, documents);
      for (const direction of ['asc', 'desc'] as const) {
        const pages = await walk(strings, { orderBy: { field: 's', direction }, limit: 1 });
        expect(pages.flat(), `pages by s ${direction}`).toEqual(sortedIds(documents, 's', direction));
      }
    },
  },
  {
    name: 'inserting and deleting documents before the cursor position neither repeats nor skips later documents',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      const query: Query = { orderBy: 'n', limit: 3 };
      const first = await repository.findPage(query);
      expect(ids(first.items)).toEqual(['n10', 'n20', 'n30']);
      await repository.insertMany([
        { id: 'n5', n: 5 },
        { id: 'n25', n: 25 },
      ]);
      await repository.delete('n20');
      await repository.delete('n10');
      const second = await repository.findPage({ ...query, cursor: cursorOf(first) });
      expect(ids(second.items)).toEqual(['n40', 'n50', 'n60']);
      const third = await repository.findPage({ ...query, cursor: cursorOf(second) });
      expect(ids(third.items)).toEqual(['n70', 'n80', 'n90']);
    },
  },
  {
    name: 'deleting the document a cursor points at does not disturb the next page',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      const query: Query = { orderBy: { field: 'n', direction: 'desc' }, limit: 4 };
      const first = await repository.findPage(query);
      expect(ids(first.items)).toEqual(['n100', 'n90', 'n80', 'n70']);
      await repository.delete('n70');
      const second = await repository.findPage({ ...query, cursor: cursorOf(first) });
      expect(ids(second.items)).toEqual(['n60', 'n50', 'n40', 'n30']);
    },
  },
  {
    name: 'documents inserted after the cursor position appear on later pages',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      const query: Query = { orderBy: 'n', limit: 3 };
      const first = await repository.findPage(query);
      await repository.insert({ id: 'n45', n: 45 });
      await repository.insert({ id: 'n30b', n: 30 });
      const second = await repository.findPage({ ...query, cursor: cursorOf(first) });
      // 'n30b' ties with the last item 'n30' and sorts after it by id, so it is after the position.
      expect(ids(second.items)).toEqual(['n30b', 'n40', 'n45']);
    },
  },
  {
    name: 'a cursor may be reused with another limit',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      const cursor = await firstCursor(repository, { orderBy: 'n', limit: 2 });
      const page = await repository.findPage({ orderBy: 'n', limit: 5, cursor });
      expect(ids(page.items)).toEqual(['n30', 'n40', 'n50', 'n60', 'n70']);
    },
  },
  {
    name: 'a cursor used with another where or orderBy is a VALIDATION error',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      const cursor = await firstCursor(repository, { where: { odd: true }, orderBy: 'n', limit: 2 });
      await expectCode(
        () => repository.findPage({ where: { odd: false }, orderBy: 'n', limit: 2, cursor }),
        'VALIDATION',
      );
      await expectCode(() => repository.findPage({ orderBy: 'n', limit: 2, cursor }), 'VALIDATION');
      await expectCode(
        () =>
          repository.findPage({ where: { odd: true }, orderBy: { field: 'n', direction: 'desc' }, limit: 2, cursor }),
        'VALIDATION',
      );
      await expectCode(
        () => repository.findPage({ where: { odd: true }, orderBy: 'id', limit: 2, cursor }),
        'VALIDATION',
      );
      await expectCode(() => repository.findPage({ where: { odd: true }, limit: 2, cursor }), 'VALIDATION');
    },
  },
  {
    name: 'a garbage or tampered cursor is a VALIDATION error',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      const cursor = await firstCursor(repository, { orderBy: 'n', limit: 2 });
      const tampered = [...cursor].reverse().join('');
      for (const bad of ['not a cursor', 'eyJ4IjoxfQ', '%%%', tampered]) {
        await expectCode(() => repository.findPage({ orderBy: 'n', limit: 2, cursor: bad }), 'VALIDATION');
      }
    },
  },
  {
    name: 'combining cursor and offset is a VALIDATION error',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      const cursor = await firstCursor(repository, { orderBy: 'n', limit: 2 });
      await expectCode(() => repository.findPage({ orderBy: 'n', limit: 2, cursor, offset: 1 }), 'VALIDATION');
      await expectCode(() => repository.find({ orderBy: 'n', limit: 2, cursor, offset: 1 }), 'VALIDATION');
    },
  },
  {
    name: 'a negative or fractional limit or offset is a VALIDATION error',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      for (const query of [{ limit: -1 }, { limit: 1.5 }, { limit: Number.NaN }, { offset: -1 }, { offset: 0.5 }]) {
        await expectCode(() => repository.find(query), 'VALIDATION');
        await expectCode(() => repository.findPage(query), 'VALIDATION');
      }
    },
  },
  {
    name: 'iterate streams every match in order with a small batch size',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const documents = Array.from({ length: 50 }, (_, index) => ({
        id: `i${String(index).padStart(2, '0')}`,
        n: index,
      }));
      await repository.insertMany(documents);
      const query: Query = { where: { n: { $gte: 10 } }, orderBy: { field: 'n', direction: 'desc' } };
      const streamed = await collect(repository.iterate(query, { batchSize: 7 }));
      const expected = Array.from({ length: 40 }, (_, index) => `i${String(49 - index)}`);
      expect(ids(streamed)).toEqual(expected);
    },
  },
  {
    name: 'iterate ends cleanly when the matches are an exact multiple of the batch size',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const documents = Array.from({ length: 49 }, (_, index) => ({
        id: `i${String(index).padStart(2, '0')}`,
        n: index % 5,
      }));
      await repository.insertMany(documents);
      const streamed = await collect(repository.iterate({}, { batchSize: 7 }));
      expect(ids(streamed)).toEqual(documents.map((document) => document.id));
      const byGroup = await collect(repository.iterate({ orderBy: 'n' }, { batchSize: 7 }));
      expect(byGroup.map((document) => document.n)).toEqual(
        [0, 1, 2, 3, 4].flatMap((n) => Array.from({ length: n < 4 ? 10 : 9 }, () => n)),
      );
      expect(ids(byGroup)).toEqual(ids(await repository.find({ orderBy: 'n' })));
    },
  },
  {
    name: 'iterate over no matches yields nothing',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      expect(await collect(repository.iterate({ where: { n: { $lt: 0 } } }, { batchSize: 3 }))).toEqual([]);
    },
  },
  {
    name: 'findOne returns the first match in order, or null',
    async run(context) {
      const repository = await seeded(context, tenDocuments());
      expect((await repository.findOne({ orderBy: { field: 'n', direction: 'desc' } }))?.id).toBe('n100');
      expect((await repository.findOne({ where: { odd: false }, orderBy: 'n' }))?.id).toBe('n20');
      expect((await repository.findOne({ where: { odd: false }, orderBy: 'n', offset: 1 }))?.id).toBe('n40');
      expect(await repository.findOne({ where: { n: 11 } })).toBeNull();
      expect(await context.repository<LooseDocument>().findOne()).toBeNull();
    },
  },
  {
    name: 'id order: ids by code point both ways, resumed with $gt or a cursor; id filters stay type-strict',
    async run(context) {
      // Lookalike ids (case, accents, trailing spaces, astral characters) and
      // prefixes at the edges of the code-point range, which an adapter
      // reading id ranges from its key must bound exactly.
      const idValues = [
        ...LOOKALIKE_STRINGS,
        'ab',
        'a\u{10FFFF}',
        'a\u{10FFFF}z',
        'b',
        '\u{D7FF}x',
        '\uE000',
        '__proto__',
      ];
      const documents = idValues.map((id, n) => ({ id, n }));
      const repository = await seeded(context, documents);
      const ascending = sortedIds(documents, 'id', 'asc');
      expect(ids(await repository.find({ orderBy: 'id' }))).toEqual(ascending);
      expect(ids(await repository.find({ orderBy: { field: 'id', direction: 'desc' } }))).toEqual(
        [...ascending].reverse(),
      );
      expect((await walk(repository, { orderBy: 'id', limit: 4 })).flat()).toEqual(ascending);
      expect((await walk(repository, { orderBy: [{ field: 'id', direction: 'desc' }, 'n'], limit: 3 })).flat()).toEqual(
        [...ascending].reverse(),
      );
      const resumed: string[] = [];
      for (let last = ''; ; ) {
        const page = ids(await repository.find({ orderBy: 'id', where: { id: { $gt: last } }, limit: 5 })) as string[];
        if (page.length === 0) break;
        resumed.push(...page);
        last = page.at(-1) as string;
      }
      expect(resumed).toEqual(ascending);
      const having = (keep: (id: string) => boolean) => ascending.filter(keep);
      for (const prefix of ['a', 'a\u{10FFFF}', '\u{D7FF}', '😀', 'e']) {
        expect(ids(await repository.find({ where: { id: { $startsWith: prefix } }, orderBy: 'id' })), prefix).toEqual(
          having((id) => id.startsWith(prefix)),
        );
      }
      expect(ids(await repository.find({ where: { id: { $gte: 'a', $lt: 'b' } }, orderBy: 'id' }))).toEqual(
        having((id) => id >= 'a' && id < 'b'),
      );
      for (const where of [
        { id: 5 },
        { id: null },
        { id: { $exists: false } },
        { id: { $gt: 5 } },
        { id: { $in: [1, null] } },
      ]) {
        expect(await repository.find({ where }), render(where)).toEqual([]);
      }
      expect(ids(await repository.find({ where: { id: { $in: ['a', 7, 'b'] } }, orderBy: 'id' }))).toEqual(['a', 'b']);
      expect(await repository.count({ id: { $nin: ['a', null] } })).toBe(documents.length - 1);
    },
  },
]);
