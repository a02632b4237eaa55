import {
  ConflictError,
  type DocumentStore,
  type DocumentWriteOptions,
  type SignalOptions,
  type StoredDocument,
  ValidationError,
} from '@berth/core';
import { checkDocumentWriteOptions, throwIfAborted } from '@berth/core/adapter';

/** Checks the preconditions of a write against the current ETag; shared by the stores in this package. */
export function checkPreconditions(
  location: string,
  current: string | undefined,
  options?: DocumentWriteOptions,
): void {
  checkDocumentWriteOptions(options);
  if (options?.ifNoneMatch === '*' && current !== undefined) {
    throw new ConflictError(`${location} already exists (ifNoneMatch: "*")`, { retryable: false });
  }
  if (options?.ifMatch !== undefined && options.ifMatch !== current) {
    throw new ConflictError(
      current === undefined
        ? `${location} does not exist (ifMatch: ${options.ifMatch})`
        : `${location} was changed by another writer (its ETag is no longer ${options.ifMatch})`,
      { retryable: false },
    );
  }
}

/**
 * A document store in process memory, with the same compare-and-swap
 * semantics as S3 and the file store. For tests and for the document-backed
 * backend without persistence.
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, MemoryDocumentStore } from '@berth/adapter-memory';
 *
 * const store = new MemoryDocumentStore('test document');
 * const { etag } = await store.write(new TextEncoder().encode('{}'), { ifNoneMatch: '*' });
 * // The document-backed backend without a file, as tests use it:
 * const backend = new DocumentBackend({ store });
 * ```
 */
export class MemoryDocumentStore implements DocumentStore {
  readonly location: string;
  private current: StoredDocument | undefined;
  private version = 0;

  constructor(location = 'memory document') {
    this.location = location;
  }

  async read(options?: SignalOptions): Promise<StoredDocument | null> {
    throwIfAborted(options?.signal, 'read');
    return this.current === undefined ? null : { data: this.current.data.slice(), etag: this.current.etag };
  }

  async write(data: Uint8Array, options?: DocumentWriteOptions): Promise<{ readonly etag: string }> {
    throwIfAborted(options?.signal, 'write');
    if (!(data instanceof Uint8Array)) throw new ValidationError('write takes a Uint8Array', 'data');
    checkPreconditions(this.location, this.current?.etag, options);
    this.version += 1;
    this.current = { data: data.slice(), etag: `"m${this.version}"` };
    return { etag: this.current.etag };
  }
}
