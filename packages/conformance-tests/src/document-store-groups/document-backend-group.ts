import type { Document, DocumentStore } from '@berth/core';
import { expect } from 'vitest';
import { expectBerthError } from '../groups/assertions.js';
import type { ConformanceCase, ConformanceGroup } from '../harness.js';
import type { DocumentBackedBackend, DocumentBackendOptions, DocumentStoreHandles } from './document-store-context.js';

/**
 * What each `document-backend` case receives.
 *
 * ### Examples
 * ```ts
 * import type { DocumentBackendConformanceContext } from '@berth/conformance-tests';
 *
 * async function survivesReload({ openBackend }: DocumentBackendConformanceContext): Promise<void> {
 *   const writer = await openBackend();
 *   await writer.repository('notes').insert({ id: 'a' });
 *   await writer.close();
 *   const reader = await openBackend();
 *   if ((await reader.repository('notes').get('a')) === null) throw new Error('not saved on close');
 * }
 * ```
 */
export interface DocumentBackendConformanceContext {
  /** The store under test, on a fresh document. */
  readonly store: DocumentStore;
  /**
   * A document-backed backend on its own handle of the document, as another
   * process would open it. By default it saves only on `flush()` and `close()`.
   */
  openBackend(options?: Partial<DocumentBackendOptions>): Promise<DocumentBackedBackend>;
  readonly timeoutMs: number;
}

