import type { Capabilities, Document, RepositoryBackend, StandardSchemaV1 } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import { expectBerthError, expectUnchanged, invalid, type LooseDocument, snapshot } from './assertions.js';

interface Balance extends Document {
  points: number;
  owner: string;
  email?: string;
  history?: string[];
}

const transactional = (capabilities: Capabilities): boolean => capabilities.repository.transactions !== 'none';
/** Two backends on one storage that coordinate their writes (not one writer at a time). */
const coordinated = (capabilities: Capabilities): boolean =>
  capabilities.repository.durable && capabilities.repository.concurrentBackends !== false;

/** `calls` concurrent `$inc` upserts of `amount(index)` on one id, through the given backends in turn. */
function incrementConcurrently(
  backends: readonly RepositoryBackend[],
  name: string,
  calls: number,
  amount: (index: number) => number,
): Promise<Balance[]> {
  return Promise.all(
    Array.from({ length: calls }, (_, index) =>
      (backends[index % backends.length] as RepositoryBackend)
        .repository<Balance>(name)
        .update('p', { $inc: { points: amount(index) } }, { upsert: { points: 0, owner: 'p' } }),
    ),
  );
}

/** A schema that refuses negative points and trims the owner (its output is what is stored). */
const balanceSchema: StandardSchemaV1<unknown, Balance> = {
  '~standard': {
    version: 1,
    vendor: 'berth-conformance',
    validate: async (value) => {
      const input = value as Balance;
      if (typeof input.points !== 'number' || input.points < 0) {
        return { issues: [{ message: 'points must be >= 0', path: ['points'] }] };
      }
      return { value: { ...input, owner: String(input.owner).trim() } };
    },
  },
};

/**
 * `update` with `upsert`: a missing document is created from the upsert fields with the update applied;
 * concurrent `$inc` upserts keep the exact sum.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, operatorUpsertGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(operatorUpsertGroup, options);
 * ```
 */
