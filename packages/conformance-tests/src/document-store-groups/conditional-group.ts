import type { DocumentWriteOptions } from '@berth/core';
import { expect } from 'vitest';
import { expectBerthError, invalid } from '../groups/assertions.js';
import type { ConformanceGroup } from '../harness.js';
import { bytes, expectEtag, expectMissing, expectStored, seed } from './document-store-assertions.js';
import {
  type DocumentStoreConformanceContext,
  type DocumentStoreHandles,
  defineDocumentStoreGroup,
} from './document-store-context.js';

/**
 * Conditional writes: `ifNoneMatch: '*'` creates only a missing document, `ifMatch` writes only over the ETag
 * given, anything else is `CONFLICT`.
 *
 * ### Examples
 * ```ts
 * import {
 *   type DocumentStoreConformanceOptions,
 *   documentStoreConditionalGroup,
 *   documentStoreRunOptions,
 *   registerGroup,
 * } from '@berth/conformance-tests';
 *
 * declare const options: DocumentStoreConformanceOptions; // what your store passes to documentStoreConformance
 * registerGroup(documentStoreConditionalGroup, documentStoreRunOptions(options));
 * ```
 */
export const documentStoreConditionalGroup: ConformanceGroup<DocumentStoreHandles, DocumentStoreConformanceContext> =
  defineDocumentStoreGroup('document-store-conditional', [
    {
      name: 'ifNoneMatch "*" creates a missing document and returns its ETag',
      async run({ store }) {
        const data = bytes('created');
        const { etag } = await store.write(data, { ifNoneMatch: '*' });
        expectEtag(etag);
        await expectStored(store, data, etag);
      },
    },
    {
      name: 'ifNoneMatch "*" on an existing document fails with CONFLICT and leaves content and ETag unchanged',
      async run({ store, createStore }) {
        const data = bytes('first');
        const { etag } = await store.write(data, { ifNoneMatch: '*' });
        await expectBerthError(() => store.write(bytes('second'), { ifNoneMatch: '*' }), 'CONFLICT');
        await expectStored(store, data, etag);
        // The same holds for a document another handle created.
        const other = await createStore();
        await expectBerthError(() => other.write(bytes('third'), { ifNoneMatch: '*' }), 'CONFLICT');
        await expectStored(store, data, etag);
      },
    },
    {
      name: 'ifMatch with the current ETag writes and returns the new ETag',
      async run({ store }) {
        const first = await seed(store, bytes('version 1'));
        const data = bytes('version 2');
        const { etag } = await store.write(data, { ifMatch: first });
        expectEtag(etag);
        expect(etag, 'new content has a new ETag').not.toBe(first);
        await expectStored(store, data, etag);
        // The ETag a read returns works as a precondition as well as the one a write returned.
        const read = await expectStored(store, data, etag);
        const third = bytes('version 3');
        const { etag: thirdEtag } = await store.write(third, { ifMatch: read.etag });
        await expectStored(store, third, thirdEtag);
      },
    },
    {
      name: 'ifMatch with a stale ETag fails with CONFLICT and leaves content and ETag unchanged',
      async run({ store }) {
        const stale = await seed(store, bytes('version 1'));
        const current = bytes('version 2');
        const { etag } = await store.write(current, { ifMatch: stale });
        await expectBerthError(() => store.write(bytes('lost update'), { ifMatch: stale }), 'CONFLICT');
        await expectStored(store, current, etag);
      },
    },
    {
      name: 'ifMatch with an ETag the store never gave fails with CONFLICT',
      async run({ store }) {
        const data = bytes('content');
        const etag = await seed(store, data);
        // Not '*': in HTTP, `If-Match: *` matches any existing version.
        for (const madeUp of ['"0123456789abcdef"', 'not-an-etag', `${etag}x`]) {
          await expectBerthError(() => store.write(bytes('lost update'), { ifMatch: madeUp }), 'CONFLICT');
        }
        await expectStored(store, data, etag);
      },
    },
    {
      name: 'ifMatch on a missing document fails with CONFLICT and creates nothing',
      async run({ store }) {
        // S3 answers 404 (AWS) or 412 (Ceph RGW) here: both are a failed precondition.
        for (const etag of ['"0123456789abcdef"', 'd41d8cd98f00b204e9800998ecf8427e']) {
          await expectBerthError(() => store.write(bytes('data'), { ifMatch: etag }), 'CONFLICT');
        }
        await expectMissing(store);
      },
    },
    {
      name: 'ifMatch together with ifNoneMatch, or ifNoneMatch other than "*", is refused with VALIDATION and writes nothing',
      async run({ store }) {
        const both = (ifMatch: string): DocumentWriteOptions => ({ ifMatch, ifNoneMatch: '*' });
        await expectBerthError(() => store.write(bytes('data'), both('"any"')), 'VALIDATION');
        await expectMissing(store);
        const data = bytes('content');
        const etag = await seed(store, data);
        await expectBerthError(() => store.write(bytes('other'), both(etag)), 'VALIDATION');
        await expectBerthError(() => store.write(bytes('other'), { ifNoneMatch: invalid<'*'>(etag) }), 'VALIDATION');
        await expectStored(store, data, etag);
      },
    },
    {
      name: "a write through a second handle makes the first handle's ETag stale; a fresh read gives one that works",
      async run({ store, createStore }) {
        const other = await createStore();
        const seen = await seed(store, bytes('version 1'));
        const theirs = bytes('written by the other handle');
        const { etag: theirEtag } = await other.write(theirs, { ifMatch: seen });
        await expectBerthError(() => store.write(bytes('lost update'), { ifMatch: seen }), 'CONFLICT');
        // The first handle sees the other writer's content, and compare-and-swap from there succeeds.
        const current = await expectStored(store, theirs, theirEtag);
        const mine = bytes('written by the first handle');
        const { etag } = await store.write(mine, { ifMatch: current.etag });
        await expectStored(other, mine, etag);
        await expectBerthError(() => other.write(bytes('lost update'), { ifMatch: theirEtag }), 'CONFLICT');
        await expectStored(store, mine, etag);
      },
    },
    {
      name: 'an unconditional write overwrites whatever is stored',
      async run({ store, createStore }) {
        const other = await createStore();
        await seed(other, bytes('theirs'));
        const mine = bytes('mine');
        const { etag } = await store.write(mine);
        await expectStored(other, mine, etag);
      },
    },
  ]);