/** Long enough that nothing is saved by the timers unless a case asks for it. */
const NO_TIMED_SAVES: DocumentBackendOptions = { debounceMs: 600_000, maxWaitMs: 600_000 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ids that are also members of every plain object: in a JSON document they are keys, and data. */
const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf'];

interface Item extends Document {
  n: number;
}

/**
 * Writes one document through each of two backends that loaded the same
 * version; with `conflicts: 'fail'` the second save must fail.
 */
async function expectSecondSaveConflicts(context: DocumentBackendConformanceContext): Promise<void> {
  const first = await context.openBackend({ conflicts: 'fail' });
  const second = await context.openBackend({ conflicts: 'fail' });
  await first.connect();
  await second.connect();
  await first.repository<Item>('items').insert({ id: 'from-first', n: 1 });
  await first.flush();
  await second.repository<Item>('items').insert({ id: 'from-second', n: 2 });
  await expectBerthError(second.flush(), 'CONFLICT');
  // It stays refused rather than overwrite later.
  await expectBerthError(second.repository<Item>('items').insert({ id: 'later', n: 3 }), 'CONFLICT');
  const reader = await context.openBackend();
  expect(
    await reader.repository<Item>('items').getMany(['from-first', 'from-second', 'later']),
    'what the store holds',
  ).toEqual([{ id: 'from-first', n: 1 }, null, null]);
}

const cases: readonly ConformanceCase<DocumentBackendConformanceContext>[] = [
  {
    name: 'writes that keep coming faster than the debounce are saved within the maximum wait, without a flush',
    async run(context) {
      const debounceMs = 400;
      const maxWaitMs = 600;
      // A save may take a while on a slow store or a busy machine.
      const slackMs = 1_000;
      const writer = await context.openBackend({ debounceMs, maxWaitMs });
      const items = writer.repository<Item>('items');
      const started = Date.now();
      const written: { readonly id: string; readonly at: number }[] = [];
      // One write every 20 ms never leaves the 400 ms of quiet the debounce waits for.
      for (let n = 0; Date.now() - started < 2_500; n++) {
        await items.insert({ id: `w${n}`, n });
        written.push({ id: `w${n}`, at: Date.now() - started });
        await sleep(20);
      }
      const ended = Date.now() - started;
      const reader = await context.openBackend();
      const saved = await reader.repository<Item>('items').getMany(written.map((write) => write.id));
      const cutoff = ended - maxWaitMs - slackMs;
      expect(written.filter((write) => write.at < cutoff).length, 'writes old enough to be saved').toBeGreaterThan(0);
      for (const [index, write] of written.entries()) {
        if (write.at >= cutoff) break;
        expect(saved[index], `${write.id}, written ${ended - write.at} ms before the stream ended`).not.toBeNull();
      }
    },
  },
  {
    name: "two backends with conflicts: 'fail' that loaded the same version of an existing document: the second save is a CONFLICT, never an overwrite",
    async run(context) {
      const seeder = await context.openBackend();
      await seeder.repository<Item>('items').insert({ id: 'seed', n: 0 });
      await seeder.close();
      await expectSecondSaveConflicts(context);
      const reader = await context.openBackend();
      expect(await reader.repository<Item>('items').get('seed')).toEqual({ id: 'seed', n: 0 });
    },
  },
  {
    name: "two backends with conflicts: 'fail' that both found no document: the second save is a CONFLICT, never an overwrite",
    async run(context) {
      await expectSecondSaveConflicts(context);
    },
  },
  {
    name: "two backends with conflicts: 'merge' that loaded the same version write different documents: both are saved and both see them",
    async run(context) {
      const seeder = await context.openBackend();
      await seeder.repository<Item>('items').insert({ id: 'seed', n: 0 });
      await seeder.close();
      const heard: unknown[] = [];
      const first = await context.openBackend({ conflicts: 'merge', onSaveError: (error) => heard.push(error) });
      const second = await context.openBackend({ conflicts: 'merge', onSaveError: (error) => heard.push(error) });
      await first.connect();
      await second.connect();
      await first.repository<Item>('items').insert({ id: 'from-first', n: 1 });
      await first.repository<Item>('items').update('seed', { $set: { n: 10 } });
      await first.flush();
      await second.repository<Item>('items').insert({ id: 'from-second', n: 2 });
      await second.flush();
      await second.repository<Item>('items').insert({ id: 'later', n: 3 });
      await second.flush();
      expect(heard, 'what the save error hooks heard').toEqual([]);
      const expected = [
        { id: 'seed', n: 10 },
        { id: 'from-first', n: 1 },
        { id: 'from-second', n: 2 },
        { id: 'later', n: 3 },
      ];
      const ids = expected.map((item) => item.id);
      expect(await second.repository<Item>('items').getMany(ids), 'what the second backend reads').toEqual(expected);
      const reader = await context.openBackend();
      expect(await reader.repository<Item>('items').getMany(ids), 'what the store holds').toEqual(expected);
      await first.close();
      await second.close();
    },
  },
  {
    name: "two backends with conflicts: 'merge' that both found no document and both changed one document: the first save wins, the second hears CONFLICT for it",
    async run(context) {
      const heard: unknown[] = [];
      const first = await context.openBackend({ conflicts: 'merge' });
      const second = await context.openBackend({ conflicts: 'merge', onSaveError: (error) => heard.push(error) });
      await first.connect();
      await second.connect();
      await first.repository<Item>('items').insert({ id: 'same', n: 1 });
      await first.flush();
      await second.repository<Item>('items').insert({ id: 'same', n: 2 });
      await second.repository<Item>('items').insert({ id: 'other', n: 3 });
      await second.flush();
      expect(heard).toHaveLength(1);
      expect(heard[0]).toMatchObject({ code: 'CONFLICT', collection: 'items', id: 'same' });
      const reader = await context.openBackend();
      expect(await reader.repository<Item>('items').getMany(['same', 'other']), 'what the store holds').toEqual([
        { id: 'same', n: 1 },
        { id: 'other', n: 3 },
      ]);
      await first.close();
      await second.close();
    },
  },
  {
    name: 'ids and collections named like Object.prototype members (__proto__, constructor…) survive close and reload',
    async run(context) {
      const writer = await context.openBackend();
      const items = writer.repository<Item>('items');
      for (const [n, id] of PROTOTYPE_NAMES.entries()) await items.insert({ id, n });
      await items.update('__proto__', { $set: { n: 100 } });
      for (const name of ['constructor', 'toString', 'valueOf']) {
        await writer.repository<Item>(name).insert({ id: '__proto__', n: 1 });
      }
      await writer.close();
      const reader = await context.openBackend();
      const again = reader.repository<Item>('items');
      expect((await again.find()).map((item) => item.id).sort()).toEqual([...PROTOTYPE_NAMES].sort());
      const entry = await again.getEntry('__proto__');
      expect(entry?.document).toEqual({ id: '__proto__', n: 100 });
      expect(entry?.meta.version).toBe(2);
      for (const name of ['constructor', 'toString', 'valueOf']) {
        expect(await reader.repository<Item>(name).get('__proto__'), name).toEqual({ id: '__proto__', n: 1 });
      }
    },
  },
  {
    name: 'a new backend loads what close() saved: values, versions and timestamps unchanged',
    async run(context) {
      const writer = await context.openBackend();
      const items = writer.repository('items');
      const document = {
        id: 'values',
        big: 2 ** 62,
        tiny: 5e-324,
        huge: -1e308,
        zero: -0,
        text: 'a\tb 𝄞 e\u0301 é',
        born: new Date('0001-02-03T04:05:06.007Z'),
        nested: { list: [{ a: 1 }, [true, null]], empty: {} },
      };
      await items.insert(document);
      await items.update('values', { $inc: { big: 0 } });
      const before = await items.getEntry('values');
      await writer.close();
      const reader = await context.openBackend();
      const after = await reader.repository('items').getEntry('values');
      expect(after).toEqual(before);
      expect(Object.is(after?.document.zero, 0), '-0 is stored as 0').toBe(true);
    },
  },
  {
    name: 'close() waits for a running transaction and saves its writes',
    async run(context) {
      const writer = await context.openBackend();
      await writer.connect();
      let started: () => void = () => undefined;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      const transaction = writer.transaction(async (tx) => {
        await tx.repository<Item>('items').insert({ id: 'in-transaction', n: 1 });
        started();
        await sleep(100);
      });
      await running;
      await writer.close();
      await transaction;
      const reader = await context.openBackend();
      expect(await reader.repository<Item>('items').get('in-transaction')).toEqual({ id: 'in-transaction', n: 1 });
    },
  },
];

/**
 * The document-backed backend on the store under test: saves under a steady
 * stream of writes, conflicts between two backends, what survives close and
 * reload. Registered when `createDocumentBackend` is given.
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, MemoryDocumentStore } from '@berth/adapter-memory';
 * import { documentBackendGroup, documentStoreRunOptions, registerGroup } from '@berth/conformance-tests';
 *
 * const options = documentStoreRunOptions({
 *   name: 'memory',
 *   createStore: () => new MemoryDocumentStore(),
 *   createDocumentBackend: (store, config) => new DocumentBackend({ store, ...config }),
 * });
 * registerGroup(documentBackendGroup, options);
 * ```
 */
export const documentBackendGroup: ConformanceGroup<DocumentStoreHandles, DocumentBackendConformanceContext> = {
  name: 'document-backend',
  cases,
  createContext: (base) => ({
    store: base.backend.store,
    openBackend: (options) => base.backend.openBackend({ ...NO_TIMED_SAVES, ...options }),
    timeoutMs: base.timeoutMs,
  }),
};
