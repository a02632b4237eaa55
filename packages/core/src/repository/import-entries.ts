import { isBerthError, ValidationError } from '../errors.js';
import type { Document, DocumentMeta } from '../values/document.js';
import type { StandardSchemaV1 } from '../values/standard-schema.js';
import { isPlainObject, MAX_DATE_MS, MAX_DOCUMENT_BYTES, MIN_DATE_MS } from '../values/values.js';
import { validateDocument } from './document-writes.js';

/**
 * One entry of `importEntries` once checked: the document as it will be
 * stored (validated, copied, through the schema) and its metadata (fresh Dates).
 *
 * ### Examples
 * ```ts
 * import { type PreparedEntry, prepareImportEntries } from '@berth/core/adapter';
 *
 * const meta = { version: 7, createdAt: new Date('1999-01-01'), updatedAt: new Date('2001-01-01') };
 * const [entry]: PreparedEntry<{ id: string }>[] = await prepareImportEntries([{ document: { id: 'a' }, meta }], 'notes', undefined);
 * console.log(entry?.meta.version); // 7
 * ```
 */
export interface PreparedEntry<T> {
  readonly document: T;
  readonly meta: DocumentMeta;
}

/**
 * A time every engine can store (the imports check theirs with it): a valid
 * Date from year 0 to 9999, returned as a copy; VALIDATION at `path` otherwise.
 *
 * ### Examples
 * ```ts
 * import { checkStorableDate } from '@berth/core/adapter';
 *
 * const due = checkStorableDate(new Date('2026-11-27T00:00:00Z'), 'runAt'); // a copy
 * checkStorableDate(new Date(Number.NaN), '0.meta.createdAt'); // throws VALIDATION at 0.meta.createdAt
 * ```
 */
export function checkStorableDate(value: unknown, path: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new ValidationError(`${path} must be a valid Date`, path);
  }
  const time = value.getTime();
  if (time < MIN_DATE_MS || time > MAX_DATE_MS) {
    throw new ValidationError(`${path} must lie between the years 0 and 9999`, path);
  }
  return new Date(time);
}

function checkMeta(meta: unknown, path: string): DocumentMeta {
  if (!isPlainObject(meta)) throw new ValidationError(`${path} must be { version, createdAt, updatedAt }`, path);
  const { version } = meta;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new ValidationError(
      `${path}.version must be an integer from 1 to 2^53 - 1, got ${String(version)}`,
      `${path}.version`,
    );
  }
  const createdAt = checkStorableDate(meta.createdAt, `${path}.createdAt`);
  const updatedAt = checkStorableDate(meta.updatedAt, `${path}.updatedAt`);
  // Every engine's documents are created before they are updated; a document-backed file refuses the other order at load.
  if (updatedAt.getTime() < createdAt.getTime()) {
    throw new ValidationError(`${path}.updatedAt is before ${path}.createdAt`, `${path}.updatedAt`);
  }
  return { version, createdAt, updatedAt };
}

/** Prefixes a VALIDATION error of entry `index` with where it was found (`3.document.name`). */
function withinEntry(error: unknown, index: number, part: string, collection: string): unknown {
  if (!isBerthError(error, 'VALIDATION')) return error;
  const path = [String(index), part, error.path].filter((segment) => segment !== '').join('.');
  return new ValidationError(`entry ${index}: ${error.message}`, path, { collection, cause: error });
}

/**
 * What every adapter does before `importEntries` writes anything: checks
 * that `entries` is an array of `{ document, meta }`, validates each
 * document as a write does (values, id, the collection's schema, `maxBytes`),
 * its metadata (a version from 1 to 2^53 - 1, valid Dates from year 0 to
 * 9999, `updatedAt` not before `createdAt`) and that no id occurs twice. A
 * VALIDATION error names the entry's path (`0.meta.version`,
 * `2.document.name`, `1.document.id` for a repeated id).
 *
 * ### Examples
 * ```ts
 * import { prepareImportEntries } from '@berth/core/adapter';
 *
 * const at = new Date('2001-02-03T04:05:06.789Z');
 * const entries = await prepareImportEntries<{ id: string; title: string }>(
 *   [{ document: { id: 'n1', title: 'Hello' }, meta: { version: 3, createdAt: at, updatedAt: at } }],
 *   'notes',
 *   undefined,
 * );
 * ```
 */
export async function prepareImportEntries<T extends Document>(
  entries: unknown,
  collection: string,
  schema: StandardSchemaV1<unknown, T> | undefined,
  maxBytes: number = MAX_DOCUMENT_BYTES,
): Promise<PreparedEntry<T>[]> {
  if (!Array.isArray(entries)) {
    throw new ValidationError('importEntries takes an array of { document, meta }', '', { collection });
  }
  const prepared: PreparedEntry<T>[] = [];
  const seen = new Set<string>();
  for (let index = 0; index < entries.length; index++) {
    const entry: unknown = entries[index];
    if (!isPlainObject(entry)) {
      throw new ValidationError(`entry ${index} must be { document, meta }`, String(index), { collection });
    }
    let meta: DocumentMeta;
    try {
      meta = checkMeta(entry.meta, 'meta');
    } catch (error) {
      throw withinEntry(error, index, '', collection);
    }
    let document: T;
    try {
      document = await validateDocument(entry.document, collection, schema, maxBytes);
    } catch (error) {
      throw withinEntry(error, index, 'document', collection);
    }
    if (seen.has(document.id)) {
      throw new ValidationError(
        `entry ${index}: id ${JSON.stringify(document.id)} occurs twice in one importEntries call`,
        `${index}.document.id`,
        { collection, id: document.id },
      );
    }
    seen.add(document.id);
    prepared.push({ document, meta });
  }
  return prepared;
}
