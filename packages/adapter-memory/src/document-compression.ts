import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { ConnectionError } from '@berth/core';

/**
 * How the document-backed backend writes its document: `'gzip'` (node:zlib) or `'none'` (plain JSON).
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, type DocumentCompression, FileDocumentStore } from '@berth/adapter-memory';
 *
 * const compression: DocumentCompression = 'gzip';
 * const backend = new DocumentBackend({ store: new FileDocumentStore('./data/app.json.gz'), compression });
 * ```
 */
export type DocumentCompression = 'gzip' | 'none';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** A gzip stream starts with 1f 8b; JSON text never does (0x1f is not allowed before a JSON value). */
function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

/** Compresses off the main thread (zlib's thread pool), so a large document does not stall other work. */
export async function compressDocument(data: Uint8Array, compression: DocumentCompression): Promise<Uint8Array> {
  if (compression === 'none') return data;
  const compressed = await gzipAsync(data);
  return new Uint8Array(compressed.buffer, compressed.byteOffset, compressed.byteLength);
}

/**
 * The document's JSON bytes: a gzip document is recognised by its first
 * bytes whatever `compression` says, so turning it on or off never strands
 * a document. A broken gzip stream is refused like other corrupt input.
 */
export async function decompressDocument(location: string, data: Uint8Array): Promise<Uint8Array> {
  if (!isGzip(data)) return data;
  try {
    const plain = await gunzipAsync(data);
    return new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength);
  } catch (cause) {
    throw new ConnectionError(`${location} is not a valid gzip document: ${(cause as Error).message}`, {
      cause,
      retryable: false,
    });
  }
}
