import { ConnectionError, type Document, isBerthError, type Repository } from '@berth/core';
import type { Breakage, RepositoryMembers } from './broken-backend.js';

/** Rethrows CONNECTION errors as retryable, as a driver error passed through unchanged would be. */
function retryableWhenClosed(inner: Repository<Document>): RepositoryMembers {
  const mark = (error: unknown): never => {
    if (isBerthError(error, 'CONNECTION')) throw new ConnectionError(error.message, { cause: error });
    throw error;
  };
  return {
    get: (id, options) => inner.get(id, options).catch(mark),
    insert: (document, options) => inner.insert(document, options).catch(mark),
    count: (filter, options) => inner.count(filter, options).catch(mark),
  };
}

/** Broken adapters the lifecycle group must reject. */
export const brokenLifecycleAdapters: readonly {
  readonly name: string;
  readonly group: string;
  readonly breakage: Breakage;
}[] = [
  {
    name: 'reports its closed state as a retryable CONNECTION error',
    group: 'lifecycle',
    breakage: { repository: retryableWhenClosed },
  },
  {
    // The file backend did this: it saved, then the transaction committed into a closed backend.
    name: 'resolves close() without waiting for a running transaction',
    group: 'lifecycle',
    breakage: {
      close: async (inner) => {
        void inner.close();
      },
    },
  },
];
