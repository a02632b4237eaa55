import { type Capabilities, type Document, isBerthError, type RepositoryBackend } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceContext, type ConformanceGroup, defineGroup } from '../harness.js';
import { deferred, expectBerthError, sleep } from './assertions.js';

interface Counter extends Document {
  n: number;
}

interface User extends Document {
  email: string;
  team?: string;
}

const durable = (capabilities: Capabilities): boolean => capabilities.repository.durable;

// An adapter that declares one writer at a time (the document-backed backend)
// is held only to "never a silent overwrite" here; the document-backend group
// of the document store suite checks the rest of its contract.
const coordinated = (capabilities: Capabilities): boolean =>
  durable(capabilities) && capabilities.repository.concurrentBackends !== false;

/** The second backend on the storage of the test's backend; a durable adapter's run must be able to open one. */
async function secondBackend(context: ConformanceContext): Promise<RepositoryBackend> {
  if (context.openSameStorage === undefined) {
    throw new Error(
      'this adapter claims capabilities.repository.durable, so its conformance run must pass openSameStorage: (first) => a second backend on the same file, database or server',
    );
  }
  return context.openSameStorage();
}

/**
 * How long a transaction waits for the other one to have read. An engine
 * that locks holds the other back until this one ends, so waiting forever
 * would deadlock the case instead of exercising it.
 */
const RENDEZVOUS_MS = 300;

/** Both transactions read, then both write, where the engine lets them run side by side. */
async function readThenWriteConcurrently(
  backends: readonly RepositoryBackend[],
  name: string,
): Promise<PromiseSettledResult<void>[]> {
  let read = 0;
  const bothRead = deferred();
  return Promise.allSettled(
    backends.map((backend) =>
      backend.transaction(async (tx) => {
        const counters = tx.repository<Counter>(name);
        const current = await counters.get('c');
        read += 1;
        if (read === backends.length) bothRead.resolve();
        await Promise.race([bothRead.promise, sleep(RENDEZVOUS_MS)]);
        await counters.update('c', { n: (current?.n ?? 0) + 1 });
      }),
    ),
  );
}

/**
 * Two backends on one storage (the same file, database or server): what one commits the other reads, no write
 * is lost silently, unique values hold across both. Runs for durable adapters, through `openSameStorage`.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, registerGroup, sharedStorageGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(sharedStorageGroup, options);
 * ```
 */
