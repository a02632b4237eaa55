import type { Document, Entry, Filter, OrderBy, Query, Repository } from '@berth/core';
import { evaluateEntries, prepareQuery, sortEntries } from '@berth/core/adapter';
import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import {
  expectBerthError,
  expectRepositoryRefused,
  expectUnchanged,
  invalid,
  type LooseDocument,
  present,
  sleep,
  snapshot,
} from './assertions.js';

/*
 * Metadata in queries: entries from reads (findEntries, findEntriesPage,
 * iterateEntries) and from writes (returnEntry), and the reserved paths
 * $createdAt and $updatedAt in where and orderBy.
 *
 * Timestamps come from the engine's clock, so no case predicts them: each
 * reads the entries the adapter holds (getEntry, one at a time) and asks
 * core's reference evaluator what a query over them returns. Cases that need
 * distinct times wait until the clock has moved past the last write's time
 * (never assuming two writes get distinct milliseconds); ties are left to
 * happen (bulk writes in one millisecond) and are broken by id.
 */

interface Item extends Document {
  readonly group: string;
  readonly n: number;
}

/** Waits until the clock has moved past `after` (at least 2 ms of real time, then until Date.now() passes it). */
async function clockPast(after: Date): Promise<void> {
  await sleep(2);
  while (Date.now() <= after.getTime()) await sleep(1);
}

/** Every entry the adapter holds, read one by one with getEntry (not with the methods under test). */
async function entriesOf<T extends Document>(repository: Repository<T>): Promise<Entry<T>[]> {
  const documents = await repository.find({ orderBy: 'id' });
  const entries = await Promise.all(documents.map((document) => repository.getEntry(document.id)));
  return entries.map((entry) => present(entry, 'entry'));
}

/** What the reference evaluator returns for `query` over `entries`. */
function expected<T extends Document>(entries: readonly Entry<T>[], query: Query): Entry<T>[] {
  return evaluateEntries(entries, prepareQuery(query)).items;
}

const ids = (items: readonly { readonly id: string }[]): string[] => items.map((item) => item.id);
const entryIds = (entries: readonly Entry<Document>[]): string[] => entries.map((entry) => entry.document.id);

/**
 * A collection whose creation order, update order and id order all differ:
 * ids run backwards against time, some documents are written again later,
 * and one bulk insert makes ties likely. Returns the entries as stored.
 */
async function seedTimeline(repository: Repository<Item>): Promise<Entry<Item>[]> {
  let last = (await repository.insert({ id: 'z', group: 'a', n: 1 }, { returnEntry: true })).meta.updatedAt;
  for (const [id, group, n] of [
    ['y', 'b', 2],
    ['x', 'a', 3],
    ['w', 'b', 4],
  ] as const) {
    await clockPast(last);
    last = (await repository.insert({ id, group, n }, { returnEntry: true })).meta.updatedAt;
  }
  await clockPast(last);
  // Written in one call: usually in one millisecond, so ties broken by id.
  await repository.insertMany([
    { id: 'v', group: 'a', n: 5 },
    { id: 'u', group: 'b', n: 6 },
    { id: 't', group: 'a', n: 7 },
  ]);
  const bulk = present(await repository.getEntry('t')).meta.updatedAt;
  await clockPast(bulk);
  last = (await repository.update('y', { n: 20 }, { returnEntry: true })).meta.updatedAt;
  await clockPast(last);
  await repository.update('z', { n: 10 }, { returnEntry: true });
  return entriesOf(repository);
}

const METADATA_SORTS: readonly OrderBy<Item>[] = [
  '$createdAt',
  { field: '$createdAt', direction: 'desc' },
  '$updatedAt',
  { field: '$updatedAt', direction: 'desc' },
  ['group', { field: '$updatedAt', direction: 'desc' }],
  [{ field: '$createdAt', direction: 'desc' }, 'n'],
];

