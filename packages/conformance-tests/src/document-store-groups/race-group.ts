import { type DocumentStore, isBerthError } from '@berth/core';
import { expect } from 'vitest';
import type { ConformanceGroup } from '../harness.js';
import { bytes, expectOneWinner, expectStored, race, seed, text } from './document-store-assertions.js';
import {
  type DocumentStoreConformanceContext,
  type DocumentStoreHandles,
  defineDocumentStoreGroup,
} from './document-store-context.js';

/** How many writers race in each case. */
const WRITERS = 10;

/** One handle per writer, each opened like another process would open the document. */
async function handles(context: DocumentStoreConformanceContext, count: number): Promise<DocumentStore[]> {
  const opened: DocumentStore[] = [];
  for (let index = 0; index < count; index++) opened.push(await context.createStore());
  return opened;
}

/**
 * Adds one to a counter stored as text, by read then compare-and-swap,
 * retrying from a fresh read after each CONFLICT as a real client would.
 */
async function increment(store: DocumentStore, maxAttempts: number): Promise<void> {
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const current = await store.read();
    const next = bytes(String(current === null ? 1 : Number(text(current.data)) + 1));
    try {
      await store.write(next, current === null ? { ifNoneMatch: '*' } : { ifMatch: current.etag });
      return;
    } catch (error) {
      if (!isBerthError(error, 'CONFLICT')) throw error;
    }
  }
  expect.unreachable(`no increment succeeded in ${maxAttempts} attempts`);
}

/**
 * Compare-and-swap races between two handles on one document: exactly one winner per round, and retried
 * increments lose no update.
 *
 * ### Examples
 * ```ts
 * import {
 *   type DocumentStoreConformanceOptions,
 *   documentStoreRaceGroup,
 *   documentStoreRunOptions,
 *   registerGroup,
 * } from '@berth/conformance-tests';
 *
 * declare const options: DocumentStoreConformanceOptions; // what your store passes to documentStoreConformance
 * registerGroup(documentStoreRaceGroup, documentStoreRunOptions(options));
 * ```
 */
export const documentStoreRaceGroup: ConformanceGroup<DocumentStoreHandles, DocumentStoreConformanceContext> =
  defineDocumentStoreGroup('document-store-race', [
    {
      name: `of ${WRITERS} concurrent writes with ifMatch on the same ETag exactly one succeeds, the others fail with CONFLICT, and the winner's content is stored`,
      async run(context) {
        const start = await seed(context.store, bytes('start'));
        const writers = (await handles(context, WRITERS)).map((store, index) => ({
          store,
          data: bytes(`written by writer ${index}`),
        }));
        const outcomes = await race(writers, ({ store, data }) => store.write(data, { ifMatch: start }));
        const winner = expectOneWinner(outcomes);
        await expectStored(context.store, winner.entry.data, winner.etag);
      },
    },
    {
      name: `of ${WRITERS} concurrent create-only writes (ifNoneMatch "*") on a missing document exactly one succeeds`,
      async run(context) {
        const writers = (await handles(context, WRITERS)).map((store, index) => ({
          store,
          data: bytes(`created by writer ${index}`),
        }));
        const outcomes = await race(writers, ({ store, data }) => store.write(data, { ifNoneMatch: '*' }));
        const winner = expectOneWinner(outcomes);
        await expectStored(context.store, winner.entry.data, winner.etag);
      },
    },
    {
      name: 'every round of a repeated compare-and-swap race has exactly one winner, starting from the last winner',
      async run(context) {
        const writers = await handles(context, 4);
        let etag = await seed(context.store, bytes('round 0'));
        for (let round = 1; round <= 5; round++) {
          const entries = writers.map((store, index) => ({ store, data: bytes(`round ${round} by writer ${index}`) }));
          const expected = etag;
          const outcomes = await race(entries, ({ store, data }) => store.write(data, { ifMatch: expected }));
          const winner = expectOneWinner(outcomes);
          await expectStored(context.store, winner.entry.data, winner.etag);
          etag = winner.etag;
        }
      },
    },
    {
      name: 'concurrent read-then-compare-and-swap increments that retry on CONFLICT lose no update',
      async run(context) {
        const writers = await handles(context, 5);
        const perWriter = 4;
        await Promise.all(
          writers.map(async (writer) => {
            for (let n = 0; n < perWriter; n++) await increment(writer, 200);
          }),
        );
        await expectStored(context.store, bytes(String(writers.length * perWriter)));
      },
    },
  ]);
