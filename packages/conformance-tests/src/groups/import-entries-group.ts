import type { Capabilities, DocumentMeta, Entry, Repository } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import { expectBerthError, invalid, type LooseDocument, present } from './assertions.js';

const at = (iso: string): Date => new Date(iso);

/** Metadata no write of this run could produce: old times, a version past 1. */
const OLD: DocumentMeta = {
  version: 7,
  createdAt: at('1999-03-04T05:06:07.891Z'),
  updatedAt: at('2001-09-10T11:12:13.457Z'),
};

function entry(document: LooseDocument, meta: DocumentMeta = OLD): Entry<LooseDocument> {
  return { document, meta };
}

/** `getEntry` gives back exactly `expected`: the document and its imported metadata. */
async function expectEntry(repository: Repository<LooseDocument>, expected: Entry<LooseDocument>): Promise<void> {
  const stored = present(await repository.getEntry(expected.document.id), `entry ${expected.document.id}`);
  expect(stored).toStrictEqual(expected);
}

const transactional = (capabilities: Capabilities): boolean => capabilities.repository.transactions !== 'none';
const unique = (capabilities: Capabilities): boolean => capabilities.repository.uniqueIndexes;

/** How many entries one call must take at least: as many as the insertMany cases write. */
const LARGE_BATCH = 1_000;

/**
 * `repository.importEntries()`: entries stored exactly as given (version and
 * both times, no bump, no clock), replacing what their ids held, checked
 * like writes plus their metadata, all or none.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, importEntriesGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(importEntriesGroup, options);
 * ```
 */
