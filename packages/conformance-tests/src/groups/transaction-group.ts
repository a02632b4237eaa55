import type { Capabilities, Document, Repository, RepositoryBackend, TransactionScope } from '@berth/core';
import { isBerthError } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceContext, type ConformanceGroup, defineGroup } from '../harness.js';
import { deferred, expectBerthError, expectUnchanged, type LooseDocument, sleep, snapshot } from './assertions.js';

interface Counter extends Document {
  n: number;
  label?: string;
}

const transactional = (capabilities: Capabilities): boolean => capabilities.repository.transactions !== 'none';
const multiCollection = (capabilities: Capabilities): boolean =>
  capabilities.repository.transactions === 'multi-collection';

/**
 * How long a transaction waits for a concurrent one to reach the same point.
 * Engines that lock may hold the other back until this one ends, so waiting
 * forever would deadlock the test instead of exercising it.
 */
const RENDEZVOUS_MS = 300;

/** Resolves when `parties` have arrived, or after RENDEZVOUS_MS, whichever comes first. */
function rendezvous(parties: number): () => Promise<void> {
  let arrived = 0;
  const all = deferred();
  return async () => {
    arrived += 1;
    if (arrived >= parties) all.resolve();
    await Promise.race([all.promise, sleep(RENDEZVOUS_MS)]);
  };
}

class WorkFailed extends Error {}

async function seed(context: ConformanceContext): Promise<{ name: string; repository: Repository<Counter> }> {
  const name = context.collectionName();
  const repository = context.backend.repository<Counter>(name);
  await repository.insertMany([
    { id: 'a', n: 1 },
    { id: 'b', n: 2 },
  ]);
  return { name, repository };
}

/** Increments `c` by reading it and writing the read value plus one, retrying on CONFLICT. */
async function incrementWithRetry(backend: RepositoryBackend, name: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await backend.transaction(async (tx) => {
        const counters = tx.repository<Counter>(name);
        const current = await counters.get('c');
        await sleep(5);
        await counters.update('c', { n: (current?.n ?? 0) + 1 });
      });
      return attempt;
    } catch (error) {
      if (!isBerthError(error, 'CONFLICT') || !error.retryable || attempt >= 50) throw error;
      await sleep(Math.random() * 10 * attempt);
    }
  }
}

/**
 * `transaction`: commits every write when the work resolves, rolls back every write (in every collection) when
 * it throws, and rethrows the same error.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, registerGroup, transactionGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(transactionGroup, options);
 * ```
 */
