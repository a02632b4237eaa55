import { DocumentBackend, type DocumentBackendConfig } from '@berth/adapter-memory';
import { ValidationError } from '@berth/core';
import { isPlainObject } from '@berth/core/adapter';
import { S3DocumentStore, type S3DocumentStoreConfig } from './s3-document-store.js';

/**
 * Options of {@link S3DocumentBackend}: where the object is, and how the document backend saves it.
 *
 * ### Examples
 * ```ts
 * import { S3DocumentBackend, type S3DocumentBackendConfig } from '@berth/adapter-s3-document';
 *
 * // MinIO in development; the document backend's options sit beside the object's.
 * const config: S3DocumentBackendConfig = {
 *   bucket: 'my-bot',
 *   key: 'state.json',
 *   endpoint: 'http://127.0.0.1:9000',
 *   debounceMs: 5_000,
 *   compression: 'gzip',
 * };
 * await using backend = new S3DocumentBackend(config);
 * ```
 */
export interface S3DocumentBackendConfig extends S3DocumentStoreConfig, Omit<DocumentBackendConfig, 'store'> {}

/**
 * Every collection in one JSON object on S3 (or an S3-compatible store): the
 * memory engine, loaded on `connect()` and saved debounced (2 s after the
 * last write, at most `maxWaitMs` late), each save conditional on the ETag it
 * last read or wrote. Another instance's save is never overwritten: by
 * default its writes are merged in entity by entity (see `DocumentBackend`).
 * `close()` saves; `flushOnExit: true` saves on SIGTERM, SIGINT and SIGHUP.
 *
 * ### Examples
 * ```ts
 * import { S3DocumentBackend } from '@berth/adapter-s3-document';
 *
 * await using backend = new S3DocumentBackend({ bucket: 'my-bot', key: 'state.json', flushOnExit: true });
 * await backend.repository<{ id: string; name: string }>('players').insert({ id: 'player1', name: 'Ada' });
 * await backend.flush();
 * ```
 */
export class S3DocumentBackend extends DocumentBackend {
  constructor(config: S3DocumentBackendConfig) {
    if (!isPlainObject(config)) throw new ValidationError('S3DocumentBackend needs { bucket, key }', 'config');
    // The store reads its options and the backend its own; each ignores the other's.
    super({ ...config, store: new S3DocumentStore(config) });
  }
}
