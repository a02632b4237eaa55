import type { Backend, Capabilities, Document, QueueBackend, RepositoryBackend } from '@berth/core';
import { expect } from 'vitest';
import { deferred, expectBerthError, sleep } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { dequeueNow, hasQueue, jobOf, jobStats, NO_JOBS } from './queue-assertions.js';

interface Order extends Document {
  total: number;
}

class WorkFailed extends Error {}

/**
 * How long an outside read may take while a transaction is open before the
 * case stops holding it to "sees nothing": engines that lock may hold the
 * read back until the commit.
 */
const RENDEZVOUS_MS = 300;

const transactionalEnqueue = (capabilities: Capabilities): boolean =>
  hasQueue(capabilities) && capabilities.queue.transactionalEnqueue && capabilities.repository.transactions !== 'none';

/** The backend as a repository backend too, which transactional enqueue needs. */
function asBackend(backend: QueueBackend): Backend {
  const candidate = backend as Partial<RepositoryBackend>;
  if (typeof candidate.transaction !== 'function') {
    return expect.unreachable('the adapter claims transactional enqueue but its backend has no transaction()');
  }
  return backend as Backend;
}

/**
 * Enqueue inside a repository transaction: jobs exist only once it commits and roll back with its writes;
 * `UNSUPPORTED` where the queue does not live with the repositories.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueTransactionGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueTransactionGroup, options);
 * ```
 */
export const queueTransactionGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-transaction',
  [
    {
      name: 'a job enqueued inside a transaction exists only once it commits, not visible to dequeue before',
      requires: transactionalEnqueue,
      async run(context) {
        const backend = asBackend(context.backend);
        const queueName = context.queueName('q');
        const queue = backend.queue<{ order: string }>(queueName);
        const orders = backend.repository<Order>(context.collectionName('orders'));
        const enqueued = deferred<string>();
        const release = deferred();
        let released = false;
        const transaction = backend.transaction(async (tx) => {
          await tx.repository<Order>(orders.name).insert({ id: 'o1', total: 10 });
          const result = await tx.queue<{ order: string }>(queueName).enqueue({ order: 'o1' });
          expect(result.deduplicated).toBe(false);
          enqueued.resolve(result.id);
          await release.promise;
          return result.id;
        });
        const id = await enqueued.promise;
        const outside = Promise.all([queue.dequeue(), queue.get(id), queue.stats()]).then((seen) => ({
          seen,
          duringTransaction: !released,
        }));
        await Promise.race([outside, sleep(RENDEZVOUS_MS)]);
        released = true;
        release.resolve();
        expect(await transaction).toBe(id);
        const { seen, duringTransaction } = await outside;
        if (duringTransaction) expect(seen).toStrictEqual([null, null, NO_JOBS]);
        const job = await jobOf(queue, id);
        expect(job.state).toBe('waiting');
        expect(job.payload).toStrictEqual({ order: 'o1' });
        expect(await orders.get('o1')).toStrictEqual({ id: 'o1', total: 10 });
        const lease = await dequeueNow(queue);
        expect(lease.job.id).toBe(id);
      },
    },
    {
      name: 'a transaction that throws rolls back its enqueued jobs with its writes',
      requires: transactionalEnqueue,
      async run(context) {
        const backend = asBackend(context.backend);
        const queueName = context.queueName('q');
        const queue = backend.queue<string>(queueName);
        const orders = backend.repository<Order>(context.collectionName('orders'));
        const failure = new WorkFailed('payment declined');
        const ids: string[] = [];
        await expect(
          backend.transaction(async (tx) => {
            await tx.repository<Order>(orders.name).insert({ id: 'o1', total: 10 });
            const jobs = tx.queue<string>(queueName);
            ids.push((await jobs.enqueue('charge', { dedupeKey: 'order:o1' })).id);
            for (const result of await jobs.enqueueMany([{ payload: 'mail' }, { payload: 'invoice', delayMs: 10 }])) {
              ids.push(result.id);
            }
            throw failure;
          }),
        ).rejects.toBe(failure);
        expect(ids).toHaveLength(3);
        for (const id of ids) expect(await queue.get(id), id).toBeNull();
        expect(await queue.stats()).toStrictEqual(NO_JOBS);
        expect(await queue.dequeue()).toBeNull();
        expect(await orders.get('o1')).toBeNull();
        // The rolled-back job never held its dedupe key.
        expect((await queue.enqueue('charge', { dedupeKey: 'order:o1' })).deduplicated).toBe(false);
      },
    },
    {
      name: 'jobs enqueued with enqueueMany inside a transaction all commit with it, options applied',
      requires: transactionalEnqueue,
      async run(context) {
        const backend = asBackend(context.backend);
        const queueName = context.queueName('q');
        const results = await backend.transaction((tx) =>
          tx
            .queue<string>(queueName)
            .enqueueMany([{ payload: 'low' }, { payload: 'high', priority: 3 }, { payload: 'later', delayMs: 60_000 }]),
        );
        const queue = backend.queue<string>(queueName);
        expect(results).toHaveLength(3);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 3 }));
        expect((await dequeueNow(queue)).job.payload).toBe('high');
        expect((await dequeueNow(queue)).job.payload).toBe('low');
        expect(await queue.dequeue()).toBeNull();
      },
    },
    {
      name: 'a transactional enqueue deduplicates against jobs already committed',
      requires: transactionalEnqueue,
      async run(context) {
        const backend = asBackend(context.backend);
        const queueName = context.queueName('q');
        const queue = backend.queue<string>(queueName);
        const existing = await queue.enqueue('first', { dedupeKey: 'k' });
        const result = await backend.transaction((tx) =>
          tx.queue<string>(queueName).enqueue('second', { dedupeKey: 'k' }),
        );
        expect(result).toStrictEqual({ id: existing.id, deduplicated: true });
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1 }));
      },
    },
    {
      name: 'enqueue through a transaction is UNSUPPORTED when the queue does not live with the repositories',
      requires: (capabilities) =>
        !capabilities.queue.transactionalEnqueue && capabilities.repository.transactions !== 'none',
      async run(context) {
        const candidate = context.backend as Partial<RepositoryBackend>;
        // A queue-only backend has no transactions to enqueue through.
        if (typeof candidate.transaction !== 'function') return;
        const backend = context.backend as Backend;
        const queueName = context.queueName('q');
        await expectBerthError(
          () => backend.transaction(async (tx) => tx.queue<string>(queueName).enqueue('never')),
          'UNSUPPORTED',
        );
        if (hasQueue(context.capabilities)) {
          expect(await backend.queue<string>(queueName).stats()).toStrictEqual(NO_JOBS);
        }
      },
    },
  ],
);
