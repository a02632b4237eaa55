import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import { expectBerthError } from './assertions.js';

/**
 * Lifecycle: connect, health, close and disposal behave the same on every
 * backend, so application start-up and shutdown code is portable.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, lifecycleGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(lifecycleGroup, options);
 * ```
 */
export const lifecycleGroup: ConformanceGroup = defineGroup('lifecycle', [
  {
    name: 'connect() can be called again without harm',
    async run({ backend, repository }) {
      await backend.connect();
      await backend.connect();
      const items = repository();
      await items.insert({ id: 'a' });
      expect(await items.count()).toBe(1);
    },
  },
  {
    name: 'health() reports ok with a latency while the backend is open',
    async run({ backend }) {
      const health = await backend.health();
      expect(health.ok).toBe(true);
      expect(typeof health.latencyMs).toBe('number');
      expect(health.latencyMs).toBeGreaterThanOrEqual(0);
    },
  },
  {
    name: 'close() is idempotent and a closed backend refuses operations with CONNECTION',
    async run({ backend, collectionName }) {
      const items = backend.repository(collectionName());
      await items.insert({ id: 'a' });
      await backend.close();
      await backend.close();
      // Not retryable: retrying cannot reopen a backend the application closed.
      await expectBerthError(items.get('a'), 'CONNECTION', { retryable: false });
      await expectBerthError(items.insert({ id: 'b' }), 'CONNECTION', { retryable: false });
      expect((await backend.health()).ok).toBe(false);
    },
  },
  {
    name: 'close() waits for a running transaction: it commits before close() resolves',
    requires: (capabilities) => capabilities.repository.transactions !== 'none',
    async run({ backend, collectionName }) {
      const name = collectionName();
      let started: () => void = () => undefined;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      let committed = false;
      const transaction = backend
        .transaction(async (tx) => {
          await tx.repository(name).insert({ id: 'in-transaction' });
          started();
          await new Promise((resolve) => setTimeout(resolve, 100));
        })
        .then(() => {
          committed = true;
        });
      await running;
      await backend.close();
      expect(committed, 'the transaction had committed when close() resolved').toBe(true);
      await transaction;
    },
  },
  {
    name: 'flush() resolves while open, refuses an aborted signal, and resolves after close()',
    async run({ backend, collectionName }) {
      const items = backend.repository(collectionName());
      await items.insert({ id: 'a' });
      await backend.flush();
      await backend.flush({});
      await backend.flush({ signal: new AbortController().signal });
      await expectBerthError(backend.flush({ signal: AbortSignal.abort() }), 'ABORTED');
      expect(await items.get('a')).toStrictEqual({ id: 'a' });
      await backend.close();
      // Closing saved everything: there is nothing left to flush, and nothing to refuse.
      await backend.flush();
      await backend.flush();
    },
  },
  {
    name: 'after flush() on a durable backend, a second backend on the same storage reads what was written',
    requires: (capabilities) => capabilities.repository.durable,
    async run({ backend, collectionName, openSameStorage }) {
      if (openSameStorage === undefined) {
        // The shared-storage group fails this run for it; here there is no second backend to ask.
        throw new Error('a durable adapter needs openSameStorage in its conformance run');
      }
      const name = collectionName();
      const items = backend.repository<{ id: string; n: number }>(name);
      await items.insertMany([
        { id: 'a', n: 1 },
        { id: 'b', n: 2 },
      ]);
      await items.update('a', { $inc: { n: 10 } });
      await backend.flush();
      const second = await openSameStorage();
      expect(await second.repository<{ id: string; n: number }>(name).find({ orderBy: 'id' })).toStrictEqual([
        { id: 'a', n: 11 },
        { id: 'b', n: 2 },
      ]);
    },
  },
  {
    name: 'await using closes the backend at the end of the scope',
    async run({ backend, collectionName }) {
      const items = backend.repository(collectionName());
      {
        await using scoped = backend;
        await scoped.repository(collectionName()).count();
      }
      await expectBerthError(items.count(), 'CONNECTION');
    },
  },
]);
