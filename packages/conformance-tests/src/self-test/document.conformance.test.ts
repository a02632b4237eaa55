import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DocumentBackend, FileDocumentStore, MemoryDocumentStore } from '@berth/adapter-memory';
import type { Capabilities } from '@berth/core';
import { afterAll, describe } from 'vitest';
import { queueConformance } from '../queue-suite.js';
import { repositoryConformance } from '../repository-suite.js';

const capabilities: Capabilities = {
  repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: true },
  queue: { level: 'none', transactionalEnqueue: false, durable: false, notifications: false },
};

// The document-backed backend must pass the whole repository suite, on a
// memory document and on a real file (each test gets a file of its own).
describe('document backend on a memory document', () => {
  repositoryConformance({
    name: 'document-memory',
    createBackend: () => new DocumentBackend({ store: new MemoryDocumentStore(), debounceMs: 5 }),
    capabilities,
  });
});

describe('document backend on a file', () => {
  const directory = mkdtempSync(join(tmpdir(), 'berth-document-'));
  let counter = 0;
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  repositoryConformance({
    name: 'document-file',
    createBackend: () => {
      counter += 1;
      return new DocumentBackend({ store: new FileDocumentStore(join(directory, `${counter}.json`)), debounceMs: 5 });
    },
    capabilities,
  });
});

// It has no queue: the queue suite checks that it says so with UNSUPPORTED.
queueConformance({
  name: 'document-memory',
  createBackend: () => new DocumentBackend({ store: new MemoryDocumentStore() }),
  capabilities,
});