/** The distinct times of the entries' `createdAt` and `updatedAt`, ascending. */
function timesOf(entries: readonly Entry<Document>[]): Date[] {
  const times = new Set<number>();
  for (const { meta } of entries) {
    times.add(meta.createdAt.getTime());
    times.add(meta.updatedAt.getTime());
  }
  return [...times].sort((a, b) => a - b).map((time) => new Date(time));
}

/** Filters on the metadata around each of `times` (exact, and one millisecond either side). */
function metadataFilters(times: readonly Date[]): Filter[] {
  const filters: Filter[] = [];
  for (const time of times) {
    const before = new Date(time.getTime() - 1);
    const after = new Date(time.getTime() + 1);
    for (const path of ['$createdAt', '$updatedAt'] as const) {
      filters.push(
        { [path]: time },
        { [path]: { $eq: time } },
        { [path]: { $ne: time } },
        { [path]: { $gt: time } },
        { [path]: { $gte: time } },
        { [path]: { $lt: time } },
        { [path]: { $lte: time } },
        { [path]: { $gt: before, $lt: after } },
        { [path]: { $in: [before, time] } },
        { [path]: { $nin: [time, after] } },
      );
    }
  }
  const [first] = times;
  if (first !== undefined) {
    filters.push(
      { $createdAt: { $exists: true } },
      { $updatedAt: { $exists: false } },
      { $or: [{ $createdAt: first }, { group: 'b' }] },
      { $not: { $updatedAt: { $gt: first } } },
      { group: 'a', $updatedAt: { $gte: first } },
      { $createdAt: { $in: [] } },
      { $updatedAt: { $nin: [] } },
    );
  }
  return filters;
}

/**
 * Entries (a document with its version and timestamps): `findEntries`, `findEntriesPage`, `iterateEntries` and
 * `returnEntry` agree with `getEntry`, inside transactions too.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, metadataGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(metadataGroup, options);
 * ```
 */
