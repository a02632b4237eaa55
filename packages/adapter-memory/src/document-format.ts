import {
  ConnectionError,
  checkCollectionName,
  copyDocument,
  fromJsonValue,
  isPlainObject,
  MAX_DATE_MS,
  MIN_DATE_MS,
  toJsonValue,
  ValidationError,
} from '@berth/core';
import type { MemoryCollection, MemoryRecord } from './memory-store.js';

/** The top-level key that holds Berth's metadata; collection names cannot start with `$`. */
export const DOCUMENT_META_KEY = '$berth';

/** The only `$berth.format` this version reads and writes. */
const FORMAT = 1;

type MetaTuple = [version: number, createdAt: number, updatedAt: number];

/**
 * What a loaded document holds. Keys of the JSON document are data (ids,
 * other tools' keys such as `__proto__`), so they live in Maps, never as
 * properties of plain objects.
 */
export interface DecodedDocument {
  readonly collections: Map<string, Map<string, MemoryRecord>>;
  /** Top-level entries that are not collections, written back unchanged. */
  readonly foreign: Map<string, unknown>;
}

/** A plain object without a prototype, so that any key (`__proto__` too) is an own property. */
function dictionary(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

function isCollectionName(key: string): boolean {
  try {
    checkCollectionName(key);
    return true;
  } catch {
    return false;
  }
}

function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function isTimestamp(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= MIN_DATE_MS && (value as number) <= MAX_DATE_MS;
}

function isMetaTuple(value: unknown): value is MetaTuple {
  if (!Array.isArray(value) || value.length !== 3) return false;
  const [version, createdAt, updatedAt] = value as unknown[];
  return (
    Number.isSafeInteger(version) &&
    (version as number) >= 1 &&
    isTimestamp(createdAt) &&
    isTimestamp(updatedAt) &&
    updatedAt >= createdAt
  );
}

/**
 * Refuses the document at load: corrupt input is never taken in silently
 * (a version of `"7"` would become `"71"` after one update).
 */
function corrupt(location: string, what: string, details: { collection?: string; id?: string } = {}): ConnectionError {
  return new ConnectionError(`${location}: ${what}`, { retryable: false, ...details });
}

/** The `$berth.meta` object, checked as far as its shape goes. */
function readMeta(location: string, berth: unknown): Record<string, unknown> {
  if (berth === undefined) return dictionary();
  if (!isPlainObject(berth)) throw corrupt(location, `${DOCUMENT_META_KEY} must be an object`);
  const format = own(berth, 'format');
  if (format !== FORMAT) {
    throw corrupt(
      location,
      `${DOCUMENT_META_KEY}.format is ${JSON.stringify(format)}; this version of Berth reads format ${FORMAT}`,
    );
  }
  const meta = own(berth, 'meta');
  if (meta === undefined) return dictionary();
  if (!isPlainObject(meta)) throw corrupt(location, `${DOCUMENT_META_KEY}.meta must be an object`);
  return meta;
}

function loadRecord(
  location: string,
  collection: string,
  id: string,
  entity: unknown,
  tuple: MetaTuple | undefined,
  now: number,
): MemoryRecord {
  let document: MemoryRecord['document'];
  try {
    const decoded = fromJsonValue(entity);
    if (!isPlainObject(decoded)) throw new ValidationError('an entity must be a JSON object', id);
    if (decoded.id !== undefined && decoded.id !== id) {
      throw new ValidationError(`its id ${JSON.stringify(decoded.id)} differs from its key`, 'id');
    }
    document = copyDocument<MemoryRecord['document']>({ ...decoded, id }, collection);
  } catch (cause) {
    throw new ConnectionError(`${location}: ${collection}.${id} cannot be loaded: ${(cause as Error).message}`, {
      cause,
      retryable: false,
      collection,
      id,
    });
  }
  const [version, createdAt, updatedAt] = tuple ?? [1, now, now];
  return { document, meta: { version, createdAt: new Date(createdAt), updatedAt: new Date(updatedAt) } };
}

/**
 * Reads a stored document. Throws a non-retryable CONNECTION error for
 * anything it cannot take in unchanged: text that is not a JSON object, an
 * entity that is not a valid document, metadata of the wrong shape.
 */
export function decodeDocument(location: string, data: Uint8Array): DecodedDocument {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (cause) {
    throw new ConnectionError(`${location} is not a JSON document`, { cause, retryable: false });
  }
  if (!isPlainObject(parsed)) throw corrupt(location, 'the document must be a JSON object of collections');
  const meta = readMeta(location, own(parsed, DOCUMENT_META_KEY));
  const collections = new Map<string, Map<string, MemoryRecord>>();
  const foreign = new Map<string, unknown>();
  const now = Date.now();
  for (const [key, value] of Object.entries(parsed)) {
    if (key === DOCUMENT_META_KEY) continue;
    if (!isCollectionName(key) || !isPlainObject(value)) {
      foreign.set(key, value);
      continue;
    }
    const collectionMeta = own(meta, key) ?? dictionary();
    if (!isPlainObject(collectionMeta)) {
      throw corrupt(location, `${DOCUMENT_META_KEY}.meta.${key} must be an object`, { collection: key });
    }
    const records = new Map<string, MemoryRecord>();
    for (const [id, entity] of Object.entries(value)) {
      const tuple = own(collectionMeta, id);
      if (tuple !== undefined && !isMetaTuple(tuple)) {
        throw corrupt(
          location,
          `${DOCUMENT_META_KEY}.meta.${key}.${id} is ${JSON.stringify(tuple)}, not [version, createdAt, updatedAt] (a version >= 1 and two times in milliseconds, created first)`,
          { collection: key, id },
        );
      }
      records.set(id, loadRecord(location, key, id, entity, tuple, now));
    }
    collections.set(key, records);
  }
  return { collections, foreign };
}

/**
 * Writes the whole state: other tools' entries first, as they were loaded,
 * then every collection, then the metadata.
 */
export function encodeDocument(collections: Map<string, MemoryCollection>, foreign: Map<string, unknown>): Uint8Array {
  const output = dictionary();
  for (const [key, value] of foreign) output[key] = value;
  const meta = dictionary();
  for (const [name, collection] of collections) {
    // Never replace another tool's entry; the backend refuses to use such a name.
    if (foreign.has(name)) continue;
    const documents = dictionary();
    const versions = dictionary();
    for (const [id, record] of collection.records) {
      documents[id] = toJsonValue(record.document);
      versions[id] = [record.meta.version, record.meta.createdAt.getTime(), record.meta.updatedAt.getTime()];
    }
    output[name] = documents;
    if (collection.records.size > 0) meta[name] = versions;
  }
  output[DOCUMENT_META_KEY] = { format: FORMAT, meta };
  return new TextEncoder().encode(JSON.stringify(output));
}
