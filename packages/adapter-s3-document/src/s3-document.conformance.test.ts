import { randomBytes } from 'node:crypto';
import { type DocumentBackendOptions, documentStoreConformance, repositoryConformance } from '@berth/conformance-tests';
import type { Capabilities, DocumentStore } from '@berth/core';
import { beforeAll, describe, inject } from 'vitest';
import { createTestBucket } from './fixtures/s3-endpoint.js';
import { S3DocumentBackend } from './s3-document-backend.js';
import { S3DocumentStore } from './s3-document-store.js';

const s3 = inject('s3');
const connection = {
  endpoint: s3.endpoint,
  credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
};
let bucket = '';
beforeAll(async () => {
  bucket = await createTestBucket('conformance');
});

/** A key no other test uses: each test gets a document of its own. */
function freshKey(): string {
  return `conformance/${randomBytes(6).toString('hex')}.json`;
}

const capabilities: Capabilities = {
  repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: true, concurrentBackends: false },
  queue: { level: 'none', transactionalEnqueue: false, durable: false, notifications: false },
};

describe('S3 document store', () => {
  const keys = new WeakMap<DocumentStore, string>();
  const open = (key: string): S3DocumentStore => {
    const store = new S3DocumentStore({ bucket, key, ...connection });
    keys.set(store, key);
    return store;
  };
  documentStoreConformance({
    name: 's3',
    createStore: () => open(freshKey()),
    // A second client on the same object, as another process would open it.
    openSameDocument: (store) => open(keys.get(store) as string),
    createDocumentBackend: (store: DocumentStore, options: DocumentBackendOptions) =>
      new S3DocumentBackend({ bucket, key: keys.get(store) as string, ...connection, ...options }),
    timeoutMs: 60_000,
  });
});

// The document-backed backend on S3 must pass the whole repository suite.
describe('S3 document backend', () => {
  const keys = new WeakMap<object, string>();
  const open = (key: string): S3DocumentBackend => {
    const backend = new S3DocumentBackend({ bucket, key, ...connection, debounceMs: 5 });
    keys.set(backend, key);
    return backend;
  };
  repositoryConformance({
    name: 's3-document',
    createBackend: () => open(freshKey()),
    // A second backend on the same object, as a second process would open it.
    openSameStorage: (first) => open(keys.get(first) as string),
    capabilities,
  });
});
