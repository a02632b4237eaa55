import { type Entry, isBerthError, type StandardSchemaV1, ValidationError } from '@berth/core';
import { isPlainObject, validateDocument } from '@berth/core/adapter';
import { RedisRecord } from './redis-record.js';

/** Whether `value` is a Date holding an instant (an invalid Date has none to store). */
function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/**
 * The metadata of entry `index` as a record's fields: a version that is a
 * positive safe integer and two valid Dates, else VALIDATION naming the
 * path (`0.meta.version`).
 */
function checkMeta(meta: unknown, index: number, collection: string): [number, number, number] {
  if (!isPlainObject(meta)) {
    throw new ValidationError(`entry ${index}: meta must be { version, createdAt, updatedAt }`, `${index}.meta`, {
      collection,
    });
  }
  const { version, createdAt, updatedAt } = meta;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new ValidationError(
      `entry ${index}: meta.version must be a positive safe integer, got ${String(version)}`,
      `${index}.meta.version`,
      { collection },
    );
  }
  for (const [field, value] of [
    ['createdAt', createdAt],
    ['updatedAt', updatedAt],
  ] as const) {
    if (!isValidDate(value)) {
      throw new ValidationError(`entry ${index}: meta.${field} must be a valid Date`, `${index}.meta.${field}`, {
        collection,
      });
    }
  }
  return [version, (createdAt as Date).getTime(), (updatedAt as Date).getTime()];
}

/**
 * Checks every entry of an import before anything is written, as a write
 * checks its document (values, id, the collection's schema, size) plus the
 * metadata, and makes the records to store with that metadata as given.
 * An error names the entry (`2.document.name`, `0.meta.version`); an id
 * given twice is VALIDATION, since one import cannot store both.
 */
export async function importedRecords<T>(
  entries: readonly unknown[],
  collection: string,
  schema: StandardSchemaV1<unknown, T> | undefined,
  maxDocumentBytes: number,
): Promise<RedisRecord[]> {
  const records: RedisRecord[] = [];
  const seen = new Set<string>();
  for (let index = 0; index < entries.length; index++) {
    const entry: unknown = entries[index];
    if (!isPlainObject(entry)) {
      throw new ValidationError(`entry ${index} must be { document, meta }`, String(index), { collection });
    }
    const [version, createdAt, updatedAt] = checkMeta(
      (entry as Partial<Entry<RedisRecord['document']>>).meta,
      index,
      collection,
    );
    let document: RedisRecord['document'];
    try {
      document = (await validateDocument(
        (entry as Partial<Entry<RedisRecord['document']>>).document,
        collection,
        schema,
        maxDocumentBytes,
      )) as RedisRecord['document'];
    } catch (error) {
      if (!isBerthError(error, 'VALIDATION')) throw error;
      const path = error.path === '' ? `${index}.document` : `${index}.document.${error.path}`;
      throw new ValidationError(`entry ${index}: ${error.message}`, path, { collection, cause: error });
    }
    if (seen.has(document.id)) {
      throw new ValidationError(
        `entry ${index}: id ${JSON.stringify(document.id)} is given twice in one import`,
        `${index}.document.id`,
        { collection, id: document.id },
      );
    }
    seen.add(document.id);
    records.push(new RedisRecord(document, version, createdAt, updatedAt));
  }
  return records;
}
