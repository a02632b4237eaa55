import type { Document, Repository } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceContext, type ConformanceGroup, defineGroup } from '../harness.js';
import { expectBerthError, expectUnchanged, invalid, type LooseDocument, snapshot } from './assertions.js';

interface Hero extends Document {
  name: string;
  title?: string | null;
  stats: { level: number; hp: number; tags?: string[] };
  n?: number;
}

const ADA: Hero = { id: 'ada', name: 'Ada', title: 'Countess', stats: { level: 1, hp: 10 } };

async function withAda(context: ConformanceContext): Promise<Repository<Hero>> {
  const repository = context.repository<Hero>();
  await repository.insert(ADA);
  return repository;
}

/**
 * `update` with a patch and with operators: what each changes, what it keeps, and the version and `updatedAt`
 * it leaves.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, registerGroup, updateGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(updateGroup, options);
 * ```
 */
export const updateGroup: ConformanceGroup = defineGroup('update', [
  {
    name: 'a top-level patch key replaces the whole field and leaves other fields alone',
    async run(context) {
      const repository = await withAda(context);
      const updated = await repository.update('ada', { stats: { level: 2, hp: 20 }, name: 'Ada L.' });
      const expected = { id: 'ada', name: 'Ada L.', title: 'Countess', stats: { level: 2, hp: 20 } };
      expect(updated).toStrictEqual(expected);
      expect(await repository.get('ada')).toStrictEqual(expected);
      await repository.update('ada', invalid({ stats: { level: 3 } }));
      expect((await repository.get('ada'))?.stats).toStrictEqual({ level: 3 });
    },
  },
  {
    name: 'a dotted patch key sets a nested field and keeps its siblings',
    async run(context) {
      const repository = await withAda(context);
      expect(await repository.update('ada', { 'stats.level': 5 })).toStrictEqual({
        ...ADA,
        stats: { level: 5, hp: 10 },
      });
      expect(await repository.get('ada')).toStrictEqual({ ...ADA, stats: { level: 5, hp: 10 } });
    },
  },
  {
    name: 'a dotted patch key creates missing intermediate objects',
    async run(context) {
      const repository = await withAda(context);
      // @ts-expect-error paths outside Hero: the typed API refuses them; the engine creates them when sent anyway
      await repository.update('ada', { 'profile.address.city': 'London', 'stats.skills.math': 9 });
      expect(await repository.get('ada')).toStrictEqual({
        ...ADA,
        stats: { level: 1, hp: 10, skills: { math: 9 } },
        profile: { address: { city: 'London' } },
      });
    },
  },
  {
    name: 'a dotted patch key that walks through a string, number or array is VALIDATION and writes nothing',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'a', name: 'Ada', count: 3, tags: ['x'], nested: { label: 'l' } });
      const before = await snapshot(repository);
      await expectBerthError(repository.update('a', { 'name.first': 'A' }), 'VALIDATION');
      await expectBerthError(repository.update('a', { 'count.value': 1 }), 'VALIDATION');
      await expectBerthError(repository.update('a', { 'tags.0': 'y' }), 'VALIDATION');
      await expectBerthError(repository.update('a', { 'nested.label.deeper': 1 }), 'VALIDATION');
      await expectBerthError(repository.update('a', { $set: { 'name.first': 'A' } }), 'VALIDATION');
      await expectBerthError(repository.update('a', { $inc: { 'tags.0': 1 } }), 'VALIDATION');
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'patch values that are undefined are ignored, while null is stored',
    async run(context) {
      const repository = await withAda(context);
      await repository.update('ada', { name: undefined, title: null, 'stats.level': undefined, 'stats.hp': 11 });
      expect(await repository.get('ada')).toStrictEqual({ ...ADA, title: null, stats: { level: 1, hp: 11 } });
    },
  },
  {
    name: '$set sets top-level and nested paths, creating intermediates, and stores Dates as Dates',
    async run(context) {
      const repository = await withAda(context);
      const seen = new Date('2024-05-06T07:08:09.010Z');
      const updated = await repository.update('ada', {
        // @ts-expect-error 'log.last.seen' is outside Hero: the typed API refuses it; the engine creates it when sent anyway
        $set: { name: 'Lovelace', 'stats.level': 7, 'log.last.seen': seen, 'stats.tags': ['a'] },
      });
      const expected = {
        ...ADA,
        name: 'Lovelace',
        stats: { level: 7, hp: 10, tags: ['a'] },
        log: { last: { seen } },
      };
      expect(updated).toStrictEqual(expected);
      const stored = await repository.get('ada');
      expect(stored).toStrictEqual(expected);
      expect((stored as unknown as { log: { last: { seen: unknown } } }).log.last.seen).toBeInstanceOf(Date);
    },
  },
  {
    name: '$unset removes top-level and nested fields, and removing a missing path is a no-op',
    async run(context) {
      const repository = await withAda(context);
      // @ts-expect-error paths outside Hero: the typed API refuses them; removing them when sent anyway is a no-op
      await repository.update('ada', { $unset: ['title', 'stats.hp', 'nothing', 'stats.nothing.deeper'] });
      const stored = await repository.get('ada');
      expect(stored).toStrictEqual({ id: 'ada', name: 'Ada', stats: { level: 1 } });
      expect(Object.keys(stored ?? {})).not.toContain('title');
    },
  },
  {
    name: '$inc adds positive, negative and fractional amounts, at top level and nested',
    async run(context) {
      const repository = await withAda(context);
      await repository.update('ada', { $inc: { 'stats.level': 4, 'stats.hp': -2.5 } });
      await repository.update('ada', { $inc: { 'stats.level': -1 } });
      expect((await repository.get('ada'))?.stats).toStrictEqual({ level: 4, hp: 7.5 });
      await repository.update('ada', { $set: { n: 0.1 } });
      expect((await repository.update('ada', { $inc: { n: 0.2 } })).n).toBe(0.1 + 0.2);
    },
  },
  {
    name: '$inc on a missing field starts from 0, creating intermediates',
    async run(context) {
      const repository = await withAda(context);
      // @ts-expect-error a path outside Hero: the typed API refuses it; the engine creates it when sent anyway
      const updated = await repository.update('ada', { $inc: { n: 3, 'counters.daily.visits': -2 } });
      expect(updated).toStrictEqual({ ...ADA, n: 3, counters: { daily: { visits: -2 } } });
      expect(await repository.get('ada')).toStrictEqual(updated);
    },
  },
  {
    name: '$inc on a string, boolean, object or array field is VALIDATION and writes nothing',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'a', text: '1', flag: true, object: { n: 1 }, list: [1], n: 1 });
      const before = await snapshot(repository);
      for (const field of ['text', 'flag', 'object', 'list']) {
        // The error names the field, however the engine evaluates the update.
        await expectBerthError(repository.update('a', { $inc: { [field]: 1 } }), 'VALIDATION', { path: field });
        // The valid half of the update must not be applied either.
        await expectBerthError(repository.update('a', { $inc: { n: 1, [field]: 1 } }), 'VALIDATION', { path: field });
      }
      await expectUnchanged(repository, before);
    },
  },
  {
    name: '$inc by something other than a finite number is VALIDATION, and so is a result that overflows',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'a', n: 1, big: Number.MAX_VALUE });
      const before = await snapshot(repository);
      await expectBerthError(repository.update('a', { $inc: invalid({ n: '1' }) }), 'VALIDATION');
      await expectBerthError(repository.update('a', { $inc: { n: Number.NaN } }), 'VALIDATION');
      await expectBerthError(repository.update('a', { $inc: { n: Number.POSITIVE_INFINITY } }), 'VALIDATION');
      await expectBerthError(repository.update('a', { $inc: invalid({ n: null }) }), 'VALIDATION');
      await expectBerthError(repository.update('a', { $inc: { big: Number.MAX_VALUE } }), 'VALIDATION');
      await expectUnchanged(repository, before);
    },
  },
  {
    name: '$set, $unset and $inc combine in one update',
    async run(context) {
      const repository = await withAda(context);
      const updated = await repository.update('ada', {
        $set: { name: 'Countess Ada' },
        $unset: ['title'],
        $inc: { 'stats.level': 1 },
      });
      expect(updated).toStrictEqual({ id: 'ada', name: 'Countess Ada', stats: { level: 2, hp: 10 } });
      expect(await repository.get('ada')).toStrictEqual(updated);
    },
  },
  {
    name: 'mixing update operators with plain fields is VALIDATION and writes nothing',
    async run(context) {
      const repository = await withAda(context);
      const before = await snapshot(repository);
      await expectBerthError(repository.update('ada', invalid({ $set: { name: 'x' }, title: 'y' })), 'VALIDATION');
      await expectBerthError(repository.update('ada', invalid({ 'stats.level': 3, $inc: { n: 1 } })), 'VALIDATION');
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'an unknown update operator is VALIDATION and writes nothing',
    async run(context) {
      const repository = await withAda(context);
      const before = await snapshot(repository);
      await expectBerthError(repository.update('ada', invalid({ $push: { tags: 'x' } })), 'VALIDATION');
      await expectBerthError(repository.update('ada', invalid({ $rename: { name: 'label' } })), 'VALIDATION');
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'changing or removing id through a patch or an operator is VALIDATION and writes nothing',
    async run(context) {
      const repository = await withAda(context);
      const before = await snapshot(repository);
      await expectBerthError(repository.update('ada', { id: 'other' }), 'VALIDATION');
      await expectBerthError(repository.update('ada', { $set: { id: 'other' } }), 'VALIDATION');
      await expectBerthError(repository.update('ada', { $unset: ['id'] }), 'VALIDATION');
      // @ts-expect-error id is a string: the typed API refuses $inc on it, and the engine too when it is sent anyway
      await expectBerthError(repository.update('ada', { $inc: { id: 1 } }), 'VALIDATION');
      await expectUnchanged(repository, before);
      expect(await repository.get('other')).toBeNull();
    },
  },
  {
    name: 'the same path under two operators is VALIDATION and writes nothing',
    async run(context) {
      const repository = await withAda(context);
      const before = await snapshot(repository);
      await expectBerthError(repository.update('ada', { $set: { n: 1 }, $inc: { n: 1 } }), 'VALIDATION');
      await expectBerthError(repository.update('ada', { $set: { title: 'x' }, $unset: ['title'] }), 'VALIDATION');
      await expectBerthError(
        repository.update('ada', { $inc: { 'stats.level': 1 }, $unset: ['stats.level'] }),
        'VALIDATION',
      );
      await expectUnchanged(repository, before);
    },
  },
  {
    name: '20 parallel $inc updates by 1 leave the counter at exactly 20 and the version at 21',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'counter', n: 0 });
      await Promise.all(Array.from({ length: 20 }, () => repository.update('counter', { $inc: { n: 1 } })));
      expect(await repository.get('counter')).toStrictEqual({ id: 'counter', n: 20 });
      expect((await repository.getEntry('counter'))?.meta.version).toBe(21);
    },
  },
  {
    name: 'updateMany checks the update before looking for matches: an invalid one is VALIDATION even when nothing matches',
    async run(context) {
      const repository = await withAda(context);
      const before = await snapshot(repository);
      const invalidUpdates: unknown[] = [
        { $push: { tags: 'x' } },
        { $inc: { n: 'one' } },
        { $set: { n: 1 }, name: 'mixed' },
        { $set: { n: 1 }, $inc: { n: 1 } },
        { 'bad..path': 1 },
        { $set: { id: 'ada' } },
        { $unset: ['id'] },
        42,
      ];
      for (const update of invalidUpdates) {
        for (const where of [{ name: 'nobody' }, { id: 'ghost' }]) {
          await expectBerthError(repository.updateMany(where, invalid(update)), 'VALIDATION');
        }
      }
      const empty = context.repository<Hero>();
      await expectBerthError(empty.updateMany({}, invalid({ $inc: { n: 'one' } })), 'VALIDATION');
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'an invalid updateMany matching nothing inside a transaction fails it and rolls back its other writes',
    requires: (capabilities) => capabilities.repository.transactions !== 'none',
    async run(context) {
      const name = context.collectionName();
      await expectBerthError(
        context.backend.transaction(async (tx) => {
          const heroes = tx.repository<Hero>(name);
          await heroes.insert(ADA);
          await heroes.updateMany({ name: 'nobody' }, invalid({ $inc: { 'stats.level': 'up' } }));
        }),
        'VALIDATION',
      );
      expect(await context.backend.repository<Hero>(name).count()).toBe(0);
    },
  },
  {
    name: 'update of a missing document is NOT_FOUND for patches and operators alike, and creates nothing',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await expectBerthError(repository.update('ghost', { n: 1 }), 'NOT_FOUND');
      await expectBerthError(repository.update('ghost', { $inc: { n: 1 } }), 'NOT_FOUND');
      await expectBerthError(repository.update('ghost', { $set: { n: 1 } }, { expectedVersion: 1 }), 'NOT_FOUND');
      expect(await repository.count()).toBe(0);
    },
  },
]);
