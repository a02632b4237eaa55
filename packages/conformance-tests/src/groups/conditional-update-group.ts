import type { Capabilities, Document, Filter, RepositoryBackend } from '@berth/core';
import { matchesFilter } from '@berth/core/adapter';
import { expect } from 'vitest';
import { type ConformanceContext, type ConformanceGroup, defineGroup } from '../harness.js';
import { expectBerthError, expectUnchanged, invalid, type LooseDocument, snapshot } from './assertions.js';
import { EXTREME_NUMBERS, LOOKALIKE_STRINGS } from './query-fixtures.js';

interface Wallet extends Document {
  points: number;
  owner: string;
  state?: string;
  tags?: string[];
}

const transactional = (capabilities: Capabilities): boolean => capabilities.repository.transactions !== 'none';
/** Two backends on one storage that coordinate their writes (not one writer at a time). */
const coordinated = (capabilities: Capabilities): boolean =>
  capabilities.repository.durable && capabilities.repository.concurrentBackends !== false;

async function wallet(context: ConformanceContext, points = 100) {
  const repository = context.repository<Wallet>();
  await repository.insert({ id: 'w', points, owner: 'ada', state: 'queued' });
  return repository;
}

/** `calls` concurrent "spend 10 if the balance covers it" through the given backends in turn. */
async function spendConcurrently(backends: readonly RepositoryBackend[], name: string, calls: number) {
  return Promise.all(
    Array.from({ length: calls }, (_, index) =>
      (backends[index % backends.length] as RepositoryBackend)
        .repository<Wallet>(name)
        .update('w', { $inc: { points: -10 } }, { where: { points: { $gte: 10 } } }),
    ),
  );
}

/**
 * `update` with `where`: applied only when the stored document matches, `null` and nothing written when it
 * does not, `NOT_FOUND` for a missing document.
 *
 * ### Examples
 * ```ts
 * import { conditionalUpdateGroup, type ConformanceOptions, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(conditionalUpdateGroup, options);
 * ```
 */
