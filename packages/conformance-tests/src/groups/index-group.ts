import type { Capabilities, Filter, IndexDefinition, OrderBy, Query, Repository } from '@berth/core';
import { matchesFilter, sortDocuments } from '@berth/core/adapter';
import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import { expectBerthError, expectRepositoryRefused, type LooseDocument } from './assertions.js';
import { EXTREME_NUMBERS, LOOKALIKE_STRINGS } from './query-fixtures.js';

// Declared indexes change how an adapter finds documents (an ordered walk
// that stops at the limit, a count from the index), never what it finds:
// every page and count here is compared with core's reference evaluation.

const uniqueIndexes = (capabilities: Capabilities): boolean => capabilities.repository.uniqueIndexes;

const DATES = [new Date(Date.UTC(1970, 0, 1)), new Date(Date.UTC(2024, 1, 29, 12)), new Date(Date.UTC(9999, 11, 31))];

/**
 * Values of every type in one indexed field: numbers that engines read
 * inexactly (past 2^53, neighbours near 1e-300, -0), strings that differ
 * only by case, accent or trailing space, Dates, booleans, null, missing,
 * arrays and objects.
 */
function mixedValues(): unknown[] {
  return [
    ...EXTREME_NUMBERS,
    -0,
    ...LOOKALIKE_STRINGS,
    ...DATES,
    true,
    false,
    null,
    undefined,
    [1],
    { a: 1 },
    7,
    7,
    'a',
  ];
}

/** One document per value in `points`, ids running against the value order so a wrong tie-break shows. */
function mixedDocuments(): LooseDocument[] {
  const values = mixedValues();
  return values.map((points, index) => {
    const id = `m${String(values.length - index).padStart(3, '0')}`;
    return points === undefined ? { id } : { id, points };
  });
}

function referencePage(documents: readonly LooseDocument[], query: Query): string[] {
  const matching = documents.filter((document) => matchesFilter(document, query.where ?? {}));
  const start = query.offset ?? 0;
  const end = query.limit === undefined ? matching.length : start + query.limit;
  return sortDocuments(matching, query.orderBy as OrderBy)
    .slice(start, end)
    .map((document) => document.id);
}

function referenceCount(documents: readonly LooseDocument[], where: Filter): number {
  return documents.filter((document) => matchesFilter(document, where)).length;
}

async function expectReferencePages(
  repository: Repository<LooseDocument>,
  documents: readonly LooseDocument[],
  queries: readonly Query[],
): Promise<void> {
  for (const query of queries) {
    const found = (await repository.find(query)).map((document) => document.id);
    expect(found, JSON.stringify(query)).toEqual(referencePage(documents, query));
  }
}

/** Range operands of every type, around and at the stored values. */
function rankOperands(): (number | string | Date)[] {
  return [
    ...EXTREME_NUMBERS,
    -0,
    7,
    6.999999999999999,
    ...LOOKALIKE_STRINGS,
    '',
    ...DATES,
    new Date(Date.UTC(2000, 0, 1)),
  ];
}

function topQueries(field: string): Query[] {
  const queries: Query[] = [];
  for (const direction of ['asc', 'desc'] as const) {
    for (const limit of [1, 3, 20, 100]) queries.push({ orderBy: { field, direction }, limit });
    queries.push({ orderBy: { field, direction }, limit: 4, offset: 9 });
    queries.push({ orderBy: { field, direction } });
  }
  return queries;
}

function compoundDocuments(): LooseDocument[] {
  const sessions = ['s', 'S', 's ', 'ś', 1, null, undefined];
  const at: unknown[] = [...DATES, 2 ** 53 + 2, 2 ** 53, 5e-324, 0, 'x', null, undefined, 1e308, -1];
  const documents: LooseDocument[] = [];
  for (let n = 0; n < 140; n++) {
    const session = sessions[n % sessions.length];
    const value = at[(n * 5) % at.length];
    documents.push({
      id: `c${String(139 - n).padStart(3, '0')}`,
      ...(session === undefined ? {} : { session }),
      ...(value === undefined ? {} : { at: value }),
      size: n % 4,
    });
  }
  return documents;
}