export const importEntriesGroup: ConformanceGroup = defineGroup('import-entries', [
  {
    name: 'keeps version and both times exactly, to the millisecond, in the far past and future',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const far: DocumentMeta = {
        version: Number.MAX_SAFE_INTEGER,
        createdAt: at('0001-01-01T00:00:00.001Z'),
        updatedAt: at('9999-12-31T23:59:59.998Z'),
      };
      const entries = [entry({ id: 'a', title: 'old' }), entry({ id: 'b', title: 'far' }, far)];
      expect(await repository.importEntries(entries)).toBe(2);
      for (const expected of entries) await expectEntry(repository, expected);
      expect(await repository.findEntries({ orderBy: 'id' })).toStrictEqual(entries);
      expect(await repository.get('a')).toStrictEqual({ id: 'a', title: 'old' });
      expect(await repository.importEntries([])).toBe(0);
      expect(await repository.count()).toBe(2);
    },
  },
  {
    name: 'replaces an existing document whatever its version; a later write bumps from the imported version',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'a', n: 1 });
      await repository.update('a', { $set: { n: 2 } });
      await repository.importEntries([entry({ id: 'a', n: 50 }, { ...OLD, version: 50 })]);
      await expectEntry(repository, entry({ id: 'a', n: 50 }, { ...OLD, version: 50 }));
      const before = Date.now();
      const updated = await repository.update('a', { $inc: { n: 1 } }, { returnEntry: true, expectedVersion: 50 });
      expect(updated.meta.version).toBe(51);
      expect(updated.meta.createdAt).toStrictEqual(OLD.createdAt);
      expect(updated.meta.updatedAt.getTime()).toBeGreaterThanOrEqual(before - 2_000);
      // A lower version replaces a higher one too: an import is a restore, not a write.
      await repository.importEntries([entry({ id: 'a', n: 3 }, { ...OLD, version: 3 })]);
      await expectEntry(repository, entry({ id: 'a', n: 3 }, { ...OLD, version: 3 }));
      const replaced = await repository.replace({ id: 'a', n: 4 }, { returnEntry: true });
      expect(replaced.meta.version).toBe(4);
      await expectBerthError(repository.update('a', { $set: { n: 5 } }, { expectedVersion: 3 }), 'CONFLICT');
    },
  },
  {
    name: 'metadata filters and sorts ($createdAt, $updatedAt), indexed or not, see the imported times',
    async run(context) {
      for (const indexes of [[], [{ field: '$updatedAt', type: 'date' } as const]]) {
        const repository = context.repository<LooseDocument>({ indexes });
        const times = [
          { id: 'c', created: '2003-01-01T00:00:00.000Z', updated: '2004-01-01T00:00:00.002Z' },
          { id: 'a', created: '1990-01-01T00:00:00.000Z', updated: '2004-01-01T00:00:00.001Z' },
          { id: 'b', created: '2000-01-01T00:00:00.000Z', updated: '2010-01-01T00:00:00.000Z' },
        ];
        await repository.insert({ id: 'now' });
        await repository.importEntries(
          times.map(({ id, created, updated }) =>
            entry({ id }, { version: 2, createdAt: at(created), updatedAt: at(updated) }),
          ),
        );
        const byUpdated = await repository.find({ where: { id: { $ne: 'now' } }, orderBy: '$updatedAt' });
        expect(byUpdated.map((document) => document.id)).toStrictEqual(['a', 'c', 'b']);
        const byCreated = await repository.find({ orderBy: { field: '$createdAt', direction: 'desc' } });
        expect(byCreated.map((document) => document.id)).toStrictEqual(['now', 'c', 'b', 'a']);
        const old = await repository.find({
          where: { $updatedAt: { $lt: at('2005-01-01T00:00:00.000Z') } },
          orderBy: 'id',
        });
        expect(old.map((document) => document.id)).toStrictEqual(['a', 'c']);
        expect(
          await repository.count({ $createdAt: { $gte: at('2000-01-01T00:00:00.000Z'), $lt: at('2020-01-01') } }),
        ).toBe(2);
      }
    },
  },
  {
    name: 'a unique index clash is ALREADY_EXISTS and imports nothing, within the batch or with a stored value',
    requires: unique,
    async run(context) {
      const repository = context.repository<LooseDocument>({
        indexes: [{ field: 'email', type: 'string', unique: true }],
      });
      await repository.insert({ id: 'x', email: 'taken' });
      await expectBerthError(
        repository.importEntries([entry({ id: 'a', email: 'free' }), entry({ id: 'b', email: 'taken' })]),
        'ALREADY_EXISTS',
      );
      await expectBerthError(
        repository.importEntries([entry({ id: 'a', email: 'same' }), entry({ id: 'b', email: 'same' })]),
        'ALREADY_EXISTS',
      );
      expect(await repository.find()).toStrictEqual([{ id: 'x', email: 'taken' }]);
      // Replacing the holder of a value with itself is no clash.
      expect(await repository.importEntries([entry({ id: 'x', email: 'taken', again: true })])).toBe(1);
      await expectEntry(repository, entry({ id: 'x', email: 'taken', again: true }));
    },
  },
  {
    name: 'invalid metadata is VALIDATION naming its path, and imports nothing',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const good = entry({ id: 'good' });
      const bad: [unknown, string][] = [
        [{ ...OLD, version: 0 }, '1.meta.version'],
        [{ ...OLD, version: -3 }, '1.meta.version'],
        [{ ...OLD, version: 1.5 }, '1.meta.version'],
        [{ ...OLD, version: 2 ** 53 }, '1.meta.version'],
        [{ ...OLD, version: '7' }, '1.meta.version'],
        [{ ...OLD, version: Number.NaN }, '1.meta.version'],
        [{ ...OLD, createdAt: new Date(Number.NaN) }, '1.meta.createdAt'],
        [{ ...OLD, createdAt: '1999-03-04T05:06:07.891Z' }, '1.meta.createdAt'],
        [{ ...OLD, updatedAt: new Date(Number.NaN) }, '1.meta.updatedAt'],
        [{ ...OLD, updatedAt: 981_000_000_000 }, '1.meta.updatedAt'],
        [{ ...OLD, updatedAt: at('1998-01-01T00:00:00.000Z') }, '1.meta.updatedAt'],
        [undefined, '1.meta'],
        [null, '1.meta'],
      ];
      for (const [meta, path] of bad) {
        await expectBerthError(
          repository.importEntries([good, invalid<Entry<LooseDocument>>({ document: { id: 'bad' }, meta })]),
          'VALIDATION',
          { path },
        );
      }
      await expectBerthError(repository.importEntries(invalid([good, { document: { id: 'bad' } }])), 'VALIDATION', {
        path: '1.meta',
      });
      await expectBerthError(repository.importEntries(invalid(good)), 'VALIDATION');
      await expectBerthError(repository.importEntries(invalid([good, null])), 'VALIDATION', { path: '1' });
      expect(await repository.count()).toBe(0);
    },
  },
  {
    name: 'documents are checked like writes, and an id given twice is VALIDATION; nothing is imported',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const good = entry({ id: 'good' });
      await expectBerthError(
        repository.importEntries([good, entry({ id: 'twice', n: 1 }), entry({ id: 'twice', n: 2 })]),
        'VALIDATION',
        { path: '2.document.id' },
      );
      await expectBerthError(repository.importEntries([good, entry({ id: 'bad', $set: 1 })]), 'VALIDATION', {
        path: '1.document.$set',
      });
      await expectBerthError(repository.importEntries([good, entry({ id: 'nul', text: 'a\u0000b' })]), 'VALIDATION', {
        path: '1.document.text',
      });
      await expectBerthError(repository.importEntries([good, entry(invalid({ name: 'no id' }))]), 'VALIDATION');
      await expectBerthError(repository.importEntries([good, entry({ id: '' })]), 'VALIDATION');
      expect(await repository.count()).toBe(0);
    },
  },
  {
    name: 'adversarial ids and values round-trip exactly (astral, __proto__, -0, 5e-324, 1e308, past 2^53)',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const ids = [
        '𝒳 astral',
        '__proto__',
        'constructor',
        ' padded ',
        'Case',
        'case',
        'café',
        'cafe\u0301',
        '🚀'.repeat(128),
      ];
      const values = {
        tiny: 5e-324,
        huge: 1e308,
        past: 2 ** 53 + 2,
        negative: -(2 ** 60),
        text: 'trailing  ',
        astral: '𝒳🚀',
        nested: { list: [[[{ deep: new Date('1815-12-10T00:00:00.000Z') }]]] },
      };
      const entries = ids.map((id, index) => entry({ id, index, ...values }, { ...OLD, version: index + 1 }));
      expect(await repository.importEntries(entries)).toBe(ids.length);
      for (const expected of entries) await expectEntry(repository, expected);
      await repository.importEntries([entry({ id: 'zero', value: -0, list: [-0] })]);
      const zero = present(await repository.get('zero'));
      expect(Object.is(zero.value, 0)).toBe(true);
      expect(Object.is((zero.list as number[])[0], 0)).toBe(true);
    },
  },
  {
    name: 'inside a transaction it commits with it, and a transaction that throws keeps nothing',
    requires: transactional,
    async run(context) {
      const name = context.collectionName('tx');
      const repository = context.backend.repository<LooseDocument>(name);
      await repository.insert({ id: 'kept', n: 1 });
      const stop = new Error('roll back');
      await expect(
        context.backend.transaction(async (tx) => {
          await tx.repository<LooseDocument>(name).importEntries([entry({ id: 'kept', n: 99 }), entry({ id: 'new' })]);
          throw stop;
        }),
      ).rejects.toBe(stop);
      expect(await repository.find()).toStrictEqual([{ id: 'kept', n: 1 }]);
      expect((await repository.getEntry('kept'))?.meta.version).toBe(1);
      await context.backend.transaction(async (tx) => {
        await tx.repository<LooseDocument>(name).importEntries([entry({ id: 'new', n: 2 })]);
      });
      await expectEntry(repository, entry({ id: 'new', n: 2 }));
    },
  },
  {
    name: `takes a large batch (${LARGE_BATCH} entries) in one call`,
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const entries = Array.from({ length: LARGE_BATCH }, (_, index) =>
        entry({ id: `e${String(index).padStart(4, '0')}`, index }, { ...OLD, version: index + 1 }),
      );
      expect(await repository.importEntries(entries)).toBe(LARGE_BATCH);
      expect(await repository.count()).toBe(LARGE_BATCH);
      await expectEntry(repository, present(entries[LARGE_BATCH - 1]));
      await expectEntry(repository, present(entries[0]));
    },
  },
  {
    name: 'checks its options: a bad signal is VALIDATION, an aborted one ABORTED, and nothing is imported',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await expectBerthError(repository.importEntries([entry({ id: 'a' })], invalid({ signal: 1 })), 'VALIDATION');
      await expectBerthError(
        repository.importEntries([entry({ id: 'a' })], { signal: AbortSignal.abort() }),
        'ABORTED',
      );
      expect(await repository.count()).toBe(0);
    },
  },
]);
