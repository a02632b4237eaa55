import type { Capabilities, Document, IndexDefinition, Repository } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceContext, type ConformanceGroup, defineGroup } from '../harness.js';
import {
  expectBerthError,
  expectRepositoryRefused,
  expectUnchanged,
  type LooseDocument,
  snapshot,
} from './assertions.js';
import { EXTREME_NUMBERS } from './query-fixtures.js';

interface User extends Document {
  email?: string | null;
  name?: string;
}

const uniqueIndexes = (capabilities: Capabilities): boolean => capabilities.repository.uniqueIndexes;

const EMAIL_INDEX: IndexDefinition<User> = { field: 'email', type: 'string', unique: true };

async function usersWithAda(context: ConformanceContext): Promise<Repository<User>> {
  const repository = context.repository<User>({ indexes: [EMAIL_INDEX] });
  await repository.insert({ id: 'ada', email: 'ada@example.com', name: 'Ada' });
  return repository;
}

/**
 * Unique indexes: a second document with a value another holds is refused with `ALREADY_EXISTS` naming the
 * field, through every kind of write, writing nothing.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, registerGroup, uniqueGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(uniqueGroup, options);
 * ```
 */
export const uniqueGroup: ConformanceGroup = defineGroup('unique', [
  {
    name: 'rejects a second document with the same unique email as ALREADY_EXISTS naming the field',
    requires: uniqueIndexes,
    async run(context) {
      const repository = await usersWithAda(context);
      await expectBerthError(repository.insert({ id: 'bob', email: 'ada@example.com' }), 'ALREADY_EXISTS', {
        field: 'email',
      });
      expect(await repository.get('bob')).toBeNull();
      expect(await repository.count()).toBe(1);
    },
  },
  {
    name: 'rejects an update to a unique value another document holds, writing nothing',
    requires: uniqueIndexes,
    async run(context) {
      const repository = await usersWithAda(context);
      await repository.insert({ id: 'bob', email: 'bob@example.com' });
      const before = await snapshot(repository);
      await expectBerthError(repository.update('bob', { email: 'ada@example.com' }), 'ALREADY_EXISTS', {
        field: 'email',
      });
      await expectBerthError(repository.update('bob', { $set: { email: 'ada@example.com' } }), 'ALREADY_EXISTS', {
        field: 'email',
      });
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'rejects a replace or upsert to a unique value another document holds, writing nothing',
    requires: uniqueIndexes,
    async run(context) {
      const repository = await usersWithAda(context);
      await repository.insert({ id: 'bob', email: 'bob@example.com' });
      const before = await snapshot(repository);
      await expectBerthError(repository.replace({ id: 'bob', email: 'ada@example.com' }), 'ALREADY_EXISTS', {
        field: 'email',
      });
      await expectBerthError(repository.upsert({ id: 'bob', email: 'ada@example.com' }), 'ALREADY_EXISTS', {
        field: 'email',
      });
      await expectBerthError(repository.upsert({ id: 'carol', email: 'ada@example.com' }), 'ALREADY_EXISTS', {
        field: 'email',
      });
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'lets a document keep its own unique value through update, replace and upsert',
    requires: uniqueIndexes,
    async run(context) {
      const repository = await usersWithAda(context);
      await repository.update('ada', { name: 'Ada L.' });
      await repository.update('ada', { email: 'ada@example.com' });
      await repository.replace({ id: 'ada', email: 'ada@example.com', name: 'Replaced' });
      await repository.upsert({ id: 'ada', email: 'ada@example.com', name: 'Upserted' });
      await repository.upsertMany([{ id: 'ada', email: 'ada@example.com', name: 'Again' }]);
      expect(await repository.get('ada')).toStrictEqual({ id: 'ada', email: 'ada@example.com', name: 'Again' });
    },
  },
  {
    name: 'insertMany colliding with a stored unique value or within the batch writes nothing',
    requires: uniqueIndexes,
    async run(context) {
      const repository = await usersWithAda(context);
      const before = await snapshot(repository);
      await expectBerthError(
        repository.insertMany([
          { id: 'b', email: 'b@example.com' },
          { id: 'c', email: 'ada@example.com' },
        ]),
        'ALREADY_EXISTS',
        { field: 'email' },
      );
      await expectBerthError(
        repository.insertMany([
          { id: 'd', email: 'same@example.com' },
          { id: 'e', email: 'other@example.com' },
          { id: 'f', email: 'same@example.com' },
        ]),
        'ALREADY_EXISTS',
        { field: 'email' },
      );
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'upsertMany and updateMany that would duplicate a unique value write nothing',
    requires: uniqueIndexes,
    async run(context) {
      const repository = await usersWithAda(context);
      await repository.insert({ id: 'bob', email: 'bob@example.com' });
      const before = await snapshot(repository);
      await expectBerthError(
        repository.upsertMany([
          { id: 'carol', email: 'carol@example.com' },
          { id: 'bob', email: 'ada@example.com' },
        ]),
        'ALREADY_EXISTS',
        { field: 'email' },
      );
      await expectBerthError(repository.updateMany({}, { $set: { email: 'shared@example.com' } }), 'ALREADY_EXISTS', {
        field: 'email',
      });
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'null and missing values never collide in a unique index',
    requires: uniqueIndexes,
    async run(context) {
      const repository = context.repository<User>({ indexes: [EMAIL_INDEX] });
      await repository.insert({ id: 'a' });
      await repository.insert({ id: 'b' });
      await repository.insert({ id: 'c', email: null });
      await repository.insert({ id: 'd', email: null });
      await repository.insertMany([{ id: 'e', email: null }, { id: 'f' }]);
      await repository.update('a', { email: null });
      await repository.update('c', { $unset: ['email'] });
      expect(await repository.count()).toBe(6);
    },
  },
  {
    name: 'unique values compare type-strictly: 1, "1" and true never collide',
    requires: uniqueIndexes,
    async run(context) {
      for (const type of ['string', 'number'] as const) {
        const repository = context.repository<LooseDocument>({ indexes: [{ field: 'code', type, unique: true }] });
        await repository.insert({ id: 'number', code: 1 });
        await repository.insert({ id: 'string', code: '1' });
        await repository.insert({ id: 'boolean', code: true });
        await repository.insert({ id: 'float-string', code: '1.0' });
        expect(await repository.count()).toBe(4);
        await expectBerthError(repository.insert({ id: 'again', code: 1 }), 'ALREADY_EXISTS', { field: 'code' });
        await expectBerthError(repository.insert({ id: 'again', code: '1' }), 'ALREADY_EXISTS', { field: 'code' });
      }
    },
  },
  {
    name: 'unique numbers compare as doubles: integers past 2^53 and neighbours one ulp apart never collide',
    requires: uniqueIndexes,
    async run(context) {
      const repository = context.repository<LooseDocument>({ indexes: [{ field: 'n', type: 'number', unique: true }] });
      const numbers = EXTREME_NUMBERS.filter((n) => n !== 0);
      for (const [index, n] of numbers.entries()) await repository.insert({ id: `n${index}`, n });
      expect(await repository.count()).toBe(numbers.length);
      for (const [index, n] of numbers.entries()) {
        await expectBerthError(repository.insert({ id: `again${index}`, n }), 'ALREADY_EXISTS', { field: 'n' });
      }
    },
  },
  {
    name: 'unique strings compare by code point: values differing only in case, accents or trailing spaces never collide',
    requires: uniqueIndexes,
    async run(context) {
      const repository = context.repository<User>({ indexes: [EMAIL_INDEX] });
      // Trailing spaces first and last: a PAD SPACE collation ('a' = 'a ') fails either way round.
      const emails = [
        'ada@example.com ',
        'ada@example.com',
        'ada@example.com  ',
        'Ada@example.com',
        'ADA@EXAMPLE.COM',
        'adá@example.com',
        'ada\u0301@example.com',
        'ada@example.com\t',
        ' ada@example.com',
      ];
      for (const [index, email] of emails.entries()) await repository.insert({ id: `u${index}`, email });
      expect(await repository.count()).toBe(emails.length);
      for (const [index, email] of emails.entries()) {
        await expectBerthError(repository.insert({ id: `again${index}`, email }), 'ALREADY_EXISTS', {
          field: 'email',
        });
        expect(await repository.find({ where: { email } })).toStrictEqual([{ id: `u${index}`, email }]);
      }
      await repository.insert({ id: 'mover', email: 'b ' });
      await repository.update('mover', { email: 'b' });
      await repository.insert({ id: 'other', email: 'b ' });
      expect(await repository.count()).toBe(emails.length + 2);
    },
  },
  {
    name: 'unique indexes ignore array and object values, as countBy does: they never collide',
    requires: uniqueIndexes,
    async run(context) {
      const repository = context.repository<LooseDocument>({
        indexes: [{ field: 'tag', type: 'string', unique: true }],
      });
      const values: unknown[] = [['a'], ['a'], [], [], { x: 1 }, { x: 1 }, {}, {}, [{ x: 1 }], [{ x: 1 }]];
      for (const [index, tag] of values.entries()) await repository.insert({ id: `d${index}`, tag });
      await repository.insertMany([
        { id: 'm1', tag: ['a'] },
        { id: 'm2', tag: ['a'] },
      ]);
      await repository.upsertMany([
        { id: 'm3', tag: { x: 1 } },
        { id: 'm4', tag: { x: 1 } },
      ]);
      await repository.insert({ id: 'scalar', tag: 'a' });
      await repository.update('scalar', { tag: ['a'] });
      await repository.updateMany({}, { $set: { tag: { same: true } } });
      expect(await repository.count({ tag: { $exists: true } })).toBe(values.length + 5);
      // Scalars still collide, beside the arrays and objects.
      await repository.insert({ id: 'first', tag: 'a' });
      await expectBerthError(repository.insert({ id: 'second', tag: 'a' }), 'ALREADY_EXISTS', { field: 'tag' });
    },
  },
  {
    name: 'ALREADY_EXISTS names id when both the id and a unique value are taken, also in bulk inserts',
    requires: uniqueIndexes,
    async run(context) {
      const repository = await usersWithAda(context);
      await repository.insert({ id: 'bob', email: 'bob@example.com' });
      const before = await snapshot(repository);
      await expectBerthError(repository.insert({ id: 'ada', email: 'ada@example.com' }), 'ALREADY_EXISTS', {
        field: 'id',
      });
      await expectBerthError(repository.insert({ id: 'ada', email: 'bob@example.com' }), 'ALREADY_EXISTS', {
        field: 'id',
      });
      await expectBerthError(
        repository.insertMany([
          { id: 'carol', email: 'carol@example.com' },
          { id: 'bob', email: 'ada@example.com' },
          { id: 'dave', email: 'bob@example.com' },
        ]),
        'ALREADY_EXISTS',
        { field: 'id' },
      );
      // The first offending document in input order decides, even when a later one's id is taken.
      await expectBerthError(
        repository.insertMany([
          { id: 'carol', email: 'carol@example.com' },
          { id: 'dave', email: 'ada@example.com' },
          { id: 'bob', email: 'new@example.com' },
        ]),
        'ALREADY_EXISTS',
        { field: 'email' },
      );
      await expectBerthError(
        repository.insertMany([
          { id: 'erin', email: 'erin@example.com' },
          { id: 'erin', email: 'erin@example.com' },
        ]),
        'ALREADY_EXISTS',
        { field: 'id' },
      );
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'when several unique values are taken, ALREADY_EXISTS names the first field in declaration order',
    requires: uniqueIndexes,
    async run(context) {
      const handle = { field: 'profile.handle', type: 'string', unique: true } as const;
      for (const indexes of [
        [EMAIL_INDEX, handle],
        [handle, EMAIL_INDEX],
      ]) {
        const repository = context.repository<LooseDocument>({ indexes });
        await repository.insert({ id: 'a', email: 'a@example.com', profile: { handle: 'ada' } });
        await repository.insert({ id: 'b', email: 'b@example.com', profile: { handle: 'bob' } });
        const taken = { email: 'a@example.com', profile: { handle: 'bob' } };
        const field = indexes[0]?.field;
        await expectBerthError(repository.insert({ id: 'c', ...taken }), 'ALREADY_EXISTS', { field });
        await expectBerthError(repository.upsert({ id: 'c', ...taken }), 'ALREADY_EXISTS', { field });
        await repository.insert({ id: 'c', email: 'c@example.com', profile: { handle: 'carol' } });
        await expectBerthError(repository.replace({ id: 'c', ...taken }), 'ALREADY_EXISTS', { field });
        await expectBerthError(repository.update('c', taken), 'ALREADY_EXISTS', { field });
        await expectBerthError(repository.insertMany([{ id: 'd', ...taken }]), 'ALREADY_EXISTS', { field });
        expect(await repository.count()).toBe(3);
      }
    },
  },
  {
    name: 'a unique value freed by update, $unset or delete can be taken again',
    requires: uniqueIndexes,
    async run(context) {
      const repository = await usersWithAda(context);
      await repository.update('ada', { email: 'ada@new.example.com' });
      await repository.insert({ id: 'bob', email: 'ada@example.com' });
      await repository.update('bob', { $unset: ['email'] });
      await repository.insert({ id: 'carol', email: 'ada@example.com' });
      await repository.delete('carol');
      await repository.insert({ id: 'dave', email: 'ada@example.com' });
      expect((await repository.get('dave'))?.email).toBe('ada@example.com');
      await expectBerthError(repository.insert({ id: 'eve', email: 'ada@example.com' }), 'ALREADY_EXISTS', {
        field: 'email',
      });
    },
  },
  {
    name: 'a violation names the unique field that collided, nested or not, when several are declared',
    requires: uniqueIndexes,
    async run(context) {
      const repository = context.repository<LooseDocument>({
        indexes: [EMAIL_INDEX, { field: 'profile.handle', type: 'string', unique: true }],
      });
      await repository.insert({ id: 'a', email: 'a@example.com', profile: { handle: 'ada' } });
      await expectBerthError(
        repository.insert({ id: 'b', email: 'b@example.com', profile: { handle: 'ada' } }),
        'ALREADY_EXISTS',
        { field: 'profile.handle' },
      );
      await expectBerthError(
        repository.insert({ id: 'c', email: 'a@example.com', profile: { handle: 'carol' } }),
        'ALREADY_EXISTS',
        { field: 'email' },
      );
      await repository.insert({ id: 'd', email: 'd@example.com', profile: { handle: 'dave' } });
      expect(await repository.count()).toBe(2);
    },
  },
  {
    name: 'a unique date index treats Dates of the same instant as equal',
    requires: uniqueIndexes,
    async run(context) {
      const repository = context.repository<LooseDocument>({
        indexes: [{ field: 'slot', type: 'date', unique: true }],
      });
      await repository.insert({ id: 'a', slot: new Date('2024-01-01T10:00:00.000Z') });
      await repository.insert({ id: 'b', slot: new Date('2024-01-01T10:00:00.001Z') });
      await expectBerthError(
        repository.insert({ id: 'c', slot: new Date('2024-01-01T10:00:00.000Z') }),
        'ALREADY_EXISTS',
        {
          field: 'slot',
        },
      );
      expect(await repository.count()).toBe(2);
    },
  },
  {
    name: 'of ten parallel inserts of the same unique value exactly one succeeds',
    requires: uniqueIndexes,
    async run(context) {
      const repository = context.repository<User>({ indexes: [EMAIL_INDEX] });
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, index) => repository.insert({ id: `u${index}`, email: 'race@example.com' })),
      );
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      for (const result of results) {
        if (result.status === 'rejected') {
          await expectBerthError(Promise.reject(result.reason), 'ALREADY_EXISTS', { field: 'email' });
        }
      }
      expect(await repository.count({ email: 'race@example.com' })).toBe(1);
    },
  },
  {
    name: 'declaring a unique index is UNSUPPORTED when the adapter does not enforce them',
    requires: (capabilities) => !capabilities.repository.uniqueIndexes,
    async run(context) {
      await expectRepositoryRefused(context.backend, context.collectionName(), 'UNSUPPORTED', {
        indexes: [EMAIL_INDEX],
      });
    },
  },
  {
    name: 'explain reports an index for equality on an indexed field and a scan for an unindexed one',
    requires: (capabilities) => capabilities.repository.indexedQueries !== false,
    async run(context) {
      const repository = context.repository<User>({ indexes: [{ field: 'email', type: 'string' }] });
      await repository.insertMany([
        { id: 'a', email: 'a@example.com', name: 'Ada' },
        { id: 'b', email: 'b@example.com', name: 'Bob' },
      ]);
      const indexed = await repository.explain({ where: { email: 'a@example.com' } });
      expect(indexed.strategy).toBe('index');
      expect(typeof indexed.detail).toBe('string');
      const scanned = await repository.explain({ where: { name: 'Ada' } });
      expect(scanned.strategy).toBe('scan');
      expect(typeof scanned.detail).toBe('string');
    },
  },
  {
    name: 'with indexedQueries false, explain reports a scan even for equality on a declared index, and the index changes no result',
    requires: (capabilities) => capabilities.repository.indexedQueries === false,
    async run(context) {
      const repository = context.repository<User>({ indexes: [{ field: 'email', type: 'string' }] });
      await repository.insertMany([
        { id: 'a', email: 'a@example.com', name: 'Ada' },
        { id: 'b', email: 'b@example.com', name: 'Bob' },
      ]);
      const plan = await repository.explain({ where: { email: 'a@example.com' } });
      expect(plan.strategy).toBe('scan');
      expect(typeof plan.detail).toBe('string');
      expect((await repository.find({ where: { email: 'a@example.com' } })).map((user) => user.id)).toStrictEqual([
        'a',
      ]);
    },
  },
]);
