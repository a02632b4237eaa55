import type { StandardSchemaV1 } from '@berth/core';
import { prepareImportEntries } from '@berth/core/adapter';
import { RedisRecord } from './redis-record.js';

/**
 * The records an import stores: every entry checked by core's
 * `prepareImportEntries` (as a write checks its document, plus the
 * metadata and ids given twice) before anything is written, with the
 * metadata as given.
 */
export async function importedRecords<T>(
  entries: unknown,
  collection: string,
  schema: StandardSchemaV1<unknown, T> | undefined,
  maxDocumentBytes: number,
): Promise<RedisRecord[]> {
  const prepared = await prepareImportEntries(
    entries,
    collection,
    schema as StandardSchemaV1<unknown, RedisRecord['document']> | undefined,
    maxDocumentBytes,
  );
  return prepared.map(
    ({ document, meta }) => new RedisRecord(document, meta.version, meta.createdAt.getTime(), meta.updatedAt.getTime()),
  );
}
