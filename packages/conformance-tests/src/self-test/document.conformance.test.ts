import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DocumentBackend, FileDocumentStore, MemoryDocumentStore } from '@berth/adapter-memory';
import type { Capabilities } from '@berth/core';
import { afterAll, describe } from 'vitest';
import { queueConformance } from '../queue-suite.js';
import { repositoryConformance } from '../repository-suite.js';

const capabilities: Capabilities = {
  repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: true, concurrentBackends: false },
  queue: { level: 'none', transactionalEnqueue: false, durable: false, notifications: false },
};

// The document-backed backend must pass the whole repository suite, on a
// memory document and on a real file (each test gets a file of its own).
describe('document backend on a memory document', () => {
  const stores = new WeakMap<object, MemoryDocumentStore>();
  const open = (store: MemoryDocumentStore): DocumentBackend => {
    const backend = new DocumentBackend({ store, debounceMs: 5 });
    stores.set(backend, store);
    return backend;
  };
  repositoryConformance({
    name: 'document-memory',
    createBackend: () => open(new MemoryDocumentStore()),
    // A second backend on the same store, as a second process would open it.
    openSameStorage: (first) => open(stores.get(first) as MemoryDocumentStore),
    capabilities,
  });
});

describe('document backend on a file', () => {
  const directory = mkdtempSync(join(tmpdir(), 'berth-document-'));
  let counter = 0;
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const files = new WeakMap<object, string>();
  const open = (file: string): DocumentBackend => {
    const backend = new DocumentBackend({ store: new FileDocumentStore(file), debounceMs: 5 });
    files.set(backend, file);
    return backend;
  };
  repositoryConformance({
    name: 'document-file',
    createBackend: () => {
      counter += 1;
      return open(join(directory, `${counter}.json`));
    },
    // A second backend on the same file, as a second process would open it.
    openSameStorage: (first) => open(files.get(first) as string),
    capabilities,
  });
});

// It has no queue: the queue suite checks that it says so with UNSUPPORTED.
queueConformance({
  name: 'document-memory',
  createBackend: () => new DocumentBackend({ store: new MemoryDocumentStore() }),
  capabilities,
});
