import { expect } from 'vitest';
import { expectBerthError, present } from '../groups/assertions.js';
import type { ConformanceGroup } from '../harness.js';
import {
  abortedSignal,
  bytes,
  expectMissing,
  expectSameBytes,
  expectStored,
  seed,
} from './document-store-assertions.js';
import {
  type DocumentStoreConformanceContext,
  type DocumentStoreHandles,
  defineDocumentStoreGroup,
} from './document-store-context.js';

/**
 * `read` and `write` given an already-aborted signal reject with `ABORTED` and change nothing.
 *
 * ### Examples
 * ```ts
 * import {
 *   type DocumentStoreConformanceOptions,
 *   documentStoreAbortGroup,
 *   documentStoreRunOptions,
 *   registerGroup,
 * } from '@berth/conformance-tests';
 *
 * declare const options: DocumentStoreConformanceOptions; // what your store passes to documentStoreConformance
 * registerGroup(documentStoreAbortGroup, documentStoreRunOptions(options));
 * ```
 */
export const documentStoreAbortGroup: ConformanceGroup<DocumentStoreHandles, DocumentStoreConformanceContext> =
  defineDocumentStoreGroup('document-store-abort', [
    {
      name: 'read with an already-aborted signal rejects with ABORTED whose cause is the signal reason',
      async run({ store }) {
        const { signal, reason } = abortedSignal();
        await expectBerthError(() => store.read({ signal }), 'ABORTED', { cause: reason });
        await seed(store, bytes('content'));
        await expectBerthError(() => store.read({ signal }), 'ABORTED', { cause: reason });
      },
    },
    {
      name: 'write with an already-aborted signal rejects with ABORTED and creates nothing, with or without a precondition',
      async run({ store }) {
        const { signal, reason } = abortedSignal();
        await expectBerthError(() => store.write(bytes('a'), { signal }), 'ABORTED', { cause: reason });
        await expectBerthError(() => store.write(bytes('b'), { ifNoneMatch: '*', signal }), 'ABORTED', {
          cause: reason,
        });
        await expectMissing(store);
        // Nothing was left half-done (a lock, a pending upload): the next write goes through.
        const data = bytes('created after the aborted writes');
        const { etag } = await store.write(data, { ifNoneMatch: '*' });
        await expectStored(store, data, etag);
      },
    },
    {
      name: 'write with an already-aborted signal rejects with ABORTED and leaves an existing document and its ETag unchanged',
      async run({ store }) {
        const data = bytes('original');
        const etag = await seed(store, data);
        const { signal, reason } = abortedSignal();
        await expectBerthError(() => store.write(bytes('x'), { signal }), 'ABORTED', { cause: reason });
        await expectBerthError(() => store.write(bytes('y'), { ifMatch: etag, signal }), 'ABORTED', { cause: reason });
        await expectStored(store, data, etag);
        // The ETag is still current, so compare-and-swap from it succeeds.
        const next = bytes('next');
        const { etag: nextEtag } = await store.write(next, { ifMatch: etag });
        await expectStored(store, next, nextEtag);
      },
    },
    {
      name: 'a signal that has not fired lets reads and writes proceed',
      async run({ store }) {
        const { signal } = new AbortController();
        expect(await store.read({ signal })).toBeNull();
        const data = bytes('with a live signal');
        const { etag } = await store.write(data, { ifNoneMatch: '*', signal });
        const stored = present(await store.read({ signal }), 'the document');
        expectSameBytes(stored.data, data);
        expect(stored.etag).toBe(etag);
      },
    },
  ]);
