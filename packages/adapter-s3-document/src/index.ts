export { flushOnSignals } from '@berth/adapter-memory';
export { createBackendFromUrl } from './s3-backend-from-url.js';
export { S3DocumentBackend, type S3DocumentBackendConfig } from './s3-document-backend.js';
export { S3DocumentStore, type S3DocumentStoreConfig } from './s3-document-store.js';

/** The URL scheme `createBackendFromUrl` handles, so this module can be passed to `createBackend(url, { adapters })`. */
export const schemes: readonly string[] = ['s3'];
