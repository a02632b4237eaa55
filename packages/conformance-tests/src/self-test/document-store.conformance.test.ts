import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileDocumentStore, MemoryDocumentStore } from '@berth/adapter-memory';
import { afterAll, describe } from 'vitest';
import { documentStoreConformance } from '../document-store-suite.js';
import { healthyDocumentBackend } from './broken-document-stores.js';

const createDocumentBackend = healthyDocumentBackend;

describe('memory document store', () => {
  documentStoreConformance({ name: 'memory', createStore: () => new MemoryDocumentStore(), createDocumentBackend });
});

// Each test gets a file of its own; the second writer is a separate
// FileDocumentStore on the same path, so conditional writes really go through
// the lock file rather than through one object's state.
describe('file document store', () => {
  const directory = mkdtempSync(join(tmpdir(), 'berth-document-store-'));
  let counter = 0;
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  documentStoreConformance({
    name: 'file',
    createStore: () => {
      counter += 1;
      return new FileDocumentStore(join(directory, `${counter}.json`));
    },
    openSameDocument: (store) => new FileDocumentStore(store.location),
    createDocumentBackend,
  });
});
