import { expect } from 'vitest';
import type { ConformanceGroup } from '../harness.js';
import {
  bytes,
  expectEtag,
  expectMissing,
  expectStored,
  pseudoRandomBytes,
  seed,
} from './document-store-assertions.js';
import {
  type DocumentStoreConformanceContext,
  type DocumentStoreHandles,
  defineDocumentStoreGroup,
} from './document-store-context.js';

const MIB = 1024 * 1024;

/**
 * `read` and `write`: ETags, binary-safe bytes, large and empty documents.
 *
 * ### Examples
 * ```ts
 * import {
 *   type DocumentStoreConformanceOptions,
 *   documentStoreReadWriteGroup,
 *   documentStoreRunOptions,
 *   registerGroup,
 * } from '@berth/conformance-tests';
 *
 * declare const options: DocumentStoreConformanceOptions; // what your store passes to documentStoreConformance
 * registerGroup(documentStoreReadWriteGroup, documentStoreRunOptions(options));
 * ```
 */
export const documentStoreReadWriteGroup: ConformanceGroup<DocumentStoreHandles, DocumentStoreConformanceContext> =
  defineDocumentStoreGroup('document-store-read-write', [
    {
      name: 'read of a document never written returns null',
      async run({ store }) {
        expect(typeof store.location, 'location names the document in messages').toBe('string');
        await expectMissing(store);
        // Reading does not create it.
        await expectMissing(store);
      },
    },
    {
      name: 'a write returns an ETag, and a read then returns the same bytes with that ETag',
      async run({ store }) {
        const data = bytes('{"players":{"p1":{"name":"Ada"}}}');
        const { etag } = await store.write(data);
        expectEtag(etag);
        await expectStored(store, data, etag);
        // Reading twice changes nothing.
        await expectStored(store, data, etag);
      },
    },
    {
      name: 'every byte value 0-255 round-trips unchanged (the store is binary-safe, not text)',
      async run({ store }) {
        const ascending = Uint8Array.from({ length: 256 }, (_, index) => index);
        // Sequences that are invalid UTF-8, a BOM, CR LF and NUL: a store that decodes text would change them.
        const tricky = Uint8Array.from([0xef, 0xbb, 0xbf, 0x00, 0x0d, 0x0a, 0xc3, 0x28, 0xff, 0xfe, 0x80, 0x0a, 0x0d]);
        const data = new Uint8Array([...ascending, ...tricky, ...[...ascending].reverse()]);
        const { etag } = await store.write(data);
        await expectStored(store, data, etag);
      },
    },
    {
      name: 'a 5 MiB document round-trips byte for byte',
      async run({ store }) {
        const data = pseudoRandomBytes(5 * MIB);
        const { etag } = await store.write(data);
        await expectStored(store, data, etag);
      },
    },
    {
      name: 'an empty document is stored as empty data, not as a missing document',
      async run({ store }) {
        const { etag } = await store.write(new Uint8Array(0));
        expectEtag(etag);
        await expectStored(store, new Uint8Array(0), etag);
        // It exists, so create-only must refuse it.
        await expect(store.write(bytes('x'), { ifNoneMatch: '*' })).rejects.toMatchObject({ code: 'CONFLICT' });
      },
    },
    {
      name: 'a write replaces the whole document: a shorter write leaves nothing of the longer one behind',
      async run({ store }) {
        await seed(store, bytes('a much longer first version of the document'));
        const shorter = bytes('short');
        const { etag } = await store.write(shorter);
        await expectStored(store, shorter, etag);
      },
    },
    {
      name: 'a Uint8Array view stores only the bytes it views, not its whole underlying buffer',
      async run({ store }) {
        const whole = bytes('XXXXthe viewed partYYYY');
        const view = whole.subarray(4, whole.length - 4);
        const { etag } = await store.write(view);
        await expectStored(store, bytes('the viewed part'), etag);
      },
    },
    {
      name: 'the ETag changes whenever the content changes, and a read returns the latest one',
      async run({ store }) {
        const versions = ['first', 'second', 'third, longer', ''].map(bytes);
        const etags: string[] = [];
        for (const data of versions) {
          const { etag } = await store.write(data);
          etags.push(expectEtag(etag));
          await expectStored(store, data, etag);
        }
        // Only different content must give a different ETag: stores that hash
        // the content (S3, files) give equal ETags to equal bytes.
        expect(new Set(etags).size, `ETags ${etags.join(', ')}`).toBe(versions.length);
      },
    },
    {
      name: 'the data a read returns is a copy: mutating it changes nothing stored',
      async run({ store }) {
        const { etag } = await store.write(bytes('original content'));
        // Compared with a buffer of its own: a store that keeps the caller's
        // buffer would otherwise change the expectation along with the result.
        const first = await expectStored(store, bytes('original content'), etag);
        first.data.fill(0x21);
        await expectStored(store, bytes('original content'), etag);
      },
    },
    {
      name: 'the data given to write is copied: mutating the caller buffer afterwards changes nothing stored',
      async run({ store }) {
        const data = bytes('original content');
        const expected = data.slice();
        const { etag } = await store.write(data);
        data.fill(0x21);
        await expectStored(store, expected, etag);
      },
    },
    {
      name: 'a write through one handle is read through another handle on the same document',
      async run({ store, createStore }) {
        const other = await createStore();
        await expectMissing(other);
        const first = bytes('written by the first handle');
        const { etag } = await store.write(first);
        await expectStored(other, first, etag);
        const second = bytes('written by the other handle');
        const { etag: secondEtag } = await other.write(second);
        await expectStored(store, second, secondEtag);
      },
    },
  ]);
