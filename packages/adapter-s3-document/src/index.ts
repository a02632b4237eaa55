export { flushOnSignals } from '@berth/adapter-memory';
export { createBackendFromUrl } from './s3-backend-from-url.js';
export { S3DocumentBackend, type S3DocumentBackendConfig } from './s3-document-backend.js';
export { S3DocumentStore, type S3DocumentStoreConfig } from './s3-document-store.js';

/**
 * The URL scheme `createBackendFromUrl` handles, so this module can be passed to `createBackend(url, { adapters
 * })`.
 *
 * ### Examples
 * ```ts
 * import * as s3 from '@berth/adapter-s3-document';
 * import { createBackend } from '@berth/core';
 *
 * // Passing the module keeps the adapter in a bundle that would drop a package only named at run time.
 * const backend = await createBackend('s3://my-bot/state.json', { adapters: [s3] });
 * ```
 */
export const schemes: readonly string[] = ['s3'];
