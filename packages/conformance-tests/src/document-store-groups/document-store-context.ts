import type { Capabilities, DocumentStore, RepositoryBackend, SignalOptions } from '@berth/core';
import type { ConformanceCase, ConformanceGroup, ConformanceOptions, ConnectableBackend } from '../harness.js';

/**
 * How the `document-backend` group configures the backends it builds.
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, MemoryDocumentStore } from '@berth/adapter-memory';
 * import type { DocumentBackendOptions } from '@berth/conformance-tests';
 *
 * const options: DocumentBackendOptions = { debounceMs: 50, maxWaitMs: 500, conflicts: 'merge' };
 * const backend = new DocumentBackend({ store: new MemoryDocumentStore(), ...options });
 * ```
 */
export interface DocumentBackendOptions {
  /** Quiet time after the last write before a save. */
  readonly debounceMs: number;
  /** Longest time a write waits to be saved while writes keep coming. */
  readonly maxWaitMs: number;
  /**
   * When another backend saved the document first: `'merge'` its writes in
   * entity by entity, or `'fail'` and refuse further writes. Cases that
   * depend on it name it.
   */
  readonly conflicts?: 'merge' | 'fail' | undefined;
  /** Hears each failed save and each write a merge dropped. */
  readonly onSaveError?: ((error: unknown) => void) | undefined;
}

/**
 * A backend that keeps every collection in one document of a DocumentStore and saves it debounced.
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, MemoryDocumentStore } from '@berth/adapter-memory';
 * import type { DocumentBackedBackend } from '@berth/conformance-tests';
 *
 * const backend: DocumentBackedBackend = new DocumentBackend({ store: new MemoryDocumentStore() });
 * await backend.repository('notes').insert({ id: 'a', text: 'hello' });
 * await backend.flush();
 * ```
 */
export interface DocumentBackedBackend extends RepositoryBackend {
  /** Saves now; rejects with `CONFLICT` when someone else wrote the document since it was loaded. */
  flush(options?: SignalOptions): Promise<void>;
}

/**
 * Builds the document-backed backend on a store, as
 * `(store, options) => new DocumentBackend({ store, ...options })` does. The
 * suite takes it as an option, so that it does not depend on the package
 * that implements it.
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend } from '@berth/adapter-memory';
 * import type { CreateDocumentBackend } from '@berth/conformance-tests';
 *
 * const createDocumentBackend: CreateDocumentBackend = (store, options) => new DocumentBackend({ store, ...options });
 * ```
 */
export type CreateDocumentBackend = (store: DocumentStore, options: DocumentBackendOptions) => DocumentBackedBackend;

/**
 * How a document store conformance run gets stores.
 *
 * ### Examples
 * ```ts
 * import { MemoryDocumentStore } from '@berth/adapter-memory';
 * import { type DocumentStoreConformanceOptions, documentStoreConformance } from '@berth/conformance-tests';
 *
 * let counter = 0;
 * const options: DocumentStoreConformanceOptions = {
 *   name: 'memory',
 *   createStore: () => new MemoryDocumentStore(`document ${++counter}`),
 *   timeoutMs: 30_000,
 * };
 * documentStoreConformance(options);
 * ```
 */
export interface DocumentStoreConformanceOptions {
  /** Shown in test names (`memory`, `file`, `s3`). */
  readonly name?: string | undefined;
  /**
   * Creates a store on a fresh, empty document (a new file, a new S3 key).
   * Called before every test; the store is closed after it.
   */
  readonly createStore: () => DocumentStore | Promise<DocumentStore>;
  /**
   * Opens a second client on the same document, as another process would
   * (a new file handle, a new S3 client on the same key). Without it, the
   * cases that need a second writer use the same object.
   */
  readonly openSameDocument?: ((store: DocumentStore) => DocumentStore | Promise<DocumentStore>) | undefined;
  /**
   * Builds the document-backed backend (`DocumentBackend` of
   * `@berth/adapter-memory`) on a store. With it, the `document-backend`
   * group runs too: the backend's saves on this store under a steady stream
   * of writes, between two backends, across close and reload.
   */
  readonly createDocumentBackend?: CreateDocumentBackend | undefined;
  /** Per-test timeout in milliseconds (default 20 000). */
  readonly timeoutMs?: number | undefined;
}

/**
 * What each document store case receives.
 *
 * ### Examples
 * ```ts
 * import { type DocumentStoreConformanceContext, defineDocumentStoreGroup } from '@berth/conformance-tests';
 *
 * async function secondHandleSeesWrites({ store, createStore }: DocumentStoreConformanceContext): Promise<void> {
 *   const { etag } = await store.write(new TextEncoder().encode('{}'));
 *   const other = await createStore();
 *   if ((await other.read())?.etag !== etag) throw new Error('the second handle read another version');
 * }
 * export const myStoreGroup = defineDocumentStoreGroup('my-store', [
 *   { name: 'a second handle sees writes', run: secondHandleSeesWrites },
 * ]);
 * ```
 */
export interface DocumentStoreConformanceContext {
  /** A store on a fresh document that holds nothing yet. */
  readonly store: DocumentStore;
  /** Another handle on the same document, to act as a second writer. */
  createStore(): Promise<DocumentStore>;
  /** The per-test timeout. */
  readonly timeoutMs: number;
}

