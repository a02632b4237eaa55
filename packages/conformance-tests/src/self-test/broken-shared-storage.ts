import { DOCUMENT_META_KEY, DocumentBackend, MemoryDocumentStore } from '@berth/adapter-memory';
import type { DocumentStore, RepositoryBackend } from '@berth/core';

/**
 * A store that drops `$berth.indexes` from every document written to it, so
 * the document-backed backend on it forgets its index declarations on
 * reopen, as it did before it stored them.
 */
function forgetfulStore(): DocumentStore {
  const inner = new MemoryDocumentStore('forgetful memory document');
  return {
    location: inner.location,
    read: (options) => inner.read(options),
    write: (data, options) => {
      const document = JSON.parse(new TextDecoder().decode(data)) as Record<string, { indexes?: unknown }>;
      delete document[DOCUMENT_META_KEY]?.indexes;
      return inner.write(new TextEncoder().encode(JSON.stringify(document)), options);
    },
  };
}

/** Document-backed backends on one store each, and a second backend on the test's store. */
export function documentBackends(createStore: () => DocumentStore = () => new MemoryDocumentStore()): {
  createBackend(): RepositoryBackend;
  openSameStorage(first: RepositoryBackend): RepositoryBackend;
} {
  const stores = new WeakMap<RepositoryBackend, DocumentStore>();
  const open = (store: DocumentStore): RepositoryBackend => {
    const backend = new DocumentBackend({ store, debounceMs: 5, onSaveError: () => undefined });
    stores.set(backend, store);
    return backend;
  };
  return {
    createBackend: () => open(createStore()),
    openSameStorage: (first) => open(stores.get(first) as DocumentStore),
  };
}

/** Document-backed backends that forget index declarations between one backend and the next on a store. */
export const forgetfulDocumentBackends = (): ReturnType<typeof documentBackends> => documentBackends(forgetfulStore);
