import { type Backend, ValidationError } from '@berth/core';
import { migrateUrlParameter } from '@berth/core/adapter';
import type { DocumentBackendConfig } from './document-backend.js';
import { MemoryBackend } from './memory-backend.js';

/**
 * The `DocumentBackend` options a URL's query can set.
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, type DocumentBackendUrlOptions, MemoryDocumentStore } from '@berth/adapter-memory';
 *
 * // The same settings `file:./data.json?debounceMs=500&compression=gzip` gives.
 * const options: DocumentBackendUrlOptions = { debounceMs: 500, compression: 'gzip' };
 * const backend = new DocumentBackend({ store: new MemoryDocumentStore(), ...options });
 * ```
 */
export type DocumentBackendUrlOptions = Pick<
  DocumentBackendConfig,
  'debounceMs' | 'maxWaitMs' | 'flushOnExit' | 'conflicts' | 'compression' | 'warnAtBytes' | 'migrate'
>;

/**
 * Reads `?debounceMs=`, `?maxWaitMs=`, `?conflicts=merge|fail`,
 * `?compression=gzip|none`, `?warnAtBytes=`, `?migrate=true|false` (accepted as every URL accepts it; a document
 * has no schema) and `?flushOnExit=true|false` (default `true`: an application that names a
 * document by URL expects it written) from a document backend's URL, for
 * every adapter that builds a `DocumentBackend` from one (`file:`, `s3:`).
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, documentBackendUrlOptions } from '@berth/adapter-memory';
 * import type { DocumentStore } from '@berth/core';
 *
 * // A third-party adapter building a DocumentBackend from `myblob://bucket/key?debounceMs=500`.
 * declare function openBlobStore(url: URL): DocumentStore;
 * function createBackendFromUrl(url: string): DocumentBackend {
 *   const parsed = new URL(url);
 *   return new DocumentBackend({ store: openBlobStore(parsed), ...documentBackendUrlOptions(url, parsed.searchParams) });
 * }
 * ```
 */
export function documentBackendUrlOptions(url: string, parameters: URLSearchParams): DocumentBackendUrlOptions {
  const number = (name: string): number | undefined => {
    const value = parameters.get(name);
    if (value === null) return undefined;
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < 0) {
      throw new ValidationError(`${name} in ${JSON.stringify(url)} must be an integer >= 0`, 'url');
    }
    return parsed;
  };
  const flushOnExit = parameters.get('flushOnExit') ?? 'true';
  if (flushOnExit !== 'true' && flushOnExit !== 'false') {
    throw new ValidationError(`flushOnExit in ${JSON.stringify(url)} must be true or false`, 'url');
  }
  const conflicts = parameters.get('conflicts') ?? 'merge';
  if (conflicts !== 'merge' && conflicts !== 'fail') {
    throw new ValidationError(`conflicts in ${JSON.stringify(url)} must be merge or fail`, 'url');
  }
  const compression = parameters.get('compression') ?? 'none';
  if (compression !== 'gzip' && compression !== 'none') {
    throw new ValidationError(`compression in ${JSON.stringify(url)} must be gzip or none`, 'url');
  }
  return {
    debounceMs: number('debounceMs'),
    maxWaitMs: number('maxWaitMs'),
    flushOnExit: flushOnExit === 'true',
    conflicts,
    compression,
    warnAtBytes: number('warnAtBytes'),
    migrate: migrateUrlParameter(parameters),
  };
}

/**
 * Lets `createBackend` find this adapter: `memory:` gives a {@link MemoryBackend} (`?migrate=true|false` is
 * accepted, as on every URL);
 * `file:<path>` gives a `DocumentBackend` on that file, with
 * the options {@link documentBackendUrlOptions} reads. A `file:` backend saves on
 * SIGTERM, SIGINT and SIGHUP (`flushOnExit`), since an application that names
 * a file by URL expects it written; `?flushOnExit=false` turns that off.
 *
 * ### Examples
 * ```ts
 * import { createBackendFromUrl } from '@berth/adapter-memory';
 *
 * const backend = await createBackendFromUrl('file:./data/app.json?debounceMs=500&compression=gzip');
 * await backend.repository('players').insert({ name: 'Ada' });
 * await backend.close(); // saves the document
 * ```
 */
export async function createBackendFromUrl(url: string): Promise<Backend> {
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
  if (scheme === 'memory') {
    const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
    return new MemoryBackend({ migrate: migrateUrlParameter(new URLSearchParams(query)) });
  }
  if (scheme !== 'file')
    throw new ValidationError(`@berth/adapter-memory does not handle ${JSON.stringify(url)}`, 'url');
  const [rawPath = '', query = ''] = url.slice('file:'.length).split('?', 2);
  // `file:///abs/path` and `file:./relative` both work; a URL-encoded path is decoded.
  const path = decodeURIComponent(rawPath.startsWith('//') ? rawPath.slice(2) : rawPath);
  if (path === '') throw new ValidationError('file: URLs need a path, like file:./data.json', 'url');
  const options = documentBackendUrlOptions(url, new URLSearchParams(query));
  const { DocumentBackend } = await import('./document-backend.js');
  const { FileDocumentStore } = await import('./file-document-store.js');
  return new DocumentBackend({ store: new FileDocumentStore(path), ...options });
}
