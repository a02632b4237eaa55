import type { Capabilities, Document, RepositoryBackend } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import { deferred, expectBerthError, sleep } from './assertions.js';

interface Doctor extends Document {
  onCall: boolean;
  team: string;
  n?: number;
}

const transactional = (capabilities: Capabilities): boolean => capabilities.repository.transactions !== 'none';

/**
 * How long a transaction waits for the others to reach the same point. An
 * engine that locks holds the others back until this one ends, so waiting
 * forever would deadlock the case instead of exercising it.
 */
const RENDEZVOUS_MS = 300;

/** Resolves when `parties` have arrived, or after RENDEZVOUS_MS. */
function rendezvous(parties: number): () => Promise<void> {
  let arrived = 0;
  const all = deferred();
  return async () => {
    arrived += 1;
    if (arrived >= parties) all.resolve();
    await Promise.race([all.promise, sleep(RENDEZVOUS_MS)]);
  };
}

/** Settles `work` side by side; every failure must be a retryable CONFLICT. */
async function settleAll(works: readonly (() => Promise<unknown>)[]): Promise<number> {
  const results = await Promise.allSettled(works.map((work) => work()));
  for (const result of results) {
    if (result.status === 'rejected') {
      await expectBerthError(Promise.reject(result.reason), 'CONFLICT', { retryable: true });
    }
  }
  return results.filter((result) => result.status === 'fulfilled').length;
}

async function seedDoctors(backend: RepositoryBackend, name: string): Promise<void> {
  await backend.repository<Doctor>(name).insertMany([
    { id: 'alice', onCall: true, team: 'red', n: 0 },
    { id: 'bob', onCall: true, team: 'red', n: 0 },
    { id: 'carol', onCall: true, team: 'blue', n: 0 },
  ]);
}

/**
 * What concurrent transactions may see of each other: disjoint writes all commit, write skew and phantoms are
 * prevented. Runs where the capabilities claim transactions.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, isolationGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(isolationGroup, options);
 * ```
 */
export const isolationGroup: ConformanceGroup = defineGroup('transaction-isolation', [
  {
    name: 'concurrent read-modify-write transactions on different documents of one collection all commit',
    requires: transactional,
    async run(context) {
      const name = context.collectionName('doctors');
      await seedDoctors(context.backend, name);
      const allRead = rendezvous(3);
      const increment = (id: string) => () =>
        context.backend.transaction(async (tx) => {
          const doctors = tx.repository<Doctor>(name);
          const current = await doctors.get(id);
          await allRead();
          await doctors.update(id, { n: (current?.n ?? 0) + 1 });
        });
      const committed = await settleAll([increment('alice'), increment('bob'), increment('carol')]);
      expect(committed).toBe(3);
      const doctors = await context.backend.repository<Doctor>(name).find({ orderBy: 'id' });
      expect(doctors.map((doctor) => doctor.n)).toStrictEqual([1, 1, 1]);
    },
  },
  {
    name: 'concurrent transactions inserting different ids into one collection all commit',
    requires: transactional,
    async run(context) {
      const name = context.collectionName('doctors');
      await seedDoctors(context.backend, name);
      const allRead = rendezvous(4);
      const insert = (id: string) => () =>
        context.backend.transaction(async (tx) => {
          const doctors = tx.repository<Doctor>(name);
          const existing = await doctors.get(id);
          await allRead();
          if (existing === null) await doctors.insert({ id, onCall: false, team: 'green' });
        });
      expect(await settleAll(['d1', 'd2', 'd3', 'd4'].map(insert))).toBe(4);
      expect(await context.backend.repository<Doctor>(name).count({ team: 'green' })).toBe(4);
    },
  },
  {
    name: 'write skew is prevented: two doctors each going off call when a query says another is on call leave one on call',
    requires: transactional,
    async run(context) {
      const name = context.collectionName('doctors');
      await seedDoctors(context.backend, name);
      const bothCounted = rendezvous(2);
      const goOffCall = (id: string) => () =>
        context.backend.transaction(async (tx) => {
          const doctors = tx.repository<Doctor>(name);
          const onCall = await doctors.count({ team: 'red', onCall: true });
          await bothCounted();
          if (onCall >= 2) await doctors.update(id, { onCall: false });
        });
      await settleAll([goOffCall('alice'), goOffCall('bob')]);
      expect(
        await context.backend.repository<Doctor>(name).count({ team: 'red', onCall: true }),
      ).toBeGreaterThanOrEqual(1);
    },
  },
  {
    name: 'phantoms are prevented: two transactions that insert only if a find sees fewer than three red members leave three',
    requires: transactional,
    async run(context) {
      const name = context.collectionName('doctors');
      await seedDoctors(context.backend, name);
      const bothFound = rendezvous(2);
      const join = (id: string) => () =>
        context.backend.transaction(async (tx) => {
          const doctors = tx.repository<Doctor>(name);
          const members = await doctors.find({ where: { team: 'red' } });
          await bothFound();
          if (members.length < 3) await doctors.insert({ id, onCall: false, team: 'red' });
        });
      const committed = await settleAll([join('dave'), join('erin')]);
      expect(committed).toBeGreaterThanOrEqual(1);
      expect(await context.backend.repository<Doctor>(name).count({ team: 'red' })).toBe(3);
    },
  },
  {
    name: 'a transaction that counted one team commits although a concurrent write changed a document of another team',
    requires: transactional,
    async run(context) {
      const name = context.collectionName('doctors');
      await seedDoctors(context.backend, name);
      const outside = context.backend.repository<Doctor>(name);
      const counted = deferred();
      const written = deferred();
      const transaction = context.backend.transaction(async (tx) => {
        const doctors = tx.repository<Doctor>(name);
        const count = await doctors.count({ team: 'red' });
        const found = await doctors.find({ where: { team: 'red', onCall: true } });
        counted.resolve();
        // An engine that locks holds the outside write back until this transaction ends.
        await Promise.race([written.promise, sleep(RENDEZVOUS_MS)]);
        await doctors.update('alice', { n: count + found.length });
        return count;
      });
      await counted.promise;
      const write = outside.update('carol', { n: 5, onCall: false }).finally(() => written.resolve());
      const [red] = await Promise.all([transaction, write]);
      expect(red).toBe(2);
      expect(await outside.find({ orderBy: 'id' })).toStrictEqual([
        { id: 'alice', onCall: true, team: 'red', n: 4 },
        { id: 'bob', onCall: true, team: 'red', n: 0 },
        { id: 'carol', onCall: false, team: 'blue', n: 5 },
      ]);
    },
  },
]);
