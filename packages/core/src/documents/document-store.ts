import type { SignalOptions } from '../operation/abort.js';

/**
 * The bytes of a stored document and the ETag that identifies this version of them.
 *
 * ### Examples
 * ```ts
 * import type { DocumentStore, StoredDocument } from '@berth/core';
 *
 * async function readJson(store: DocumentStore): Promise<unknown> {
 *   const stored: StoredDocument | null = await store.read();
 *   return stored === null ? null : JSON.parse(new TextDecoder().decode(stored.data));
 * }
 * ```
 */
export interface StoredDocument {
  readonly data: Uint8Array;
  /** Opaque version identifier; changes whenever the data changes. */
  readonly etag: string;
}

/**
 * Preconditions of a write. At most one may be given.
 *
 * ### Examples
 * ```ts
 * import type { DocumentStore, DocumentWriteOptions } from '@berth/core';
 *
 * async function createOnce(store: DocumentStore, text: string): Promise<void> {
 *   const options: DocumentWriteOptions = { ifNoneMatch: '*' };
 *   await store.write(new TextEncoder().encode(text), options);
 * }
 * ```
 */
export interface DocumentWriteOptions extends SignalOptions {
  /** Write only if the stored ETag is this one (compare-and-swap). */
  readonly ifMatch?: string | undefined;
  /** `'*'`: write only if no document exists yet (create-only). */
  readonly ifNoneMatch?: '*' | undefined;
  /**
   * How `data` is encoded (`'gzip'`), for stores that keep it with the
   * document (S3's `Content-Encoding`). Readers never rely on it: a store may
   * ignore it.
   */
  readonly contentEncoding?: 'gzip' | undefined;
}

/**
 * One document stored as bytes with an ETag: an S3 object, a local file, a
 * buffer in memory. A write whose precondition fails throws `CONFLICT` and
 * changes nothing.
 *
 * ### Examples
 * ```ts
 * import type { DocumentStore } from '@berth/core';
 *
 * async function increment(store: DocumentStore): Promise<number> {
 *   const current = await store.read();
 *   const count = current === null ? 0 : Number(new TextDecoder().decode(current.data));
 *   const data = new TextEncoder().encode(String(count + 1));
 *   await store.write(data, current === null ? { ifNoneMatch: '*' } : { ifMatch: current.etag });
 *   return count + 1;
 * }
 * ```
 */
export interface DocumentStore {
  /** Where the document lives (a path, `s3://bucket/key`), for messages. */
  readonly location: string;
  /** The document, or `null` when there is none. */
  read(options?: SignalOptions): Promise<StoredDocument | null>;
  /** Writes the document (whole) and returns its new ETag. */
  write(data: Uint8Array, options?: DocumentWriteOptions): Promise<{ readonly etag: string }>;
  /** Releases what the store holds (clients, handles). Idempotent. */
  close?(): Promise<void>;
}
