import { DocumentBackend, MemoryDocumentStore } from '@berth/adapter-memory';
import {
  ConflictError,
  type DocumentStore,
  type DocumentWriteOptions,
  type SignalOptions,
  type StoredDocument,
  ValidationError,
} from '@berth/core';
import { throwIfAborted } from '@berth/core/adapter';
import type { CreateDocumentBackend } from '../document-store-suite.js';
import { override } from '../override.js';

/** A deliberately broken document store (or document-backed backend) and the group that must reject it. */
export interface BrokenDocumentStore {
  /** What is wrong, as the end of "a store that …". */
  readonly name: string;
  /** The name of the group that must fail at least one case. */
  readonly group: string;
  /** A fresh store on an empty document; the cases' second handle is the same object. */
  create(): DocumentStore;
  /** The document-backed backend the `document-backend` group builds (default: the healthy one). */
  readonly createDocumentBackend?: CreateDocumentBackend | undefined;
}

/** The healthy document-backed backend, quiet about the save conflicts the cases provoke. */
export const healthyDocumentBackend: CreateDocumentBackend = (store, options) =>
  new DocumentBackend({ store, onSaveError: () => undefined, ...options });

/** Write options with the named precondition dropped, as a store that ignores it would. */
function without(options: DocumentWriteOptions | undefined, field: 'ifMatch' | 'ifNoneMatch'): DocumentWriteOptions {
  const copy: { -readonly [K in keyof DocumentWriteOptions]: DocumentWriteOptions[K] } = { ...options };
  delete copy[field];
  return copy;
}

/** A healthy memory store with some of its methods replaced. */
function patched(
  replace: (inner: MemoryDocumentStore) => Partial<Pick<DocumentStore, 'read' | 'write'>>,
): DocumentStore {
  const inner = new MemoryDocumentStore('broken memory document');
  const overrides = replace(inner);
  return {
    location: inner.location,
    read: overrides.read ?? ((options) => inner.read(options)),
    write: overrides.write ?? ((data, options) => inner.write(data, options)),
  };
}

/**
 * A store written without the memory store's shared helpers: it checks its
 * preconditions itself, so each defect below is one line away from correct.
 */
class HandWrittenStore implements DocumentStore {
  readonly location = 'hand-written memory document';
  protected data: Uint8Array | undefined;
  protected version = 0;

  constructor(private readonly defects: { readonly sharedBuffers?: boolean; readonly constantEtag?: boolean } = {}) {}

  protected etag(): string {
    return this.defects.constantEtag ? '"same"' : `"v${this.version}"`;
  }

  async read(options?: SignalOptions): Promise<StoredDocument | null> {
    throwIfAborted(options?.signal, 'read');
    if (this.data === undefined) return null;
    return { data: this.defects.sharedBuffers ? this.data : this.data.slice(), etag: this.etag() };
  }

  async write(data: Uint8Array, options?: DocumentWriteOptions): Promise<{ readonly etag: string }> {
    throwIfAborted(options?.signal, 'write');
    if (options?.ifMatch !== undefined && options.ifNoneMatch !== undefined) {
      throw new ValidationError('ifMatch and ifNoneMatch cannot be combined', 'ifMatch');
    }
    if (options?.ifNoneMatch !== undefined && options.ifNoneMatch !== '*') {
      throw new ValidationError('ifNoneMatch only takes "*"', 'ifNoneMatch');
    }
    if (options?.ifNoneMatch === '*' && this.data !== undefined) throw new ConflictError('exists');
    if (options?.ifMatch !== undefined && (this.data === undefined || options.ifMatch !== this.etag())) {
      throw new ConflictError('stale');
    }
    this.data = this.defects.sharedBuffers ? data : data.slice();
    this.version += 1;
    return { etag: this.etag() };
  }
}

/**
 * Checks the precondition against an ETag read earlier, then writes
 * unconditionally: the read and the write are two steps another writer can
 * get between, like a client-side "compare, then swap" against a store
 * without conditional writes.
 */
function racyCompareAndSwap(): DocumentStore {
  return patched((inner) => ({
    async write(data, options) {
      throwIfAborted(options?.signal, 'write');
      if (options?.ifMatch !== undefined && options.ifNoneMatch !== undefined) {
        throw new ValidationError('ifMatch and ifNoneMatch cannot be combined', 'ifMatch');
      }
      if (options?.ifNoneMatch !== undefined && options.ifNoneMatch !== '*') {
        throw new ValidationError('ifNoneMatch only takes "*"', 'ifNoneMatch');
      }
      const current = await inner.read();
      // The round trip a remote store would take between the check and the write.
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (options?.ifNoneMatch === '*' && current !== null) throw new ConflictError('exists');
      if (options?.ifMatch !== undefined && options.ifMatch !== current?.etag) throw new ConflictError('stale');
      return inner.write(data, { signal: options?.signal });
    },
  }));
}