export const sharedStorageGroup: ConformanceGroup = defineGroup('shared-storage', [
  {
    name: 'a durable adapter can open a second backend on the same storage',
    requires: durable,
    async run(context) {
      const second = await secondBackend(context);
      expect((await second.health()).ok).toBe(true);
    },
  },
  {
    name: 'a write through each of two backends is never lost silently: a third backend reads it, or it was refused with CONFLICT',
    requires: durable,
    async run(context) {
      const name = context.collectionName();
      const second = await secondBackend(context);
      await context.backend.repository<Counter>(name).count();
      await second.repository<Counter>(name).count();
      await context.backend.repository<Counter>(name).insert({ id: 'first', n: 1 });
      await context.backend.close();
      // A one-writer-at-a-time adapter may refuse the second write when it is made or when it is saved.
      let refused = false;
      try {
        await second.repository<Counter>(name).insert({ id: 'second', n: 2 });
        await second.close();
      } catch (error) {
        if (!isBerthError(error, 'CONFLICT')) throw error;
        refused = true;
      }
      const third = await secondBackend(context);
      const stored = await third.repository<Counter>(name).getMany(['first', 'second']);
      expect(stored[0], "the first backend's write").toStrictEqual({ id: 'first', n: 1 });
      if (!refused)
        expect(stored[1], "the second backend's write, which was not refused").toStrictEqual({ id: 'second', n: 2 });
      else expect(stored[1], 'the refused write').toBeNull();
    },
  },
  {
    name: 'what one backend commits, a second backend on the same storage reads, both ways',
    requires: coordinated,
    async run(context) {
      const name = context.collectionName();
      const second = await secondBackend(context);
      const first = context.backend.repository<Counter>(name);
      const other = second.repository<Counter>(name);
      await first.insertMany([
        { id: 'a', n: 1 },
        { id: 'b', n: 2 },
      ]);
      expect(await other.find({ orderBy: 'id' })).toStrictEqual([
        { id: 'a', n: 1 },
        { id: 'b', n: 2 },
      ]);
      await other.update('a', { $inc: { n: 10 } });
      expect(await first.get('a')).toStrictEqual({ id: 'a', n: 11 });
      expect((await first.getEntry('a'))?.meta.version).toBe(2);
      await first.delete('b');
      expect(await other.get('b')).toBeNull();
      await context.backend.transaction(async (tx) => {
        await tx.repository<Counter>(name).insert({ id: 'c', n: 3 });
      });
      expect(await other.count()).toBe(2);
      await second.transaction(async (tx) => {
        await tx.repository<Counter>(name).update('c', { n: 30 });
      });
      expect(await first.get('c')).toStrictEqual({ id: 'c', n: 30 });
    },
  },
  {
    name: 'a write of a transaction still open is not read through the second backend, and a rolled back one never is',
    requires: (capabilities) => coordinated(capabilities) && capabilities.repository.transactions !== 'none',
    async run(context) {
      const name = context.collectionName();
      const second = await secondBackend(context);
      const other = second.repository<Counter>(name);
      await context.backend.repository<Counter>(name).insert({ id: 'seed', n: 0 });
      const written = deferred();
      const release = deferred();
      const transaction = context.backend.transaction(async (tx) => {
        await tx.repository<Counter>(name).insert({ id: 'uncommitted', n: 1 });
        written.resolve();
        await release.promise;
        throw new Error('roll back');
      });
      await written.promise;
      try {
        expect(await other.get('uncommitted')).toBeNull();
      } finally {
        release.resolve();
      }
      await expect(transaction).rejects.toThrow('roll back');
      expect(await other.get('uncommitted')).toBeNull();
      expect(await other.count()).toBe(1);
    },
  },
  {
    name: 'a unique value taken through one backend is refused through the other',
    requires: (capabilities) => coordinated(capabilities) && capabilities.repository.uniqueIndexes,
    async run(context) {
      const name = context.collectionName();
      const indexes = [{ field: 'email', type: 'string', unique: true }] as const;
      const second = await secondBackend(context);
      await context.backend.repository<User>(name, { indexes }).insert({ id: 'a', email: 'ada@example.com' });
      const other = second.repository<User>(name, { indexes });
      await expectBerthError(other.insert({ id: 'b', email: 'ada@example.com' }), 'ALREADY_EXISTS', {
        field: 'email',
      });
      await other.insert({ id: 'c', email: 'carol@example.com' });
      await expectBerthError(
        context.backend.repository<User>(name, { indexes }).update('a', { email: 'carol@example.com' }),
        'ALREADY_EXISTS',
        { field: 'email' },
      );
      expect(await other.count()).toBe(2);
    },
  },
  {
    name: 'index declarations persist: a unique index declared through one backend holds through the other without redeclaring it',
    requires: (capabilities) => coordinated(capabilities) && capabilities.repository.uniqueIndexes,
    async run(context) {
      const name = context.collectionName();
      await context.backend
        .repository<User>(name, { indexes: [{ field: 'email', type: 'string', unique: true }] })
        .insert({ id: 'a', email: 'ada@example.com' });
      const second = await secondBackend(context);
      await expectBerthError(
        second.repository<User>(name).insert({ id: 'b', email: 'ada@example.com' }),
        'ALREADY_EXISTS',
      );
      expect(await second.repository<User>(name).count()).toBe(1);
    },
  },
  {
    // One backend after the other, so it holds one-writer-at-a-time adapters too.
    name: 'index declarations persist: after the first backend closed, a second one enforces its unique index without redeclaring it',
    requires: (capabilities) => durable(capabilities) && capabilities.repository.uniqueIndexes,
    async run(context) {
      const name = context.collectionName();
      await context.backend
        .repository<User>(name, { indexes: [{ field: 'email', type: 'string', unique: true }] })
        .insert({ id: 'a', email: 'ada@example.com' });
      await context.backend.close();
      const second = await secondBackend(context);
      const users = second.repository<User>(name);
      await expectBerthError(users.insert({ id: 'b', email: 'ada@example.com' }), 'ALREADY_EXISTS', {
        field: 'email',
      });
      await users.insert({ id: 'c', email: 'carol@example.com' });
      await expectBerthError(users.update('c', { email: 'ada@example.com' }), 'ALREADY_EXISTS', { field: 'email' });
      const plan = await users.explain?.({ where: { email: 'ada@example.com' } });
      if (plan !== undefined && context.capabilities.repository.indexedQueries !== false) {
        expect(plan.strategy, 'explain on the stored index').toBe('index');
      }
      // Declarations add up: declaring the field without `unique` leaves the stored index unique.
      const redeclared = second.repository<User>(name, { indexes: [{ field: 'email', type: 'string' }] });
      await expectBerthError(redeclared.insert({ id: 'd', email: 'carol@example.com' }), 'ALREADY_EXISTS', {
        field: 'email',
      });
      expect(await redeclared.count()).toBe(2);
      // A unique index added on documents that already share a value is refused, and the documents stay.
      await users.update('c', { email: 'ADA@example.com', team: 'x' });
      await users.update('a', { team: 'x' });
      const uniqueTeam = second.repository<User>(name, { indexes: [{ field: 'team', type: 'string', unique: true }] });
      await expectBerthError(uniqueTeam.count(), 'ALREADY_EXISTS', { field: 'team' });
      expect(await users.count({ team: 'x' })).toBe(2);
    },
  },
  {
    name: 'concurrent read-then-write transactions through two backends both commit in turn, or one fails with a retryable CONFLICT',
    requires: (capabilities) => coordinated(capabilities) && capabilities.repository.transactions !== 'none',
    async run(context) {
      const name = context.collectionName();
      const second = await secondBackend(context);
      await context.backend.repository<Counter>(name).insert({ id: 'c', n: 0 });
      const outcomes = await readThenWriteConcurrently([context.backend, second], name);
      let committed = 0;
      for (const outcome of outcomes) {
        if (outcome.status === 'fulfilled') {
          committed += 1;
          continue;
        }
        const error = outcome.reason;
        if (!isBerthError(error, 'CONFLICT') || !error.retryable) {
          expect.unreachable(
            `a transaction failed with ${String(error)}; only a retryable CONFLICT may end one of two concurrent transactions`,
          );
        }
      }
      expect(committed, 'at least one of the two transactions commits').toBeGreaterThanOrEqual(1);
      // Every commit counted: both committing on the same read would be a lost update.
      for (const backend of [context.backend, second]) {
        expect(await backend.repository<Counter>(name).get('c')).toStrictEqual({ id: 'c', n: committed });
      }
    },
  },
]);
