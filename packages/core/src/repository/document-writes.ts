import { ConflictError, isBerthError, NotFoundError, ValidationError } from '../errors.js';
import { type StandardSchemaV1, validateWithSchema } from '../values/standard-schema.js';
import { copyDocument, MAX_DOCUMENT_BYTES } from '../values/values.js';
import type { WriteOptions } from './repository.js';

/**
 * What every adapter does to a document before writing it: validate and copy
 * it, then run the collection's schema (whose output is what is stored; it may
 * not change the id). What is stored must fit in `maxBytes` of JSON (the
 * adapter's `capabilities.repository.maxDocumentBytes`).
 *
 * ### Examples
 * ```ts
 * import { validateDocument } from '@berth/core/adapter';
 *
 * const stored = await validateDocument<{ id: string; name: string }>({ id: 'u1', name: 'Ada' }, 'users', undefined);
 * ```
 */
export async function validateDocument<T>(
  document: unknown,
  collection: string,
  schema: StandardSchemaV1<unknown, T> | undefined,
  maxBytes: number = MAX_DOCUMENT_BYTES,
): Promise<T> {
  if (schema === undefined) return copyDocument<T>(document, collection, maxBytes);
  // Only the schema's output is stored, so only its size counts.
  const copy = copyDocument<T>(document, collection, Number.POSITIVE_INFINITY);
  const output = copyDocument<T>(await validateWithSchema(schema, copy, collection), collection, maxBytes);
  if ((output as { id?: unknown }).id !== (copy as { id?: unknown }).id) {
    throw new ValidationError(`the ${collection} schema changed the id`, 'id', { collection });
  }
  return output;
}

/**
 * Validates every document of a bulk write before anything is written. An
 * error names the document (`document 2: …`, path `2.stats.born`).
 *
 * ### Examples
 * ```ts
 * import { validateDocuments } from '@berth/core/adapter';
 *
 * const batch = await validateDocuments<{ id: string }>([{ id: 'a' }, { id: 'b' }], 'users', undefined);
 * ```
 */
export async function validateDocuments<T>(
  documents: unknown,
  collection: string,
  schema: StandardSchemaV1<unknown, T> | undefined,
  maxBytes: number = MAX_DOCUMENT_BYTES,
): Promise<T[]> {
  if (!Array.isArray(documents)) throw new ValidationError('expected an array of documents', '', { collection });
  const validated: T[] = [];
  for (let index = 0; index < documents.length; index++) {
    try {
      // Without a schema nothing awaits: no promise per document.
      const document: unknown = documents[index];
      validated.push(
        schema === undefined
          ? copyDocument<T>(document, collection, maxBytes)
          : await validateDocument(document, collection, schema, maxBytes),
      );
    } catch (error) {
      if (!isBerthError(error, 'VALIDATION')) throw error;
      const path = error.path === '' ? String(index) : `${index}.${error.path}`;
      throw new ValidationError(`document ${index}: ${error.message}`, path, { collection, cause: error });
    }
  }
  return validated;
}

/**
 * Optimistic concurrency, the same everywhere: with `expectedVersion`, a
 * missing document is NOT_FOUND and another version is CONFLICT.
 * `currentVersion` is the stored version, or `undefined` when missing.
 *
 * ### Examples
 * ```ts
 * import { checkExpectedVersion } from '@berth/core/adapter';
 *
 * checkExpectedVersion('users', 'u1', 3, { expectedVersion: 3 }); // passes
 * checkExpectedVersion('users', 'u1', 3, undefined); // passes: no precondition
 * // checkExpectedVersion('users', 'u1', 4, { expectedVersion: 3 }) throws CONFLICT
 * ```
 */
export function checkExpectedVersion(
  collection: string,
  id: string,
  currentVersion: number | undefined,
  options: WriteOptions | undefined,
): void {
  const expected = options?.expectedVersion;
  if (expected === undefined) return;
  if (!Number.isSafeInteger(expected) || expected < 1) {
    throw new ValidationError(`expectedVersion must be an integer >= 1, got ${String(expected)}`, 'expectedVersion', {
      collection,
      id,
    });
  }
  if (currentVersion === undefined) {
    throw new NotFoundError(`${collection} has no document ${JSON.stringify(id)} (expected version ${expected})`, {
      collection,
      id,
    });
  }
  if (currentVersion !== expected) {
    throw new ConflictError(
      `${collection} document ${JSON.stringify(id)} is at version ${currentVersion}, not ${expected}`,
      {
        collection,
        id,
      },
    );
  }
}