export const metadataGroup: ConformanceGroup = defineGroup('metadata', [
  {
    name: 'findEntries returns what find returns, in the same order, each with the metadata getEntry reports',
    async run(context) {
      const repository = context.repository<Item>();
      const stored = await seedTimeline(repository);
      const queries: Query<Item>[] = [
        {},
        { where: { group: 'a' } },
        { orderBy: { field: 'n', direction: 'desc' } },
        { where: { n: { $gte: 3 } }, orderBy: 'group', limit: 3, offset: 1 },
        { orderBy: '$updatedAt', limit: 0 },
      ];
      for (const query of queries) {
        const entries = await repository.findEntries(query);
        expect(entries.map((entry) => entry.document)).toStrictEqual(await repository.find(query));
        for (const entry of entries) {
          const truth = stored.find((candidate) => candidate.document.id === entry.document.id);
          expect(entry).toStrictEqual(truth);
        }
      }
      expect(await repository.findEntries({ where: { group: 'none' } })).toStrictEqual([]);
    },
  },
  {
    name: 'entries are fresh copies: changing one changes neither the stored state nor the next read',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'a', nested: { n: 1 }, at: new Date(5) });
      const before = await snapshot(repository);
      const [first] = await repository.findEntries();
      const entry = present(first, 'entry');
      (entry.document.nested as { n: number }).n = 99;
      (entry.document.at as Date).setTime(0);
      entry.meta.createdAt.setTime(0);
      entry.meta.updatedAt.setTime(0);
      (entry.meta as { version: number }).version = 42;
      expect(await repository.findEntries()).toStrictEqual(before);
      const page = await repository.findEntriesPage({ limit: 1 });
      present(page.items[0]).meta.updatedAt.setTime(1);
      for await (const streamed of repository.iterateEntries()) streamed.meta.createdAt.setTime(2);
      expect(await repository.findEntries()).toStrictEqual(before);
      expect((await repository.findEntriesPage()).items).toStrictEqual(before);
      const written = await repository.update('a', { x: 1 }, { returnEntry: true });
      written.meta.updatedAt.setTime(3);
      written.document.x = 7;
      const again = await repository.findEntries();
      expect(again[0]).not.toBe(entry);
      expect(again[0]?.meta).not.toBe(entry.meta);
      expect(again[0]?.document).toStrictEqual({ id: 'a', nested: { n: 1 }, at: new Date(5), x: 1 });
      expect(again[0]?.meta.version).toBe(2);
      expect(again[0]?.meta.createdAt).toStrictEqual(before[0]?.meta.createdAt);
      expect(again[0]?.meta.updatedAt.getTime()).toBeGreaterThan(3);
      expect(again).toStrictEqual([await repository.getEntry('a')]);
    },
  },
  {
    name: 'findEntriesPage and iterateEntries walk the same entries as findEntries, with interchangeable cursors',
    async run(context) {
      const repository = context.repository<Item>();
      await seedTimeline(repository);
      const sorts: (OrderBy<Item> | undefined)[] = [undefined, 'n', ...METADATA_SORTS];
      for (const orderBy of sorts) {
        const all = await repository.findEntries({ orderBy });
        const walked: Entry<Item>[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 20; page++) {
          const entries = await repository.findEntriesPage({ orderBy, limit: 2, cursor });
          const documents = await repository.findPage({ orderBy, limit: 2, cursor });
          expect(entries.items.map((entry) => entry.document)).toStrictEqual(documents.items);
          expect(entries.nextCursor === null).toBe(documents.nextCursor === null);
          walked.push(...entries.items);
          if (entries.nextCursor === null) break;
          // Continue with one method's cursor, then the other's: they are interchangeable.
          cursor = (page % 2 === 0 ? documents.nextCursor : entries.nextCursor) ?? undefined;
        }
        expect(walked).toStrictEqual(all);
        const streamed: Entry<Item>[] = [];
        for await (const entry of repository.iterateEntries({ orderBy }, { batchSize: 3 })) streamed.push(entry);
        expect(streamed).toStrictEqual(all);
        const limited: Entry<Item>[] = [];
        for await (const entry of repository.iterateEntries({ orderBy, limit: 4 }, { batchSize: 3 })) {
          limited.push(entry);
        }
        expect(limited).toStrictEqual(all.slice(0, 4));
      }
    },
  },
  {
    name: 'returnEntry on insert, replace, upsert and update resolves to the entry the write left',
    async run(context) {
      const repository = context.repository<Item>();
      const plain = await repository.insert({ id: 'plain', group: 'a', n: 0 }, { returnEntry: false });
      expect(plain).toStrictEqual({ id: 'plain', group: 'a', n: 0 });
      const inserted = await repository.insert({ id: 'a', group: 'a', n: 1 }, { returnEntry: true });
      expect(inserted.document).toStrictEqual({ id: 'a', group: 'a', n: 1 });
      expect(inserted.meta.version).toBe(1);
      expect(inserted.meta.createdAt).toBeInstanceOf(Date);
      expect(inserted.meta.updatedAt).toStrictEqual(inserted.meta.createdAt);
      expect(await repository.getEntry('a')).toStrictEqual(inserted);
      const generated = await repository.insert({ group: 'g', n: 9 }, { returnEntry: true });
      expect(generated).toStrictEqual(await repository.getEntry(generated.document.id));

      await clockPast(inserted.meta.updatedAt);
      const replaced = await repository.replace({ id: 'a', group: 'b', n: 2 }, { returnEntry: true });
      expect(replaced.document).toStrictEqual({ id: 'a', group: 'b', n: 2 });
      expect(replaced.meta.version).toBe(2);
      expect(replaced.meta.createdAt).toStrictEqual(inserted.meta.createdAt);
      expect(replaced.meta.updatedAt.getTime()).toBeGreaterThan(inserted.meta.updatedAt.getTime());
      expect(await repository.getEntry('a')).toStrictEqual(replaced);

      await clockPast(replaced.meta.updatedAt);
      const upserted = await repository.upsert(
        { id: 'a', group: 'c', n: 3 },
        { returnEntry: true, expectedVersion: 2 },
      );
      expect(upserted.meta.version).toBe(3);
      expect(upserted.meta.createdAt).toStrictEqual(inserted.meta.createdAt);
      expect(upserted.meta.updatedAt.getTime()).toBeGreaterThan(replaced.meta.updatedAt.getTime());
      expect(await repository.getEntry('a')).toStrictEqual(upserted);
      const created = await repository.upsert({ id: 'new', group: 'c', n: 4 }, { returnEntry: true });
      expect(created.meta.version).toBe(1);
      expect(await repository.getEntry('new')).toStrictEqual(created);

      await clockPast(upserted.meta.updatedAt);
      const updated = await repository.update('a', { $inc: { n: 10 } }, { returnEntry: true });
      expect(updated.document).toStrictEqual({ id: 'a', group: 'c', n: 13 });
      expect(updated.meta.version).toBe(4);
      expect(updated.meta.createdAt).toStrictEqual(inserted.meta.createdAt);
      expect(updated.meta.updatedAt.getTime()).toBeGreaterThan(upserted.meta.updatedAt.getTime());
      expect(await repository.getEntry('a')).toStrictEqual(updated);
      const patched = await repository.update('a', { group: 'd' }, { returnEntry: false });
      expect(patched).toStrictEqual({ id: 'a', group: 'd', n: 13 });
    },
  },
  {
    name: 'returnEntry works inside a transaction, and findEntries there sees the transaction own writes',
    requires: (capabilities) => capabilities.repository.transactions !== 'none',
    async run(context) {
      const name = context.collectionName('tx');
      const outside = context.backend.repository<Item>(name);
      await outside.insert({ id: 'a', group: 'a', n: 1 });
      const seen = await context.backend.transaction(async (tx) => {
        const items = tx.repository<Item>(name);
        const written = await items.update('a', { n: 2 }, { returnEntry: true });
        const added = await items.insert({ id: 'b', group: 'b', n: 3 }, { returnEntry: true });
        const entries = await items.findEntries({ orderBy: '$createdAt' });
        expect(entries).toStrictEqual([written, added]);
        expect(await items.findEntries({ where: { $updatedAt: { $gte: written.meta.updatedAt } } })).toHaveLength(
          added.meta.updatedAt.getTime() >= written.meta.updatedAt.getTime() ? 2 : 1,
        );
        return entries;
      });
      expect(await outside.findEntries({ orderBy: '$createdAt' })).toStrictEqual(seen);
    },
  },
  {
    name: 'returnEntry takes a boolean: anything else is VALIDATION and writes nothing',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insert({ id: 'a', group: 'a', n: 1 });
      const before = await snapshot(repository);
      for (const value of ['yes', 1, null, {}]) {
        const options = invalid<{ returnEntry: true }>({ returnEntry: value });
        await expectBerthError(repository.insert({ id: 'b', group: 'b', n: 2 }, options), 'VALIDATION', {
          path: 'returnEntry',
        });
        await expectBerthError(repository.replace({ id: 'a', group: 'b', n: 2 }, options), 'VALIDATION');
        await expectBerthError(repository.upsert({ id: 'a', group: 'b', n: 2 }, options), 'VALIDATION');
        await expectBerthError(repository.update('a', { n: 5 }, options), 'VALIDATION');
      }
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'orderBy $createdAt and $updatedAt sort chronologically (milliseconds apart, ties by id), as the reference does',
    async run(context) {
      const repository = context.repository<Item>();
      const stored = await seedTimeline(repository);
      // The timeline has several distinct times, or the order would say nothing.
      expect(timesOf(stored).length).toBeGreaterThanOrEqual(5);
      for (const orderBy of METADATA_SORTS) {
        const want = entryIds(sortEntries(stored, orderBy));
        expect(ids(await repository.find({ orderBy })), JSON.stringify(orderBy)).toStrictEqual(want);
        expect(entryIds(await repository.findEntries({ orderBy })), JSON.stringify(orderBy)).toStrictEqual(want);
        expect(ids(await repository.find({ orderBy, offset: 2, limit: 3 }))).toStrictEqual(want.slice(2, 5));
        expect((await repository.findOne({ orderBy }))?.id).toBe(want[0]);
      }
      // Documents written later come later in $updatedAt order, whatever their ids.
      const newest = await repository.find({ orderBy: { field: '$updatedAt', direction: 'desc' }, limit: 2 });
      expect(ids(newest)).toStrictEqual(['z', 'y']);
      const oldest = await repository.find({ orderBy: '$createdAt', limit: 2 });
      expect(ids(oldest)).toStrictEqual(['z', 'y']);
    },
  },
  {
    name: 'where on $createdAt and $updatedAt compares instants to the millisecond with every operator, as the reference does',
    async run(context) {
      const repository = context.repository<Item>();
      const stored = await seedTimeline(repository);
      const times = timesOf(stored);
      for (const where of metadataFilters(times)) {
        const want = entryIds(expected(stored, { where, orderBy: 'id' }));
        const label = JSON.stringify(where);
        expect(ids(await repository.find({ where, orderBy: 'id' })), label).toStrictEqual(want);
        expect(entryIds(await repository.findEntries({ where, orderBy: 'id' })), label).toStrictEqual(want);
        expect(await repository.count(where), label).toBe(want.length);
        expect(await repository.exists(where), label).toBe(want.length > 0);
      }
      // "Updated since": the documents written at or after a time, none copied into a field.
      const since = present(stored.find((entry) => entry.document.id === 'y')).meta.updatedAt;
      const recent = await repository.find({ where: { $updatedAt: { $gte: since } }, orderBy: '$updatedAt' });
      expect(ids(recent)).toStrictEqual(['y', 'z']);
      const groups = await repository.countBy('group', { $createdAt: { $lt: since } });
      expect(groups).toStrictEqual([
        { value: 'a', count: stored.filter((entry) => entry.document.group === 'a').length },
        { value: 'b', count: stored.filter((entry) => entry.document.group === 'b').length },
      ]);
    },
  },
  {
    name: 'metadata conditions combine with a range on an indexed field: find and count answer as the reference does',
    async run(context) {
      const repository = context.repository<Item>({ indexes: [{ field: 'n', type: 'number' }] });
      const stored = await seedTimeline(repository);
      const times = timesOf(stored);
      for (const metadata of metadataFilters(times)) {
        const where: Filter<Item> = { ...metadata, n: { $gte: 1 } };
        const want = entryIds(expected(stored, { where, orderBy: 'id' }));
        const label = JSON.stringify(where);
        expect(ids(await repository.find({ where, orderBy: 'id' })), label).toStrictEqual(want);
        expect(await repository.count(where), label).toBe(want.length);
        // A top-N the index walks, with the metadata condition checked on each document it reads.
        const top = { where, orderBy: { field: 'n', direction: 'desc' }, limit: 2 } as const;
        expect(ids(await repository.find(top)), label).toStrictEqual(entryIds(expected(stored, top)));
      }
    },
  },
  {
    name: 'updateMany and deleteMany select by metadata, and updateMany moves $updatedAt',
    async run(context) {
      const repository = context.repository<Item>();
      const stored = await seedTimeline(repository);
      const pivot = present(stored.find((entry) => entry.document.id === 'w')).meta.createdAt;
      const older = entryIds(expected(stored, { where: { $createdAt: { $lt: pivot } }, orderBy: 'id' }));
      const last = timesOf(stored).at(-1) as Date;
      await clockPast(last);
      expect(await repository.updateMany({ $createdAt: { $lt: pivot } }, { $inc: { n: 100 } })).toBe(older.length);
      const after = await repository.findEntries({ where: { $updatedAt: { $gt: last } }, orderBy: 'id' });
      expect(entryIds(after)).toStrictEqual(older);
      expect(after.every((entry) => entry.document.n >= 100)).toBe(true);
      expect(await repository.deleteMany({ $updatedAt: { $lte: last } })).toBe(stored.length - older.length);
      expect(ids(await repository.find({ orderBy: 'id' }))).toStrictEqual(older);
    },
  },
  {
    name: 'pages over a metadata sort continue by cursor across ties, and writes behind the cursor neither repeat nor shift',
    async run(context) {
      const repository = context.repository<Item>();
      const stored = await seedTimeline(repository);
      for (const orderBy of METADATA_SORTS) {
        const want = entryIds(sortEntries(stored, orderBy));
        for (const limit of [1, 2, 3]) {
          const walked: string[] = [];
          let cursor: string | undefined;
          for (let page = 0; page < 20; page++) {
            const result = await repository.findPage({ orderBy, limit, cursor });
            walked.push(...ids(result.items));
            if (result.nextCursor === null) break;
            cursor = result.nextCursor;
          }
          expect(walked, `${JSON.stringify(orderBy)} by ${limit}`).toStrictEqual(want);
        }
      }
      // Newest first: documents written after the first page sort before the cursor and are not seen.
      const orderBy: OrderBy<Item> = { field: '$updatedAt', direction: 'desc' };
      const first = await repository.findEntriesPage({ orderBy, limit: 3 });
      await clockPast(timesOf(stored).at(-1) as Date);
      await repository.insert({ id: 'late', group: 'a', n: 0 });
      await repository.update('x', { n: 70 });
      const rest: string[] = [];
      let cursor = first.nextCursor;
      while (cursor !== null) {
        const page = await repository.findEntriesPage({ orderBy, limit: 3, cursor });
        rest.push(...entryIds(page.items));
        cursor = page.nextCursor;
      }
      const before = entryIds(sortEntries(stored, orderBy));
      expect(entryIds(first.items)).toStrictEqual(before.slice(0, 3));
      expect(rest).toStrictEqual(before.slice(3).filter((id) => id !== 'x'));
    },
  },
  {
    name: 'an index declared on $createdAt or $updatedAt changes no answer, also after writes move $updatedAt',
    async run(context) {
      const repository = context.repository<Item>({
        indexes: [
          { field: '$updatedAt', type: 'date' },
          { field: '$createdAt', type: 'date' },
          { field: 'group', type: 'string' },
        ],
      });
      let stored = await seedTimeline(repository);
      const check = async () => {
        for (const orderBy of METADATA_SORTS) {
          expect(ids(await repository.find({ orderBy }))).toStrictEqual(entryIds(sortEntries(stored, orderBy)));
        }
        for (const where of metadataFilters(timesOf(stored))) {
          const want = entryIds(expected(stored, { where, orderBy: 'id' }));
          expect(ids(await repository.find({ where, orderBy: 'id' })), JSON.stringify(where)).toStrictEqual(want);
        }
      };
      await check();
      await clockPast(timesOf(stored).at(-1) as Date);
      await repository.update('x', { n: 30 });
      await repository.upsert({ id: 'w', group: 'a', n: 40 });
      await repository.delete('u');
      stored = await entriesOf(repository);
      await check();
    },
  },
  {
    name: 'a cursor of a metadata sort belongs to it: another sort or a tampered value is VALIDATION',
    async run(context) {
      const repository = context.repository<Item>();
      await seedTimeline(repository);
      const page = await repository.findPage({ orderBy: '$createdAt', limit: 2 });
      const cursor = present(page.nextCursor, 'cursor');
      await expectBerthError(repository.findPage({ orderBy: '$updatedAt', limit: 2, cursor }), 'VALIDATION', {
        path: 'cursor',
      });
      await expectBerthError(repository.findPage({ orderBy: 'n', limit: 2, cursor }), 'VALIDATION', {
        path: 'cursor',
      });
    },
  },
  {
    name: 'no other path starting with $ is accepted in where, orderBy, updates, countBy or indexes',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insert({ id: 'a', group: 'a', n: 1 });
      const before = await snapshot(repository);
      const date = new Date('2026-01-01T00:00:00.000Z');
      const badWheres: unknown[] = [
        { $version: 1 },
        { $createdat: { $gt: date } },
        { $CreatedAt: date },
        { $id: 'a' },
        { '$createdAt.x': date },
        { 'a.$createdAt': date },
        { $: 1 },
        { $createdAt: date.getTime() },
        { $createdAt: date.toISOString() },
        { $createdAt: null },
        { $createdAt: true },
        { $createdAt: {} },
        { $createdAt: { $gte: date.getTime() } },
        { $updatedAt: { $lt: date.toISOString() } },
        { $updatedAt: { $in: [date, date.getTime()] } },
        { $updatedAt: { $in: date } },
        { $updatedAt: { $nin: [null] } },
        { $updatedAt: { $startsWith: '2026' } },
        { $createdAt: { $contains: date } },
        { $createdAt: { $eq: new Date(Number.NaN) } },
        { $createdAt: { $exists: 'yes' } },
        { $createdAt: { $near: date } },
        { $or: [{ $modifiedAt: date }] },
      ];
      for (const where of badWheres) {
        const label = JSON.stringify(where);
        await expectBerthError(repository.find({ where: invalid<Filter>(where) }), 'VALIDATION').catch((error) => {
          throw new Error(`${label}: ${String(error)}`);
        });
        await expectBerthError(repository.findEntries({ where: invalid<Filter>(where) }), 'VALIDATION');
        await expectBerthError(repository.count(invalid<Filter>(where)), 'VALIDATION');
        await expectBerthError(repository.deleteMany(invalid<Filter>(where)), 'VALIDATION');
      }
      for (const orderBy of ['$version', '$createdat', '$id', '$createdAt.x', 'a.$updatedAt', '$', { field: '$n' }]) {
        await expectBerthError(repository.find({ orderBy: invalid<OrderBy<Item>>(orderBy) }), 'VALIDATION');
        await expectBerthError(repository.findEntriesPage({ orderBy: invalid<OrderBy<Item>>(orderBy) }), 'VALIDATION');
      }
      // Metadata is read, never written, grouped or indexed as a field.
      await expectBerthError(repository.update('a', invalid({ $set: { $createdAt: date } })), 'VALIDATION');
      await expectBerthError(repository.update('a', invalid({ $unset: ['$updatedAt'] })), 'VALIDATION');
      await expectBerthError(repository.update('a', invalid({ $updatedAt: date })), 'VALIDATION');
      await expectBerthError(repository.updateMany({}, invalid({ $set: { $updatedAt: date } })), 'VALIDATION');
      await expectBerthError(repository.insert(invalid({ id: 'b', $createdAt: date })), 'VALIDATION');
      // @ts-expect-error: metadata cannot be grouped, refused at run time too
      await expectBerthError(repository.countBy('$createdAt'), 'VALIDATION');
      await expectUnchanged(repository, before);
      // An index on the metadata is a date index, and never unique (two writes may share a millisecond).
      for (const index of [
        { field: '$version', type: 'number' as const },
        { field: '$createdat', type: 'date' as const },
        { field: '$updatedAt', type: 'number' as const },
        { field: '$createdAt', type: 'date' as const, unique: true },
      ]) {
        await expectRepositoryRefused(context.backend, context.collectionName('ix'), 'VALIDATION', {
          indexes: [index],
        });
      }
    },
  },
]);
