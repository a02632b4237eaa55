import type { Capabilities, CollectionInfo, IndexDefinition, RepositoryBackend } from '@berth/core';
import { isBerthError } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceContext, type ConformanceGroup, defineGroup } from '../harness.js';
import { compareCodePoints, expectBerthError, invalid, type LooseDocument, present } from './assertions.js';

const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/** Every listing is sorted by code point and well formed, whatever else the storage holds. */
function expectWellFormed(listed: readonly CollectionInfo[]): void {
  const names = listed.map((info) => info.name);
  expect(names, 'collections() is sorted by name, by code point').toStrictEqual([...names].sort(compareCodePoints));
  expect(new Set(names).size, 'collections() lists each collection once').toBe(names.length);
  for (const info of listed) {
    expect(info.name, 'a listed name is a collection name (no internal table)').toMatch(COLLECTION_NAME);
    expect(Array.isArray(info.indexes), `indexes of ${info.name}`).toBe(true);
    if (info.approximateBytes !== undefined) {
      expect(
        Number.isFinite(info.approximateBytes) && info.approximateBytes >= 0,
        `approximateBytes of ${info.name}`,
      ).toBe(true);
    }
  }
}

/** An engine that builds indexes (a folder of files that every query scans keeps none to list). */
const keepsIndexes = (capabilities: Capabilities): boolean =>
  capabilities.repository.uniqueIndexes && capabilities.repository.indexedQueries !== false;

/** The listing, checked, restricted to `names` (a shared server holds other tests' collections too). */
async function listedAmong(backend: RepositoryBackend, names: readonly string[]): Promise<CollectionInfo[]> {
  const listed = await backend.collections();
  expectWellFormed(listed);
  return listed.filter((info) => names.includes(info.name));
}

async function infoOf(backend: RepositoryBackend, name: string): Promise<CollectionInfo> {
  const [info] = await listedAmong(backend, [name]);
  return present(info, `collection ${name} in collections()`);
}

/** Index definitions in a stable order, for comparing listings with declarations whatever order the engine keeps. */
function sortedDefinitions(indexes: readonly IndexDefinition[]): string[] {
  return indexes.map((index) => JSON.stringify(index, Object.keys(index).sort())).sort();
}

/** A name made with `prefix` and handed to cleanup. */
function named(context: ConformanceContext, prefix: string): string {
  return context.reportCollection(context.collectionName(prefix));
}

/**
 * `backend.collections()`: the collections that hold documents, from any
 * backend on the storage, sorted by code point, with their indexes as
 * declared and a sane size estimate; never Berth's internal tables.
 *
 * ### Examples
 * ```ts
 * import { collectionsGroup, type ConformanceOptions, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(collectionsGroup, options);
 * ```
 */
