import { type Entry, type StandardSchemaV1, ValidationError } from '@berth/core';
import { checkArrayArgument, isPlainObject, validateDocument } from '@berth/core/adapter';

/** The largest version an `integer` version column holds. */
const MAX_PG_VERSION = 2_147_483_647;

/** The earliest time `timestamptz` holds (4714-11-24 BC); the latest (294276 AD) is past JavaScript's. */
const MIN_PG_TIME = -210_866_803_200_000;

/** One entry of `importEntries`, checked: the document as it is stored, and its metadata as numbers. */
export interface ImportedEntry<T> {
  readonly document: T;
  readonly version: number;
  readonly createdMs: number;
  readonly updatedMs: number;
}

/** A VALIDATION error of entry `index`, its path under the entry (`0.meta.version`). */
function invalid(index: number, path: string, message: string, collection: string, cause?: unknown): ValidationError {
  return new ValidationError(`entry ${index}: ${message}`, path === '' ? String(index) : `${index}.${path}`, {
    collection,
    cause,
  });
}

function checkTime(value: unknown, index: number, path: string, collection: string): number {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw invalid(index, path, `${path} must be a valid Date`, collection);
  }
  const ms = value.getTime();
  if (ms < MIN_PG_TIME)
    throw invalid(index, path, `${path} is before 4714 BC, which PostgreSQL cannot keep`, collection);
  return ms;
}

function checkVersion(value: unknown, index: number, collection: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(index, 'meta.version', `meta.version must be a positive integer, got ${String(value)}`, collection);
  }
  if (value > MAX_PG_VERSION) {
    throw invalid(
      index,
      'meta.version',
      `meta.version ${value} is past ${MAX_PG_VERSION}, PostgreSQL's largest version`,
      collection,
    );
  }
  return value;
}

/**
 * Checks the entries of `importEntries` before anything is written: each a
 * `{ document, meta }`, the document validated as any write (values, id,
 * the collection's schema, size), the meta a positive version and two valid
 * Dates, no id twice. An error names the entry's path (`2.meta.createdAt`,
 * `0.document.name`).
 */
export async function checkImportedEntries<T>(
  entries: unknown,
  collection: string,
  schema: StandardSchemaV1<unknown, T> | undefined,
  maxBytes: number,
): Promise<ImportedEntry<T>[]> {
  checkArrayArgument(entries, 'importEntries', collection);
  const checked: ImportedEntry<T>[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    if (!isPlainObject(entry)) throw invalid(index, '', 'an entry is { document, meta }', collection);
    if (!isPlainObject(entry.meta))
      throw invalid(index, 'meta', 'meta must be { version, createdAt, updatedAt }', collection);
    const meta = entry.meta as Partial<Entry<T>['meta']>;
    const version = checkVersion(meta.version, index, collection);
    const createdMs = checkTime(meta.createdAt, index, 'meta.createdAt', collection);
    const updatedMs = checkTime(meta.updatedAt, index, 'meta.updatedAt', collection);
    let document: T;
    try {
      document = await validateDocument<T>(entry.document, collection, schema, maxBytes);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      const path = error.path === '' ? 'document' : `document.${error.path}`;
      throw invalid(index, path, error.message, collection, error);
    }
    const id = (document as { id: string }).id;
    if (seen.has(id)) throw invalid(index, 'document.id', `the id ${JSON.stringify(id)} is given twice`, collection);
    seen.add(id);
    checked.push({ document, version, createdMs, updatedMs });
  }
  return checked;
}
