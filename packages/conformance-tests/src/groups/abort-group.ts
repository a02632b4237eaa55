import type { Repository } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceContext, type ConformanceGroup, defineGroup } from '../harness.js';
import { expectBerthError, expectUnchanged, type LooseDocument, snapshot } from './assertions.js';

class StopReason extends Error {}

async function seeded(context: ConformanceContext, count = 3): Promise<Repository<LooseDocument>> {
  const repository = context.repository<LooseDocument>();
  await repository.insertMany(Array.from({ length: count }, (_, index) => ({ id: `d${index}`, n: index })));
  return repository;
}

/** A signal that has already fired, and the reason it fired with. */
function aborted(): { signal: AbortSignal; reason: StopReason } {
  const reason = new StopReason('caller gave up');
  const controller = new AbortController();
  controller.abort(reason);
  return { signal: controller.signal, reason };
}

/**
 * Repository calls, transactions and iteration given an already-aborted signal: each rejects with `ABORTED`
 * (cause: the signal's reason) and writes nothing.
 *
 * ### Examples
 * ```ts
 * import { abortGroup, type ConformanceOptions, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(abortGroup, options);
 * ```
 */
export const abortGroup: ConformanceGroup = defineGroup('abort', [
  {
    name: 'reads with an already-aborted signal reject with ABORTED whose cause is the signal reason',
    async run(context) {
      const repository = await seeded(context);
      const { signal, reason } = aborted();
      const options = { signal };
      const expected = { cause: reason };
      await expectBerthError(repository.get('d0', options), 'ABORTED', expected);
      await expectBerthError(repository.getEntry('d0', options), 'ABORTED', expected);
      await expectBerthError(repository.getMany(['d0'], options), 'ABORTED', expected);
      await expectBerthError(repository.find({}, options), 'ABORTED', expected);
      await expectBerthError(repository.findOne({}, options), 'ABORTED', expected);
      await expectBerthError(repository.findPage({ limit: 1 }, options), 'ABORTED', expected);
      await expectBerthError(repository.count({}, options), 'ABORTED', expected);
      await expectBerthError(repository.countBy('n', {}, options), 'ABORTED', expected);
      await expectBerthError(repository.exists({}, options), 'ABORTED', expected);
      await expectBerthError(repository.explain({}, options), 'ABORTED', expected);
    },
  },
  {
    name: 'writes with an already-aborted signal reject with ABORTED and write nothing',
    async run(context) {
      const repository = await seeded(context);
      const before = await snapshot(repository);
      const { signal, reason } = aborted();
      const options = { signal };
      const expected = { cause: reason };
      await expectBerthError(repository.insert({ id: 'new', n: 9 }, options), 'ABORTED', expected);
      await expectBerthError(repository.replace({ id: 'd0', n: 9 }, options), 'ABORTED', expected);
      await expectBerthError(repository.upsert({ id: 'd0', n: 9 }, options), 'ABORTED', expected);
      await expectBerthError(repository.update('d0', { $inc: { n: 1 } }, options), 'ABORTED', expected);
      await expectBerthError(repository.delete('d0', options), 'ABORTED', expected);
      await expectBerthError(repository.insertMany([{ id: 'm1' }, { id: 'm2' }], options), 'ABORTED', expected);
      await expectBerthError(repository.upsertMany([{ id: 'd1', n: 9 }], options), 'ABORTED', expected);
      await expectBerthError(repository.updateMany({}, { $set: { n: 9 } }, options), 'ABORTED', expected);
      await expectBerthError(repository.deleteMany({}, options), 'ABORTED', expected);
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'an already-aborted signal without a reason rejects with ABORTED whose cause is the default AbortError',
    async run(context) {
      const repository = await seeded(context);
      const controller = new AbortController();
      controller.abort();
      const error = await expectBerthError(repository.insert({ id: 'new' }, { signal: controller.signal }), 'ABORTED', {
        cause: controller.signal.reason,
      });
      expect((error.cause as Error).name).toBe('AbortError');
      expect(await repository.get('new')).toBeNull();
    },
  },
  {
    name: 'a transaction with an already-aborted signal rejects with ABORTED and never commits its work',
    requires: (capabilities) => capabilities.repository.transactions !== 'none',
    async run(context) {
      const repository = await seeded(context);
      const before = await snapshot(repository);
      const { signal, reason } = aborted();
      await expectBerthError(
        context.backend.transaction(
          async (tx) => {
            await tx.repository<LooseDocument>(repository.name).insert({ id: 'inside', n: 1 });
          },
          { signal },
        ),
        'ABORTED',
        { cause: reason },
      );
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'iterate with an already-aborted signal rejects with ABORTED before yielding anything',
    async run(context) {
      const repository = await seeded(context);
      const { signal, reason } = aborted();
      const yielded: unknown[] = [];
      await expectBerthError(
        async () => {
          for await (const document of repository.iterate({}, { signal })) yielded.push(document);
        },
        'ABORTED',
        { cause: reason },
      );
      expect(yielded).toStrictEqual([]);
    },
  },
  {
    name: 'aborting while iterating stops the iteration with ABORTED before the end',
    async run(context) {
      const repository = await seeded(context, 50);
      const controller = new AbortController();
      const reason = new StopReason('enough');
      const yielded: unknown[] = [];
      await expectBerthError(
        async () => {
          for await (const document of repository.iterate(
            { orderBy: 'id' },
            { signal: controller.signal, batchSize: 5 },
          )) {
            yielded.push(document);
            if (yielded.length === 3) controller.abort(reason);
          }
        },
        'ABORTED',
        { cause: reason },
      );
      expect(yielded.length).toBeGreaterThanOrEqual(3);
      expect(yielded.length).toBeLessThan(50);
    },
  },
]);