const ignoresIfMatch = (): DocumentStore =>
  patched((inner) => ({ write: (data, options) => inner.write(data, without(options, 'ifMatch')) }));

const ignoresIfNoneMatch = (): DocumentStore =>
  patched((inner) => ({ write: (data, options) => inner.write(data, without(options, 'ifNoneMatch')) }));

export const brokenDocumentStores: readonly BrokenDocumentStore[] = [
  {
    // What s3rver, @20minutes/s3rver and fauxqs do (see ENGINES.md).
    name: 'ignores ifMatch and overwrites whatever is stored',
    group: 'document-store-conditional',
    create: ignoresIfMatch,
  },
  {
    // The document-backed backend on it silently overwrites a second backend's saves.
    name: 'ignores ifMatch, under the document-backed backend',
    group: 'document-backend',
    create: ignoresIfMatch,
  },
  {
    name: 'ignores ifNoneMatch and overwrites an existing document',
    group: 'document-store-conditional',
    create: ignoresIfNoneMatch,
  },
  {
    name: 'ignores ifNoneMatch, under the document-backed backend',
    group: 'document-backend',
    create: ignoresIfNoneMatch,
  },
  {
    // Writes that never pause for a whole debounce are then never saved.
    name: 'is healthy, under a document-backed backend without a maximum wait',
    group: 'document-backend',
    create: () => new MemoryDocumentStore(),
    createDocumentBackend: (store, options) =>
      healthyDocumentBackend(store, { ...options, maxWaitMs: 24 * 60 * 60 * 1_000 }),
  },
  {
    // It saves and stops without waiting: a transaction that commits later is never saved.
    name: 'is healthy, under a document-backed backend whose close() does not wait for running transactions',
    group: 'document-backend',
    create: () => new MemoryDocumentStore(),
    createDocumentBackend: (store, options) => {
      const backend = healthyDocumentBackend(store, options);
      return override(backend, {
        close: async () => {
          await backend.flush().catch(() => undefined);
          void backend.close().catch(() => undefined);
        },
      });
    },
  },
  {
    // AWS answers 404 here, Ceph RGW 412; an adapter that maps 404 to "create" gets this.
    name: 'creates the document when ifMatch is given and none exists',
    group: 'document-store-conditional',
    create: () =>
      patched((inner) => ({
        write: async (data, options) =>
          inner.write(data, (await inner.read()) === null ? without(options, 'ifMatch') : options),
      })),
  },
  {
    name: 'checks the ETag and then writes, with an await in between (a racy compare-and-swap)',
    group: 'document-store-race',
    create: racyCompareAndSwap,
  },
  {
    name: 'returns the same ETag for every version',
    group: 'document-store-read-write',
    create: () => new HandWrittenStore({ constantEtag: true }),
  },
  {
    // A constant ETag also makes a stale ETag look current.
    name: 'returns the same ETag for every version, so a stale ETag still matches',
    group: 'document-store-conditional',
    create: () => new HandWrittenStore({ constantEtag: true }),
  },
  {
    name: 'keeps the caller buffer instead of a copy',
    group: 'document-store-read-write',
    create: () =>
      patched((inner) => {
        let kept: Uint8Array | undefined;
        return {
          read: async (options) => {
            const stored = await inner.read(options);
            return stored === null || kept === undefined ? stored : { data: kept.slice(), etag: stored.etag };
          },
          write: async (data, options) => {
            const written = await inner.write(data, options);
            kept = data;
            return written;
          },
        };
      }),
  },
  {
    name: 'hands out the buffer it stores instead of a copy',
    group: 'document-store-read-write',
    create: () =>
      patched((inner) => {
        let stored: { data: Uint8Array; etag: string } | undefined;
        return {
          read: async (options) => {
            const current = await inner.read(options);
            if (current === null) return null;
            if (stored?.etag !== current.etag) stored = { data: current.data, etag: current.etag };
            return stored;
          },
        };
      }),
  },
  {
    name: 'shares buffers both ways: keeps the caller buffer and hands it out',
    group: 'document-store-read-write',
    create: () => new HandWrittenStore({ sharedBuffers: true }),
  },
  {
    name: 'stores the whole underlying ArrayBuffer of a Uint8Array view',
    group: 'document-store-read-write',
    create: () => patched((inner) => ({ write: (data, options) => inner.write(new Uint8Array(data.buffer), options) })),
  },
  {
    // A file store that takes an empty file for a missing one.
    name: 'reads an empty document as a missing one',
    group: 'document-store-read-write',
    create: () =>
      patched((inner) => ({
        read: async (options) => {
          const stored = await inner.read(options);
          return stored === null || stored.data.byteLength === 0 ? null : stored;
        },
      })),
  },
  {
    name: 'ignores the abort signal',
    group: 'document-store-abort',
    create: () =>
      patched((inner) => ({
        read: () => inner.read(),
        write: (data, options) => inner.write(data, { ...options, signal: undefined }),
      })),
  },
];