export const collectionsGroup: ConformanceGroup = defineGroup('collections', [
  {
    name: 'lists written collections sorted by code point, each once, well formed',
    async run(context) {
      const names = [named(context, 'zeta'), named(context, 'alpha'), named(context, 'Mid'), named(context, 'beta')];
      for (const [index, name] of names.entries()) {
        await context.backend.repository<LooseDocument>(name).insert({ id: `d${index}`, n: index });
      }
      const listed = await listedAmong(context.backend, names);
      expect(listed.map((info) => info.name)).toStrictEqual([...names].sort(compareCodePoints));
      for (const info of listed) expect(info.indexes, `${info.name} declares no index`).toStrictEqual([]);
    },
  },
  {
    name: 'lists a written collection with its documents, and only collection names (no internal table)',
    async run(context) {
      const name = named(context, 'open');
      await context.backend.repository<LooseDocument>(name).insertMany([{ id: 'a' }, { id: 'b' }]);
      const listed = await context.backend.collections();
      expectWellFormed(listed);
      expect(listed.map((info) => info.name)).toContain(name);
      expect(await context.backend.repository(name).count()).toBe(2);
    },
  },
  {
    name: 'lists indexes as declared: single, unique, compound, named, on $createdAt; unique only when true',
    requires: keepsIndexes,
    async run(context) {
      const name = named(context, 'indexed');
      const declared: IndexDefinition[] = [
        { field: 'email', type: 'string', unique: true },
        { field: 'age', type: 'number' },
        { field: 'profile.born', type: 'date' },
        {
          fields: [
            { field: 'team', type: 'string' },
            { field: 'age', type: 'number' },
          ],
        },
        {
          fields: [
            { field: 'team', type: 'string' },
            { field: 'email', type: 'string' },
          ],
          unique: true,
          name: 'team_email',
        },
        { field: '$createdAt', type: 'date' },
      ];
      const repository = context.backend.repository<LooseDocument>(name, { indexes: declared });
      await repository.insert({ id: 'a', email: 'a@x', age: 3, team: 't', profile: { born: new Date(0) } });
      const info = await infoOf(context.backend, name);
      expect(sortedDefinitions(info.indexes)).toStrictEqual(sortedDefinitions(declared));
      for (const index of info.indexes) expect(index.unique, 'unique is left out unless true').not.toBe(false);
      // A second listing keeps the same order.
      expect((await infoOf(context.backend, name)).indexes).toStrictEqual(info.indexes);
    },
  },
  {
    name: 'lists a collection written through another backend on the same storage',
    async run(context) {
      const mine = named(context, 'mine');
      await context.backend.repository<LooseDocument>(mine).insert({ id: 'a' });
      await context.backend.flush();
      if (context.openSameStorage === undefined) {
        // One backend is all the storage has (memory): what it wrote is listed.
        expect((await infoOf(context.backend, mine)).name).toBe(mine);
        return;
      }
      const second = await context.openSameStorage();
      expect((await infoOf(second, mine)).name, 'the second backend lists what the first wrote').toBe(mine);
      const theirs = named(context, 'theirs');
      await second.repository<LooseDocument>(theirs).insert({ id: 'b' });
      await second.flush();
      // A backend that loads its storage once (the document-backed one) sees the other's writes only on a fresh load.
      const reader =
        context.capabilities.repository.concurrentBackends === false
          ? await context.openSameStorage()
          : context.backend;
      const listed = await listedAmong(reader, [mine, theirs]);
      expect(listed.map((info) => info.name)).toStrictEqual([mine, theirs].sort(compareCodePoints));
    },
  },
  {
    name: 'names differing only in case are two collections, sorted by code point (or the second is refused)',
    async run(context) {
      const base = context.collectionName('case');
      const upper = context.reportCollection(`A${base}`);
      const lower = context.reportCollection(`a${base}`);
      await context.backend.repository<LooseDocument>(upper).insert({ id: 'u', which: 'upper' });
      let refused = false;
      try {
        await context.backend.repository<LooseDocument>(lower).insert({ id: 'l', which: 'lower' });
      } catch (error) {
        // An engine whose names ignore case refuses the clash rather than mixing the two.
        if (!isBerthError(error)) throw error;
        refused = true;
      }
      const listed = await listedAmong(context.backend, [upper, lower]);
      if (refused) {
        expect(listed.map((info) => info.name)).toStrictEqual([upper]);
        expect(await context.backend.repository(upper).find()).toStrictEqual([{ id: 'u', which: 'upper' }]);
        return;
      }
      expect(listed.map((info) => info.name)).toStrictEqual([upper, lower]);
      expect(await context.backend.repository(upper).find()).toStrictEqual([{ id: 'u', which: 'upper' }]);
      expect(await context.backend.repository(lower).find()).toStrictEqual([{ id: 'l', which: 'lower' }]);
    },
  },
  {
    name: 'checks its options: a bad signal is VALIDATION, an aborted one ABORTED',
    async run(context) {
      await expectBerthError(context.backend.collections(invalid({ signal: 'soon' })), 'VALIDATION');
      await expectBerthError(context.backend.collections({ signal: AbortSignal.abort() }), 'ABORTED');
    },
  },
]);