/**
 * Every handle one test opened on its document. The generic harness opens
 * and closes a "backend" around each case; for a document store that is
 * this object, so that the handles a case opened are closed with it.
 *
 * ### Examples
 * ```ts
 * import { MemoryDocumentStore } from '@berth/adapter-memory';
 * import { DocumentStoreHandles } from '@berth/conformance-tests';
 *
 * const handles = new DocumentStoreHandles(new MemoryDocumentStore());
 * const second = await handles.open(); // the store itself: no openSameDocument was given
 * await second.write(new TextEncoder().encode('{}'));
 * await handles.close();
 * ```
 */
export class DocumentStoreHandles implements ConnectableBackend {
  readonly store: DocumentStore;
  private readonly openSameDocument: ((store: DocumentStore) => DocumentStore | Promise<DocumentStore>) | undefined;
  private readonly createDocumentBackend: CreateDocumentBackend | undefined;
  private readonly opened = new Set<DocumentStore>();
  private readonly backends = new Set<DocumentBackedBackend>();

  constructor(
    store: DocumentStore,
    openSameDocument?: ((store: DocumentStore) => DocumentStore | Promise<DocumentStore>) | undefined,
    createDocumentBackend?: CreateDocumentBackend | undefined,
  ) {
    this.store = store;
    this.openSameDocument = openSameDocument;
    this.createDocumentBackend = createDocumentBackend;
    this.opened.add(store);
  }

  /** A document-backed backend on a handle of its own, closed with the test. */
  async openBackend(options: DocumentBackendOptions): Promise<DocumentBackedBackend> {
    if (this.createDocumentBackend === undefined) {
      throw new Error('this group needs the createDocumentBackend option of documentStoreConformance');
    }
    const backend = this.createDocumentBackend(await this.open(), options);
    this.backends.add(backend);
    return backend;
  }

  async connect(): Promise<void> {}

  /** A second handle on the document (the store itself when the adapter gave no way to open one). */
  async open(): Promise<DocumentStore> {
    const handle = this.openSameDocument === undefined ? this.store : await this.openSameDocument(this.store);
    this.opened.add(handle);
    return handle;
  }

  async close(): Promise<void> {
    const backends = [...this.backends];
    this.backends.clear();
    // A backend that met a second writer rejects close() with CONFLICT; the case has checked what it needed.
    for (const backend of backends) await backend.close().catch(() => undefined);
    const handles = [...this.opened];
    this.opened.clear();
    for (const handle of handles) await handle.close?.();
  }
}

// The generic harness filters cases by the capabilities an adapter claims. A
// document store claims none and no document store case declares `requires`,
// so this value is never consulted; it only satisfies the harness's options.
const NO_CAPABILITIES: Capabilities = {
  repository: { transactions: 'none', uniqueIndexes: false, durable: false },
  queue: { level: 'none', transactionalEnqueue: false, durable: false, notifications: false },
};

/**
 * The generic harness's options for a document store run, so that
 * `registerGroup` and `runGroup` take document store groups like any other.
 *
 * ### Examples
 * ```ts
 * import { FileDocumentStore } from '@berth/adapter-memory';
 * import { documentStoreConditionalGroup, documentStoreRunOptions, registerGroup } from '@berth/conformance-tests';
 *
 * declare const directory: string; // a temporary directory for the run
 * let counter = 0;
 * const options = documentStoreRunOptions({
 *   name: 'file',
 *   createStore: () => new FileDocumentStore(`${directory}/${++counter}.json`),
 * });
 * registerGroup(documentStoreConditionalGroup, options);
 * ```
 */
export function documentStoreRunOptions(
  options: DocumentStoreConformanceOptions,
): ConformanceOptions<DocumentStoreHandles> {
  return {
    name: options.name,
    createBackend: async () =>
      new DocumentStoreHandles(await options.createStore(), options.openSameDocument, options.createDocumentBackend),
    capabilities: NO_CAPABILITIES,
    timeoutMs: options.timeoutMs,
  };
}

/**
 * Declares a group of document store cases.
 *
 * ### Examples
 * ```ts
 * import { MemoryDocumentStore } from '@berth/adapter-memory';
 * import { defineDocumentStoreGroup, documentStoreRunOptions, registerGroup } from '@berth/conformance-tests';
 *
 * const myStoreGroup = defineDocumentStoreGroup('my-store', [
 *   {
 *     name: 'a write is read back',
 *     async run({ store }) {
 *       await store.write(new TextEncoder().encode('hello'));
 *       const read = await store.read();
 *       if (read === null || new TextDecoder().decode(read.data) !== 'hello') throw new Error('lost');
 *     },
 *   },
 * ]);
 * registerGroup(myStoreGroup, documentStoreRunOptions({ createStore: () => new MemoryDocumentStore() }));
 * ```
 */
export function defineDocumentStoreGroup(
  name: string,
  cases: readonly ConformanceCase<DocumentStoreConformanceContext>[],
): ConformanceGroup<DocumentStoreHandles, DocumentStoreConformanceContext> {
  return {
    name,
    cases,
    createContext: (base) => ({
      store: base.backend.store,
      createStore: () => base.backend.open(),
      timeoutMs: base.timeoutMs,
    }),
  };
}