export const operatorUpsertGroup: ConformanceGroup = defineGroup('operator-upsert', [
  {
    name: 'a missing document is created from the upsert fields and the id, with the update applied, at version 1',
    async run(context) {
      const repository = context.repository<Balance>();
      const created = await repository.update(
        'p',
        // @ts-expect-error: `meta` is not declared on Balance; a nested field created by the upsert
        { $inc: { points: 5 }, $set: { 'meta.source': 'bot' } },
        { upsert: { points: 10, owner: 'ada' } },
      );
      const expected = { id: 'p', points: 15, owner: 'ada', meta: { source: 'bot' } };
      expect(created).toStrictEqual(expected);
      expect(await repository.get('p')).toStrictEqual(expected);
      const entry = await repository.getEntry('p');
      expect(entry?.meta.version).toBe(1);
      expect(entry?.meta.createdAt.getTime()).toBe(entry?.meta.updatedAt.getTime());
    },
  },
  {
    name: 'an existing document gets the update as usual and the upsert fields are ignored',
    async run(context) {
      const repository = context.repository<Balance>();
      await repository.insert({ id: 'p', points: 1, owner: 'ada', history: ['a'] });
      const updated = await repository.update('p', { $inc: { points: 2 } }, { upsert: { points: 100, owner: 'bob' } });
      expect(updated).toStrictEqual({ id: 'p', points: 3, owner: 'ada', history: ['a'] });
      expect((await repository.getEntry('p'))?.meta.version).toBe(2);
    },
  },
  {
    name: 'a patch (not only operators) upserts too, and the upsert fields may repeat the same id',
    async run(context) {
      const repository = context.repository<Balance>();
      expect(
        await repository.update('p', { owner: 'bob' }, { upsert: invalid({ id: 'p', points: 0, owner: 'x' }) }),
      ).toStrictEqual({
        id: 'p',
        points: 0,
        owner: 'bob',
      });
      expect(await repository.update('p', { owner: 'cy' }, { upsert: { points: 9, owner: 'x' } })).toStrictEqual({
        id: 'p',
        points: 0,
        owner: 'cy',
      });
    },
  },
  {
    name: 'twenty concurrent $inc upserts on a missing id end with one document holding the exact sum',
    async run(context) {
      const repository = context.repository<Balance>();
      const amounts = (index: number) => index + 1;
      const results = await incrementConcurrently([context.backend], repository.name, 20, amounts);
      expect(await repository.find()).toStrictEqual([{ id: 'p', points: 210, owner: 'p' }]);
      expect((await repository.getEntry('p'))?.meta.version).toBe(20);
      // Each caller saw its own increment applied: every running total from 1 to 210 is distinct.
      expect(new Set(results.map((result) => result.points)).size).toBe(20);
      expect(Math.max(...results.map((result) => result.points))).toBe(210);
    },
  },
  {
    name: 'concurrent $inc upserts past 2^53 keep the exact sum (every partial sum is a double, in any order)',
    async run(context) {
      const repository = context.repository<Balance>();
      await incrementConcurrently([context.backend], repository.name, 16, (index) => (index % 2 === 0 ? 2 ** 53 : 16));
      expect((await repository.get('p'))?.points).toBe(8 * 2 ** 53 + 128);
    },
  },
  {
    name: 'concurrent $inc upserts through two backends on one storage end with one document and the exact sum',
    requires: coordinated,
    async run(context) {
      const repository = context.repository<Balance>();
      if (context.openSameStorage === undefined) return expect.unreachable('a durable adapter needs openSameStorage');
      const second = await context.openSameStorage();
      await incrementConcurrently([context.backend, second], repository.name, 20, () => 3);
      expect(await repository.find()).toStrictEqual([{ id: 'p', points: 60, owner: 'p' }]);
      expect(await second.repository<Balance>(repository.name).get('p')).toStrictEqual({
        id: 'p',
        points: 60,
        owner: 'p',
      });
    },
  },
  {
    name: 'adversarial initial values are stored as insert stores them (2^53+2, -0, 5e-324, 1e308, astral, accents, deep)',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const fields = {
        big: 2 ** 53 + 2,
        negativeZero: -0,
        tiny: 5e-324,
        huge: 1e308,
        astral: '😀 ',
        accent: 'e\u0301',
        deep: { a: { b: { c: { d: { e: [1, { f: 'g' }] } } } } },
        when: new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)),
      };
      const created = await repository.update('p', { $inc: { tiny: 5e-324 } }, { upsert: fields });
      await repository.insert({ id: 'q', ...fields, tiny: 1e-323 });
      const { id: _p, ...stored } = (await repository.get('p')) as LooseDocument;
      const { id: _q, ...inserted } = (await repository.get('q')) as LooseDocument;
      expect(stored).toStrictEqual(inserted);
      expect(created).toStrictEqual({ id: 'p', ...inserted });
      expect(Object.is(stored.negativeZero, -0)).toBe(false);
    },
  },
  {
    name: 'a $inc that overflows or hits a non-number in the new document is VALIDATION and creates nothing',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await expectBerthError(
        repository.update('p', { $inc: { n: 1e308 } }, { upsert: { n: Number.MAX_VALUE } }),
        'VALIDATION',
      );
      await expectBerthError(repository.update('p', { $inc: { n: 1 } }, { upsert: { n: 'one' } }), 'VALIDATION');
      await expectBerthError(repository.update('p', { $set: { 'n.deeper': 1 } }, { upsert: { n: 5 } }), 'VALIDATION');
      expect(await repository.count()).toBe(0);
    },
  },
  {
    name: 'invalid upsert fields and invalid combinations are VALIDATION whether or not the document exists, and write nothing',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'kept', n: 1 });
      const before = await snapshot(repository);
      const badFields: unknown[] = [
        null,
        'fields',
        42,
        [],
        [{ n: 1 }],
        new Date(0),
        { id: 'other', n: 1 },
        { $set: { n: 1 } },
        JSON.parse('{"__proto__": {"polluted": 1}}'),
        { n: Number.NaN },
        { n: Number.POSITIVE_INFINITY },
        { n: undefined, f: () => 1 },
        { n: 10n },
        { n: 'a\u0000b' },
        { 'a\u0000': 1 },
      ];
      for (const id of ['kept', 'missing']) {
        for (const upsert of badFields) {
          await expectBerthError(repository.update(id, { $inc: { n: 1 } }, invalid({ upsert })), 'VALIDATION');
        }
        await expectBerthError(
          repository.update(id, { $inc: { n: 1 } }, invalid({ upsert: { n: 0 }, where: { n: 1 } })),
          'VALIDATION',
        );
        await expectBerthError(
          repository.update(id, { $inc: { n: 1 } }, invalid({ upsert: { n: 0 }, expectedVersion: 1 })),
          'VALIDATION',
        );
        await expectBerthError(
          repository.update(id, invalid({ $inc: { n: 'x' } }), { upsert: { n: 0 } }),
          'VALIDATION',
        );
        await expectBerthError(repository.update(id, { $set: { id: 'other' } }, { upsert: { n: 0 } }), 'VALIDATION');
      }
      await expectUnchanged(repository, before);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  },
  {
    name: 'the schema validates the created document (its output is stored) and a refused one creates nothing',
    async run(context) {
      const repository = context.repository<Balance>({ schema: balanceSchema });
      await expectBerthError(
        repository.update('p', { $inc: { points: -5 } }, { upsert: { points: 1, owner: 'ada' } }),
        'VALIDATION',
        { path: 'points' },
      );
      expect(await repository.count()).toBe(0);
      expect(
        await repository.update('p', { $inc: { points: 5 } }, { upsert: { points: 1, owner: '  ada ' } }),
      ).toStrictEqual({
        id: 'p',
        points: 6,
        owner: 'ada',
      });
      expect(await repository.get('p')).toStrictEqual({ id: 'p', points: 6, owner: 'ada' });
    },
  },
  {
    name: 'unique indexes apply to the created document: a taken value is ALREADY_EXISTS naming the field, and nothing is created',
    requires: (capabilities) => capabilities.repository.uniqueIndexes,
    async run(context) {
      const repository = context.repository<Balance>({ indexes: [{ field: 'email', type: 'string', unique: true }] });
      await repository.insert({ id: 'a', points: 0, owner: 'a', email: 'ada@example.com' });
      await expectBerthError(
        repository.update(
          'b',
          { $inc: { points: 1 } },
          { upsert: { points: 0, owner: 'b', email: 'ada@example.com' } },
        ),
        'ALREADY_EXISTS',
        { field: 'email' },
      );
      expect(await repository.get('b')).toBeNull();
      // Lookalikes are other values.
      await repository.update(
        'b',
        { $inc: { points: 1 } },
        { upsert: { points: 0, owner: 'b', email: 'Ada@example.com' } },
      );
      await repository.update(
        'c',
        { $inc: { points: 1 } },
        { upsert: { points: 0, owner: 'c', email: 'ada@example.com ' } },
      );
      expect(await repository.count()).toBe(3);
    },
  },
  {
    name: 'an upsert inside a transaction is seen by the transaction and undone by its rollback',
    requires: transactional,
    async run(context) {
      const repository = context.repository<Balance>();
      const failure = new Error('roll back');
      await expect(
        context.backend.transaction(async (tx) => {
          const balances = tx.repository<Balance>(repository.name);
          await balances.update('p', { $inc: { points: 1 } }, { upsert: { points: 0, owner: 'p' } });
          expect(
            await balances.update('p', { $inc: { points: 1 } }, { upsert: { points: 0, owner: 'p' } }),
          ).toMatchObject({
            points: 2,
          });
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await repository.get('p')).toBeNull();
    },
  },
]);
