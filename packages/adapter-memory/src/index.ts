export { createBackendFromUrl, type DocumentBackendUrlOptions, documentBackendUrlOptions } from './backend-from-url.js';
export {
  DOCUMENT_META_KEY,
  DocumentBackend,
  type DocumentBackendConfig,
  type DocumentCompression,
  type DocumentConflictPolicy,
  type SaveErrorDetails,
  type SizeWarningDetails,
} from './document-backend.js';
export { FileDocumentStore, type FileDocumentStoreConfig } from './file-document-store.js';
export { flushOnSignals } from './flush-on-exit.js';
export { MemoryBackend } from './memory-backend.js';
export { MemoryCache, type MemoryCacheConfig } from './memory-cache.js';
export { MemoryDocumentStore } from './memory-document-store.js';
export { MemoryJobQueue } from './memory-job-queue.js';
export { MemoryRepository } from './memory-repository.js';

/**
 * The URL schemes `createBackendFromUrl` handles, so this module can be passed to `createBackend(url, { adapters
 * })`.
 *
 * ### Examples
 * ```ts
 * import * as memory from '@berth/adapter-memory';
 * import { createBackend } from '@berth/core';
 *
 * // Passing the module keeps the adapter in a bundle that would drop a package only named at run time.
 * const backend = await createBackend('memory:', { adapters: [memory] });
 * ```
 */
export const schemes: readonly string[] = ['memory', 'file'];