export const conditionalUpdateGroup: ConformanceGroup = defineGroup('conditional-update', [
  {
    name: 'applies the update when the document matches where and resolves to the updated document',
    async run(context) {
      const repository = await wallet(context);
      const updated = await repository.update('w', { $inc: { points: -30 } }, { where: { points: { $gte: 30 } } });
      expect(updated).toStrictEqual({ id: 'w', points: 70, owner: 'ada', state: 'queued' });
      expect(await repository.get('w')).toStrictEqual(updated);
      expect((await repository.getEntry('w'))?.meta.version).toBe(2);
    },
  },
  {
    name: 'resolves to null and writes nothing (version and updatedAt unchanged) when the document does not match',
    async run(context) {
      const repository = await wallet(context, 20);
      const before = await snapshot(repository);
      expect(await repository.update('w', { $inc: { points: -30 } }, { where: { points: { $gte: 30 } } })).toBeNull();
      expect(await repository.update('w', { state: 'done' }, { where: { owner: 'Ada' } })).toBeNull();
      // @ts-expect-error: Wallet has no `missing` field; the engine must still answer it
      expect(await repository.update('w', { $unset: ['state'] }, { where: { missing: { $exists: true } } })).toBeNull();
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'a missing document is NOT_FOUND, whatever where says',
    async run(context) {
      const repository = await wallet(context);
      await expectBerthError(repository.update('nobody', { points: 1 }, { where: {} }), 'NOT_FOUND');
      await expectBerthError(
        repository.update('nobody', { points: 1 }, { where: { points: { $exists: false } } }),
        'NOT_FOUND',
      );
      expect(await repository.get('nobody')).toBeNull();
    },
  },
  {
    name: 'an empty where matches, and where may use $and, $or, $not, nested paths and the id',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'p', stats: { level: 3, tags: ['a', 'b'] }, name: 'Ada' });
      expect(await repository.update('p', { $inc: { 'stats.level': 1 } }, { where: {} })).toMatchObject({
        stats: { level: 4 },
      });
      const where: Filter = {
        $and: [{ 'stats.level': { $gt: 3 } }, { $or: [{ name: 'Bob' }, { 'stats.tags': { $contains: 'b' } }] }],
        $not: { id: 'q' },
      };
      expect(await repository.update('p', { $set: { hit: 1 } }, { where })).toMatchObject({ hit: 1 });
      expect(await repository.update('p', { $set: { hit: 2 } }, { where: { id: 'q' } })).toBeNull();
      expect(
        await repository.update('p', { $set: { hit: 3 } }, { where: { id: 'p', 'stats.level': 4 } }),
      ).toMatchObject({
        hit: 3,
      });
    },
  },
  {
    name: 'where compares extreme numbers exactly (past 2^53, -0, 5e-324, 1e308) as find does',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const documents = EXTREME_NUMBERS.map((n, index) => ({ id: `n${index}`, n }));
      await repository.insertMany([...documents, { id: 'zero', n: -0 }]);
      const thresholds = [2 ** 53, 2 ** 53 + 2, 0, -0, 5e-324, -5e-324, 1e308, 1.0000000000000005e-300];
      for (const threshold of thresholds) {
        for (const operator of ['$gt', '$lte', '$eq'] as const) {
          const where: Filter = { n: { [operator]: threshold } };
          const expected = (await repository.find({ where, orderBy: 'id' })).map((document) => document.id);
          const hit: string[] = [];
          for (const document of [...documents, { id: 'zero', n: 0 }]) {
            const result = await repository.update(document.id, { $set: { seen: true } }, { where });
            if (result !== null) hit.push(document.id);
          }
          expect(hit.sort(), `${operator} ${threshold}`).toStrictEqual([...expected].sort());
          expect(hit.sort(), `${operator} ${threshold} against the reference`).toStrictEqual(
            [...documents, { id: 'zero', n: 0 }]
              .filter((document) => matchesFilter(document, where))
              .map((document) => document.id)
              .sort(),
          );
        }
      }
    },
  },
  {
    name: 'where compares strings exactly: case, accents, trailing spaces and astral characters differ',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insertMany(LOOKALIKE_STRINGS.map((s, index) => ({ id: `s${index}`, s })));
      for (const [index, value] of LOOKALIKE_STRINGS.entries()) {
        for (const [other, candidate] of LOOKALIKE_STRINGS.entries()) {
          const result = await repository.update(`s${other}`, { $inc: { n: 1 } }, { where: { s: value } });
          expect(result === null, `${JSON.stringify(candidate)} against ${JSON.stringify(value)}`).toBe(
            index !== other,
          );
        }
      }
      for (const [index] of LOOKALIKE_STRINGS.entries()) {
        expect((await repository.get(`s${index}`))?.n).toBe(1);
      }
    },
  },
  {
    name: 'where on deep paths and astral strings matches as find does; NUL and __proto__ in where are VALIDATION and write nothing',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const deep = { a: { b: { c: { d: { e: { f: 'deep' } } } } } };
      await repository.insert({ id: 'x', deep, text: '', astral: '😀' });
      expect(
        await repository.update('x', { $set: { hit: 1 } }, { where: { 'deep.a.b.c.d.e.f': 'deep' } }),
      ).toMatchObject({
        hit: 1,
      });
      expect(await repository.update('x', { $set: { hit: 2 } }, { where: { text: '' } })).toMatchObject({
        hit: 2,
      });
      expect(await repository.update('x', { $set: { hit: 3 } }, { where: { text: ' ' } })).toBeNull();
      expect(await repository.update('x', { $set: { hit: 3 } }, { where: { astral: '😁' } })).toBeNull();
      expect(
        await repository.update('x', { $set: { hit: 3 } }, { where: { astral: { $gt: '\uffff' } } }),
      ).toMatchObject({
        hit: 3,
      });
      const before = await snapshot(repository);
      for (const where of [
        JSON.parse('{"__proto__": {"text": ""}}'),
        { 'deep.__proto__': 1 },
        { '__proto__.x': 1 },
        { text: '\u0000' },
        { text: { $in: ['', '\u0000'] } },
      ]) {
        await expectBerthError(repository.update('x', { $set: { hit: 4 } }, invalid({ where })), 'VALIDATION');
      }
      await expectUnchanged(repository, before);
      expect(({} as Record<string, unknown>).text).toBeUndefined();
    },
  },
  {
    name: 'with expectedVersion both must hold: a version mismatch is CONFLICT, a matching version that fails where is null',
    async run(context) {
      const repository = await wallet(context);
      const before = await snapshot(repository);
      await expectBerthError(
        repository.update('w', { points: 0 }, { expectedVersion: 5, where: { points: 100 } }),
        'CONFLICT',
      );
      await expectBerthError(
        repository.update('w', { points: 0 }, { expectedVersion: 5, where: { points: 1 } }),
        'CONFLICT',
      );
      expect(await repository.update('w', { points: 0 }, { expectedVersion: 1, where: { points: 1 } })).toBeNull();
      await expectUnchanged(repository, before);
      expect(await repository.update('w', { points: 0 }, { expectedVersion: 1, where: { points: 100 } })).toMatchObject(
        {
          points: 0,
        },
      );
      await expectBerthError(
        repository.update('nobody', { points: 0 }, { expectedVersion: 1, where: {} }),
        'NOT_FOUND',
      );
    },
  },
  {
    name: 'an invalid where is VALIDATION before anything is read or written, even for a missing document',
    async run(context) {
      const repository = await wallet(context);
      const before = await snapshot(repository);
      const bad: unknown[] = [
        'points',
        42,
        null,
        [],
        { points: { $bogus: 1 } },
        { $or: 'x' },
        { points: { $in: 'x' } },
        { '': 1 },
        { points: { $gt: Number.NaN } },
      ];
      for (const where of bad) {
        await expectBerthError(repository.update('w', { points: 0 }, invalid({ where })), 'VALIDATION');
        await expectBerthError(repository.update('nobody', { points: 0 }, invalid({ where })), 'VALIDATION');
      }
      await expectBerthError(
        repository.update('w', { $inc: { points: 'x' } } as never, { where: { points: 100 } }),
        'VALIDATION',
      );
      // @ts-expect-error: `$inc` on a string field, refused at run time too
      await expectBerthError(repository.update('w', { $inc: { owner: 1 } }, { where: { points: 100 } }), 'VALIDATION');
      await expectUnchanged(repository, before);
      expect(await repository.get('nobody')).toBeNull();
    },
  },
  {
    name: 'a conditional update that matches but whose result fails the schema is VALIDATION and writes nothing',
    async run(context) {
      const repository = context.repository<Wallet>({
        schema: {
          '~standard': {
            version: 1,
            vendor: 'berth-conformance',
            validate: async (value) =>
              (value as Wallet).points < 0
                ? { issues: [{ message: 'points must be >= 0', path: ['points'] }] }
                : { value: value as Wallet },
          },
        },
      });
      await repository.insert({ id: 'w', points: 5, owner: 'ada' });
      const before = await snapshot(repository);
      await expectBerthError(
        repository.update('w', { $inc: { points: -10 } }, { where: { owner: 'ada' } }),
        'VALIDATION',
        { path: 'points' },
      );
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'thirty concurrent "spend 10 if the balance covers it" on a balance of 100: exactly ten apply, the balance ends at 0',
    async run(context) {
      const repository = await wallet(context);
      const results = await spendConcurrently([context.backend], repository.name, 30);
      expect(results.filter((result) => result !== null)).toHaveLength(10);
      expect(new Set(results.filter((result) => result !== null).map((result) => result?.points))).toHaveProperty(
        'size',
        10,
      );
      expect(await repository.get('w')).toMatchObject({ points: 0 });
      expect((await repository.getEntry('w'))?.meta.version).toBe(11);
    },
  },
  {
    name: 'ten concurrent compare-and-set claims (state queued → running): exactly one wins',
    async run(context) {
      const repository = await wallet(context);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, index) =>
          repository.update(
            'w',
            { $set: { state: 'running', owner: `worker${index}` } },
            { where: { state: 'queued' } },
          ),
        ),
      );
      const winners = results.filter((result) => result !== null);
      expect(winners).toHaveLength(1);
      expect(await repository.get('w')).toStrictEqual(winners[0]);
    },
  },
  {
    name: 'concurrent conditional spends through two backends on one storage never overdraw',
    requires: coordinated,
    async run(context) {
      const repository = await wallet(context);
      if (context.openSameStorage === undefined) return expect.unreachable('a durable adapter needs openSameStorage');
      const second = await context.openSameStorage();
      const results = await spendConcurrently([context.backend, second], repository.name, 30);
      expect(results.filter((result) => result !== null)).toHaveLength(10);
      expect(await repository.get('w')).toMatchObject({ points: 0 });
      expect(await second.repository<Wallet>(repository.name).get('w')).toMatchObject({ points: 0 });
    },
  },
  {
    name: 'inside a transaction, where sees the transaction’s own writes, and a rollback undoes the update',
    requires: transactional,
    async run(context) {
      const repository = await wallet(context);
      const failure = new Error('roll back');
      await expect(
        context.backend.transaction(async (tx) => {
          const wallets = tx.repository<Wallet>(repository.name);
          await wallets.update('w', { points: 5 });
          expect(await wallets.update('w', { $inc: { points: -10 } }, { where: { points: { $gte: 10 } } })).toBeNull();
          expect(await wallets.update('w', { $inc: { points: -5 } }, { where: { points: 5 } })).toMatchObject({
            points: 0,
          });
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await repository.get('w')).toMatchObject({ points: 100 });
    },
  },
]);