export const transactionGroup: ConformanceGroup = defineGroup('transaction', [
  {
    name: 'commits every write when the work resolves and returns its result',
    requires: transactional,
    async run(context) {
      const { name, repository } = await seed(context);
      const result = await context.backend.transaction(async (tx) => {
        const counters = tx.repository<Counter>(name);
        await counters.insert({ id: 'c', n: 3 });
        await counters.update('a', { $inc: { n: 10 } });
        await counters.delete('b');
        return 'done';
      });
      expect(result).toBe('done');
      expect(await repository.getMany(['a', 'b', 'c'])).toStrictEqual([{ id: 'a', n: 11 }, null, { id: 'c', n: 3 }]);
      expect((await repository.getEntry('a'))?.meta.version).toBe(2);
    },
  },
  {
    name: 'commits writes to two collections together',
    requires: multiCollection,
    async run(context) {
      const orders = context.collectionName('orders');
      const stock = context.collectionName('stock');
      await context.backend.repository<Counter>(stock).insert({ id: 'widget', n: 5 });
      await context.backend.transaction(async (tx) => {
        await tx.repository<Counter>(orders).insert({ id: 'o1', n: 2 });
        await tx.repository<Counter>(stock).update('widget', { $inc: { n: -2 } });
      });
      expect(await context.backend.repository<Counter>(orders).get('o1')).toStrictEqual({ id: 'o1', n: 2 });
      expect(await context.backend.repository<Counter>(stock).get('widget')).toStrictEqual({ id: 'widget', n: 3 });
    },
  },
  {
    name: 'rolls back inserts, updates and deletes when the work throws, and rethrows the same error',
    requires: transactional,
    async run(context) {
      const { name, repository } = await seed(context);
      const before = await snapshot(repository);
      const failure = new WorkFailed('work failed');
      const outcome = context.backend.transaction(async (tx) => {
        const counters = tx.repository<Counter>(name);
        await counters.insert({ id: 'c', n: 3 });
        await counters.insertMany([{ id: 'd', n: 4 }]);
        await counters.update('a', { $inc: { n: 10 } });
        await counters.replace({ id: 'b', n: 20 });
        await counters.upsert({ id: 'e', n: 5 });
        await counters.updateMany({}, { $set: { label: 'touched' } });
        await counters.delete('a');
        await counters.deleteMany({ id: 'd' });
        throw failure;
      });
      await expect(outcome).rejects.toBe(failure);
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'rolls back writes to every collection when the work throws',
    requires: multiCollection,
    async run(context) {
      const first = await seed(context);
      const secondName = context.collectionName();
      const second = context.backend.repository<Counter>(secondName);
      await second.insert({ id: 'x', n: 1 });
      const [firstBefore, secondBefore] = [await snapshot(first.repository), await snapshot(second)];
      const failure = new WorkFailed('second collection failed');
      await expect(
        context.backend.transaction(async (tx) => {
          await tx.repository<Counter>(first.name).update('a', { n: 100 });
          await tx.repository<Counter>(secondName).insert({ id: 'y', n: 2 });
          await tx.repository<Counter>(secondName).delete('x');
          throw failure;
        }),
      ).rejects.toBe(failure);
      await expectUnchanged(first.repository, firstBefore);
      await expectUnchanged(second, secondBefore);
    },
  },
  {
    name: 'a Berth error thrown inside the work rolls back earlier writes and reaches the caller',
    requires: transactional,
    async run(context) {
      const { name, repository } = await seed(context);
      const before = await snapshot(repository);
      await expectBerthError(
        context.backend.transaction(async (tx) => {
          const counters = tx.repository<Counter>(name);
          await counters.insert({ id: 'c', n: 3 });
          await counters.insert({ id: 'a', n: 0 });
        }),
        'ALREADY_EXISTS',
        { field: 'id' },
      );
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'an operation that fails inside the work and is caught does not stop the other writes from committing',
    requires: transactional,
    async run(context) {
      const { name, repository } = await seed(context);
      await context.backend.transaction(async (tx) => {
        const counters = tx.repository<Counter>(name);
        await counters.insert({ id: 'c', n: 3 });
        await expectBerthError(counters.insert({ id: 'a', n: 0 }), 'ALREADY_EXISTS');
        await expectBerthError(counters.update('missing', { n: 1 }), 'NOT_FOUND');
        await counters.update('b', { $inc: { n: 1 } });
      });
      expect(await repository.getMany(['a', 'b', 'c'])).toStrictEqual([
        { id: 'a', n: 1 },
        { id: 'b', n: 3 },
        { id: 'c', n: 3 },
      ]);
    },
  },
  {
    name: 'reads inside the transaction see its own inserts, updates and deletes',
    requires: transactional,
    async run(context) {
      const { name } = await seed(context);
      await context.backend.transaction(async (tx) => {
        const counters = tx.repository<Counter>(name);
        await counters.insert({ id: 'c', n: 3 });
        expect(await counters.get('c')).toStrictEqual({ id: 'c', n: 3 });
        expect(await counters.count()).toBe(3);
        await counters.update('a', { $inc: { n: 10 } });
        expect(await counters.get('a')).toStrictEqual({ id: 'a', n: 11 });
        expect((await counters.getEntry('a'))?.meta.version).toBe(2);
        await counters.delete('b');
        expect(await counters.get('b')).toBeNull();
        expect(await counters.getMany(['a', 'b', 'c'])).toStrictEqual([{ id: 'a', n: 11 }, null, { id: 'c', n: 3 }]);
        expect((await counters.find({ where: { n: { $gte: 3 } }, orderBy: 'id' })).map((d) => d.id)).toStrictEqual([
          'a',
          'c',
        ]);
        expect(await counters.count({ n: { $gte: 3 } })).toBe(2);
        expect(await counters.exists({ id: 'b' })).toBe(false);
        expect(await counters.findOne({ where: { n: 3 } })).toStrictEqual({ id: 'c', n: 3 });
      });
    },
  },
  {
    name: 'reads outside the transaction never see its uncommitted writes, and see them after commit',
    requires: transactional,
    async run(context) {
      const { name, repository } = await seed(context);
      const written = deferred();
      const release = deferred();
      let released = false;
      const transaction = context.backend.transaction(async (tx) => {
        const counters = tx.repository<Counter>(name);
        await counters.insert({ id: 'c', n: 3 });
        await counters.update('a', { n: 100 });
        await counters.delete('b');
        written.resolve();
        await release.promise;
      });
      await written.promise;
      // An engine may hold these reads back until the commit; only reads that
      // finish while the transaction is still open are held to "see nothing".
      const outside = Promise.all([repository.getMany(['a', 'b', 'c']), repository.count()]).then((result) => ({
        result,
        duringTransaction: !released,
      }));
      await Promise.race([outside, sleep(RENDEZVOUS_MS)]);
      released = true;
      release.resolve();
      await transaction;
      const { result, duringTransaction } = await outside;
      if (duringTransaction) {
        expect(result).toStrictEqual([[{ id: 'a', n: 1 }, { id: 'b', n: 2 }, null], 2]);
      }
      expect(await repository.getMany(['a', 'b', 'c'])).toStrictEqual([{ id: 'a', n: 100 }, null, { id: 'c', n: 3 }]);
    },
  },
  {
    name: 'using a transaction repository after the transaction committed is a TRANSACTION error',
    requires: transactional,
    async run(context) {
      const { name, repository } = await seed(context);
      const holder: { scope?: TransactionScope; counters?: Repository<Counter> } = {};
      await context.backend.transaction(async (tx) => {
        holder.scope = tx;
        holder.counters = tx.repository<Counter>(name);
        await holder.counters.get('a');
      });
      const { scope, counters } = holder;
      if (scope === undefined || counters === undefined) return expect.unreachable('the work did not run');
      await expectBerthError(counters.get('a'), 'TRANSACTION');
      await expectBerthError(counters.insert({ id: 'late', n: 0 }), 'TRANSACTION');
      await expectBerthError(counters.update('a', { n: 0 }), 'TRANSACTION');
      await expectBerthError(() => scope.repository<Counter>(name).insert({ id: 'late2', n: 0 }), 'TRANSACTION');
      expect(await repository.getMany(['a', 'late', 'late2'])).toStrictEqual([{ id: 'a', n: 1 }, null, null]);
    },
  },
  {
    name: 'using a transaction repository after the transaction rolled back is a TRANSACTION error',
    requires: transactional,
    async run(context) {
      const { name, repository } = await seed(context);
      const holder: { counters?: Repository<Counter> } = {};
      const failure = new WorkFailed('roll back');
      await expect(
        context.backend.transaction(async (tx) => {
          holder.counters = tx.repository<Counter>(name);
          await holder.counters.insert({ id: 'c', n: 3 });
          throw failure;
        }),
      ).rejects.toBe(failure);
      const { counters } = holder;
      if (counters === undefined) return expect.unreachable('the work did not run');
      await expectBerthError(counters.insert({ id: 'late', n: 0 }), 'TRANSACTION');
      await expectBerthError(counters.find(), 'TRANSACTION');
      expect(await repository.count()).toBe(2);
    },
  },
  {
    name: 'two concurrent read-modify-write transactions on one document never lose an update',
    requires: transactional,
    async run(context) {
      const name = context.collectionName();
      const repository = context.backend.repository<Counter>(name);
      await repository.insert({ id: 'c', n: 0 });
      const bothRead = rendezvous(2);
      const increment = () =>
        context.backend.transaction(async (tx) => {
          const counters = tx.repository<Counter>(name);
          const current = await counters.get('c');
          await bothRead();
          await counters.update('c', { n: (current?.n ?? 0) + 1 });
        });
      const results = await Promise.allSettled([increment(), increment()]);
      const applied = results.filter((result) => result.status === 'fulfilled').length;
      expect(applied).toBeGreaterThanOrEqual(1);
      for (const result of results) {
        if (result.status === 'rejected') {
          await expectBerthError(Promise.reject(result.reason), 'CONFLICT', { retryable: true });
        }
      }
      expect(await repository.get('c')).toStrictEqual({ id: 'c', n: applied });
      expect((await repository.getEntry('c'))?.meta.version).toBe(1 + applied);
    },
  },
  {
    name: 'a write outside a transaction between its read and its write is never lost',
    requires: transactional,
    async run(context) {
      const name = context.collectionName();
      const repository = context.backend.repository<Counter>(name);
      await repository.insert({ id: 'c', n: 0 });
      const read = deferred();
      const release = deferred();
      const transaction = context.backend.transaction(async (tx) => {
        const counters = tx.repository<Counter>(name);
        const current = await counters.get('c');
        read.resolve();
        await release.promise;
        await counters.update('c', { n: (current?.n ?? 0) + 1 });
      });
      await read.promise;
      const outside = repository.update('c', { $inc: { n: 1 } });
      await Promise.race([outside.catch(() => undefined), sleep(RENDEZVOUS_MS)]);
      release.resolve();
      const [inside, direct] = await Promise.allSettled([transaction, outside]);
      expect(direct.status).toBe('fulfilled');
      if (inside.status === 'fulfilled') {
        expect((await repository.get('c'))?.n).toBe(2);
      } else {
        await expectBerthError(Promise.reject(inside.reason), 'CONFLICT', { retryable: true });
        expect((await repository.get('c'))?.n).toBe(1);
      }
    },
  },
  {
    name: 'five concurrent read-modify-write transactions retried on CONFLICT all apply',
    requires: transactional,
    async run(context) {
      const name = context.collectionName();
      const repository = context.backend.repository<Counter>(name);
      await repository.insert({ id: 'c', n: 0 });
      await Promise.all(Array.from({ length: 5 }, () => incrementWithRetry(context.backend, name)));
      expect(await repository.get('c')).toStrictEqual({ id: 'c', n: 5 });
    },
  },
  {
    name: 'a transaction touching a second collection is UNSUPPORTED when only single-collection transactions are',
    requires: (capabilities) => capabilities.repository.transactions === 'single-collection',
    async run(context) {
      const { name, repository } = await seed(context);
      const other = context.collectionName();
      await expectBerthError(
        context.backend.transaction(async (tx) => {
          await tx.repository<Counter>(name).insert({ id: 'c', n: 3 });
          await tx.repository<Counter>(other).insert({ id: 'x', n: 1 });
        }),
        'UNSUPPORTED',
      );
      expect(await repository.get('c')).toBeNull();
      expect(await context.backend.repository<LooseDocument>(other).get('x')).toBeNull();
    },
  },
  {
    name: 'transaction is UNSUPPORTED and never runs the work when the adapter has no transactions',
    requires: (capabilities) => capabilities.repository.transactions === 'none',
    async run(context) {
      let ran = false;
      await expectBerthError(
        () =>
          context.backend.transaction(async () => {
            ran = true;
          }),
        'UNSUPPORTED',
      );
      expect(ran).toBe(false);
    },
  },
]);