const COMPOUND: IndexDefinition = {
  fields: [
    { field: 'session', type: 'string' },
    { field: 'at', type: 'date' },
  ],
};

export const indexGroup: ConformanceGroup = defineGroup('indexes', [
  {
    name: 'top-N by an indexed field holding every type (extreme numbers, look-alike strings, Dates, null, missing, arrays, objects) is the reference page, both directions, with offsets',
    async run(context) {
      const repository = context.repository<LooseDocument>({ indexes: [{ field: 'points', type: 'number' }] });
      const documents = mixedDocuments();
      await repository.insertMany(documents);
      await expectReferencePages(repository, documents, topQueries('points'));
    },
  },
  {
    name: 'findPage cursors over an indexed field holding every type walk the reference order, page by page, both directions',
    async run(context) {
      const repository = context.repository<LooseDocument>({ indexes: [{ field: 'points', type: 'number' }] });
      const documents = mixedDocuments();
      await repository.insertMany(documents);
      for (const direction of ['asc', 'desc'] as const) {
        for (const where of [{}, { points: { $gte: 0 } }, { points: { $lt: 'b' } }] as Filter[]) {
          const seen: string[] = [];
          let cursor: string | undefined;
          for (let pages = 0; pages < 100; pages++) {
            const page = await repository.findPage({
              where,
              orderBy: { field: 'points', direction },
              limit: 7,
              ...(cursor === undefined ? {} : { cursor }),
            });
            seen.push(...page.items.map((document) => document.id));
            if (page.nextCursor === null) break;
            cursor = page.nextCursor;
          }
          expect(seen, `${direction} ${JSON.stringify(where)}`).toEqual(
            referencePage(documents, { where, orderBy: { field: 'points', direction } }),
          );
        }
      }
    },
  },
  {
    name: 'a rank (count of documents above or below a value) on an indexed field is the reference count, type-strict, for operands of every type',
    async run(context) {
      const repository = context.repository<LooseDocument>({ indexes: [{ field: 'points', type: 'number' }] });
      const documents = mixedDocuments();
      await repository.insertMany(documents);
      for (const operand of rankOperands()) {
        for (const operator of ['$gt', '$gte', '$lt', '$lte'] as const) {
          const where = { points: { [operator]: operand } } as Filter;
          expect(await repository.count(where), `${operator} ${String(operand)}`).toBe(
            referenceCount(documents, where),
          );
        }
      }
      expect(await repository.count()).toBe(documents.length);
    },
  },
  {
    name: 'top-N and ranks stay the reference after updates, replaces, deletes and inside a transaction with pending writes',
    async run(context) {
      const repository = context.repository<LooseDocument>({ indexes: [{ field: 'points', type: 'number' }] });
      const documents = new Map(mixedDocuments().map((document) => [document.id, document]));
      await repository.insertMany([...documents.values()]);
      const moves: [string, number | string | null][] = [
        ['m001', 2 ** 62 + 1024],
        ['m002', -(2 ** 62)],
        ['m010', 'A'],
        ['m011', null],
        ['m020', 1e308],
        ['m030', 5e-324],
      ];
      for (const [id, points] of moves) {
        await repository.update(id, { points });
        documents.set(id, { ...(documents.get(id) as LooseDocument), points });
      }
      await repository.update('m003', { $unset: ['points'] });
      const { points: _dropped, ...without } = documents.get('m003') as LooseDocument;
      documents.set('m003', without);
      await repository.replace({ id: 'm004', points: 2 ** 53 + 2 });
      documents.set('m004', { id: 'm004', points: 2 ** 53 + 2 });
      for (const id of ['m005', 'm040']) {
        await repository.delete(id);
        documents.delete(id);
      }
      const current = [...documents.values()];
      await expectReferencePages(repository, current, topQueries('points'));
      for (const operand of [0, 7, 2 ** 53, 'a', DATES[1] as Date]) {
        const where = { points: { $gt: operand } } as Filter;
        expect(await repository.count(where)).toBe(referenceCount(current, where));
      }
      await context.backend.transaction(async (tx) => {
        const inside = tx.repository<LooseDocument>(repository.name, {
          indexes: [{ field: 'points', type: 'number' }],
        });
        await inside.update('m006', { points: Number.MAX_VALUE });
        await inside.delete('m007');
        const pending = current
          .filter((document) => document.id !== 'm007')
          .map((document) => (document.id === 'm006' ? { ...document, points: Number.MAX_VALUE } : document));
        await expectReferencePages(inside, pending, [{ orderBy: { field: 'points', direction: 'desc' }, limit: 3 }]);
        expect(await inside.count({ points: { $gt: 1e308 } })).toBe(
          referenceCount(pending, { points: { $gt: 1e308 } }),
        );
      });
    },
  },
  {
    name: 'a compound index serves an equality prefix plus a range or a sort, with the reference results (look-alike strings, mixed types, null and missing parts)',
    async run(context) {
      const repository = context.repository<LooseDocument>({ indexes: [COMPOUND] });
      const documents = compoundDocuments();
      await repository.insertMany(documents);
      const queries: Query[] = [];
      for (const session of ['s', 'S', 's ', 'ś', 1, null]) {
        for (const direction of ['asc', 'desc'] as const) {
          queries.push({ where: { session }, orderBy: { field: 'at', direction }, limit: 5 });
          queries.push({ where: { session }, orderBy: { field: 'at', direction } });
          queries.push({ where: { session, at: { $gte: DATES[1] as Date } }, orderBy: { field: 'at', direction } });
          queries.push({ where: { session, at: { $gt: 2 ** 53 } }, orderBy: { field: 'at', direction }, limit: 2 });
          queries.push({ where: { session, at: { $lt: 'y' } }, orderBy: { field: 'at', direction }, limit: 3 });
          queries.push({ where: { session, size: 1 }, orderBy: { field: 'at', direction }, limit: 2 });
        }
        queries.push({ where: { session, at: { $gt: 0, $lte: 2 ** 53 + 2 } } });
        queries.push({ where: { session, at: DATES[0] as Date } });
      }
      queries.push({ orderBy: [{ field: 'session' }, { field: 'at' }], limit: 12 });
      queries.push({
        orderBy: [
          { field: 'session', direction: 'desc' },
          { field: 'at', direction: 'desc' },
        ],
        limit: 12,
      });
      queries.push({ orderBy: [{ field: 'session' }, { field: 'at', direction: 'desc' }], limit: 12 });
      queries.push({ where: { at: { $gte: DATES[0] as Date } }, orderBy: 'at', limit: 4 });
      await expectReferencePages(repository, documents, queries);
      for (const where of [
        { session: 's', at: { $gt: 0 } },
        { session: 's ', at: { $gte: DATES[0] as Date } },
        { session: null },
      ] as Filter[]) {
        expect(await repository.count(where), JSON.stringify(where)).toBe(referenceCount(documents, where));
      }
    },
  },
  {
    name: 'a unique compound index refuses a second document with the same tuple (ALREADY_EXISTS naming the fields joined by +), type-strict and exact, and writes nothing',
    requires: uniqueIndexes,
    async run(context) {
      const repository = context.repository<LooseDocument>({
        indexes: [
          {
            fields: [
              { field: 'player', type: 'string' },
              { field: 'round', type: 'number' },
            ],
            unique: true,
          },
        ],
      });
      await repository.insert({ id: 'a', player: 'ada', round: 0 });
      await expectBerthError(repository.insert({ id: 'b', player: 'ada', round: -0 }), 'ALREADY_EXISTS', {
        field: 'player+round',
      });
      await repository.insert({ id: 'c', player: 'ada', round: 2 ** 53 });
      await expectBerthError(repository.insert({ id: 'd', player: 'ada', round: 2 ** 53 }), 'ALREADY_EXISTS', {
        field: 'player+round',
      });
      // Tuples that differ in one part, however slightly, are distinct.
      const distinct: LooseDocument[] = [
        { id: 'e', player: 'ada', round: 2 ** 53 + 2 },
        { id: 'f', player: 'ada', round: 5e-324 },
        { id: 'g', player: 'Ada', round: 0 },
        { id: 'h', player: 'ada ', round: 0 },
        { id: 'i', player: 'adá', round: 0 },
        { id: 'j', player: 'ada', round: '0' },
        { id: 'k', player: 'ada', round: 1.0000000000000004e-300 },
        { id: 'l', player: 'ada', round: 1.0000000000000005e-300 },
      ];
      await repository.insertMany(distinct);
      await expectBerthError(repository.update('e', { round: 0 }), 'ALREADY_EXISTS', { field: 'player+round' });
      await expectBerthError(repository.upsert({ id: 'z', player: 'ada', round: 5e-324 }), 'ALREADY_EXISTS', {
        field: 'player+round',
      });
      expect(await repository.count()).toBe(2 + distinct.length);
      expect(await repository.get('z')).toBeNull();
      expect(await repository.get('e')).toEqual({ id: 'e', player: 'ada', round: 2 ** 53 + 2 });
    },
  },
  {
    name: 'a unique compound index does not check documents whose indexed parts are not all present, non-null scalars (null, missing, arrays, objects)',
    requires: uniqueIndexes,
    async run(context) {
      const repository = context.repository<LooseDocument>({
        indexes: [
          {
            fields: [
              { field: 'player', type: 'string' },
              { field: 'round', type: 'number' },
            ],
            unique: true,
          },
        ],
      });
      const unchecked: LooseDocument[] = [
        { id: 'n1', player: 'ada', round: null },
        { id: 'n2', player: 'ada', round: null },
        { id: 'm1', player: 'ada' },
        { id: 'm2', player: 'ada' },
        { id: 'x1', round: 1 },
        { id: 'x2', round: 1 },
        { id: 'a1', player: 'ada', round: [1] },
        { id: 'a2', player: 'ada', round: [1] },
        { id: 'o1', player: { n: 1 }, round: 1 },
        { id: 'o2', player: { n: 1 }, round: 1 },
      ];
      await repository.insertMany(unchecked);
      expect(await repository.count()).toBe(unchecked.length);
      await repository.insert({ id: 'full', player: 'ada', round: 1 });
      await expectBerthError(repository.update('n1', { round: 1 }), 'ALREADY_EXISTS', { field: 'player+round' });
    },
  },
  {
    name: 'declaring a unique compound index over documents that already share a tuple is ALREADY_EXISTS',
    requires: uniqueIndexes,
    async run(context) {
      const name = context.collectionName('dup');
      await context.backend.repository<LooseDocument>(name).insertMany([
        { id: 'a', player: 'ada', round: 1 },
        { id: 'b', player: 'ada', round: 1 },
      ]);
      const declared = context.backend.repository<LooseDocument>(name, {
        indexes: [
          {
            fields: [
              { field: 'player', type: 'string' },
              { field: 'round', type: 'number' },
            ],
            unique: true,
          },
        ],
      });
      await expectBerthError(declared.count(), 'ALREADY_EXISTS');
    },
  },
  {
    name: 'invalid compound index definitions are VALIDATION errors before anything is written',
    async run(context) {
      const invalid: unknown[] = [
        { fields: [] },
        { fields: [{ field: 'a', type: 'string' }] },
        {
          fields: [
            { field: 'a', type: 'string' },
            { field: 'a', type: 'number' },
          ],
        },
        {
          fields: [
            { field: 'a', type: 'string' },
            { field: 'b', type: 'text' },
          ],
        },
        {
          fields: [
            { field: 'a', type: 'string' },
            { field: 'b.__proto__', type: 'string' },
          ],
        },
        {
          fields: [
            { field: 'a', type: 'string' },
            { field: 'b', type: 'string' },
          ],
          name: 'not a name',
        },
        { field: 'a', type: 'string', fields: [{ field: 'b', type: 'string' }] },
        { fields: Array.from({ length: 9 }, (_, n) => ({ field: `f${n}`, type: 'number' })) },
      ];
      for (const definition of invalid) {
        await expectRepositoryRefused(context.backend, context.collectionName('bad'), 'VALIDATION', {
          indexes: [definition as IndexDefinition],
        });
      }
      const twice: IndexDefinition = {
        fields: [
          { field: 'a', type: 'string' },
          { field: 'b', type: 'number' },
        ],
      };
      await expectRepositoryRefused(context.backend, context.collectionName('bad'), 'VALIDATION', {
        indexes: [twice, { ...twice, name: 'again' }],
      });
    },
  },
]);
