import { ConnectionError, ValidationError } from '@berth/core';
import {
  checkCollectionName,
  copyDocument,
  fromJsonValue,
  type IndexSpec,
  isPlainObject,
  MAX_DATE_MS,
  MIN_DATE_MS,
  normalizeIndexes,
  stringifyDocument,
} from '@berth/core/adapter';
import { type MemoryCollection, MemoryRecord } from './memory-store.js';

/**
 * The top-level key that holds Berth's metadata; collection names cannot start with `$`.
 *
 * ### Examples
 * ```ts
 * import { readFile } from 'node:fs/promises';
 * import { DOCUMENT_META_KEY } from '@berth/adapter-memory';
 *
 * // Reading a saved document with another tool: every top-level key but `$berth` is a collection.
 * const document = JSON.parse(await readFile('./data/app.json', 'utf8')) as Record<string, unknown>;
 * const collections = Object.keys(document).filter((key) => key !== DOCUMENT_META_KEY);
 * ```
 */
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
  /** Each collection's stored index declarations (a collection listed only here is empty). */
  readonly indexes: Map<string, IndexSpec[]>;
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

/** The checked `$berth` object: the metadata of each entity, and each collection's indexes. */
interface BerthEntry {
  readonly meta: Record<string, unknown>;
  readonly indexes: Record<string, unknown>;
}

/** The `$berth` object, checked as far as its shape goes. */
function readBerth(location: string, berth: unknown): BerthEntry {
  if (berth === undefined) return { meta: dictionary(), indexes: dictionary() };
  if (!isPlainObject(berth)) throw corrupt(location, `${DOCUMENT_META_KEY} must be an object`);
  const format = own(berth, 'format');
  if (format !== FORMAT) {
    throw corrupt(
      location,
      `${DOCUMENT_META_KEY}.format is ${JSON.stringify(format)}; this version of Berth reads format ${FORMAT}`,
    );
  }
  const entry = (key: string): Record<string, unknown> => {
    const value = own(berth, key);
    if (value === undefined) return dictionary();
    if (!isPlainObject(value)) throw corrupt(location, `${DOCUMENT_META_KEY}.${key} must be an object`);
    return value;
  };
  return { meta: entry('meta'), indexes: entry('indexes') };
}

/**
 * A stored declaration is what `repository(name, { indexes })` takes, written
 * in full: `{ field, type, unique }`, or `{ fields, unique }` with an
 * optional `name` for a compound index.
 */
function isStoredIndex(value: unknown): boolean {
  if (!isPlainObject(value) || typeof own(value, 'unique') !== 'boolean') return false;
  if (Object.hasOwn(value, 'fields')) {
    const name = own(value, 'name');
    return (
      Object.keys(value).length === (name === undefined ? 2 : 3) &&
      (name === undefined || typeof name === 'string') &&
      Array.isArray(own(value, 'fields'))
    );
  }
  return (
    Object.keys(value).length === 3 && typeof own(value, 'field') === 'string' && typeof own(value, 'type') === 'string'
  );
}

/**
 * The `$berth.indexes.<collection>` declarations, validated as a repository
 * validates declared ones (field path, type, no field twice).
 */
function readIndexes(location: string, collection: string, declarations: unknown): IndexSpec[] {
  const key = `${DOCUMENT_META_KEY}.indexes.${collection}`;
  if (!isCollectionName(collection)) {
    throw corrupt(location, `${key}: ${JSON.stringify(collection)} is not a collection name`);
  }
  if (!Array.isArray(declarations) || !declarations.every(isStoredIndex)) {
    throw corrupt(
      location,
      `${key} must be an array of { field, type, unique } or { fields, unique, name? } (unique true or false)`,
      {
        collection,
      },
    );
  }
  try {
    return normalizeIndexes(collection, { indexes: declarations }, true);
  } catch (cause) {
    throw new ConnectionError(`${location}: ${key} is not valid: ${(cause as Error).message}`, {
      cause,
      retryable: false,
      collection,
    });
  }
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
  return new MemoryRecord(document, version, createdAt, updatedAt);
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
  const { meta, indexes: storedIndexes } = readBerth(location, own(parsed, DOCUMENT_META_KEY));
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
  const indexes = new Map<string, IndexSpec[]>();
  for (const [collection, declarations] of Object.entries(storedIndexes)) {
    const specs = readIndexes(location, collection, declarations);
    if (foreign.has(collection)) {
      const what = 'declares indexes on a key that is not a collection';
      throw corrupt(location, `${DOCUMENT_META_KEY}.indexes.${collection} ${what}`, { collection });
    }
    if (specs.length > 0) indexes.set(collection, specs);
  }
  return { collections, indexes, foreign };
}

/** Characters of JSON text gathered before they are encoded to bytes. */
const CHUNK_CHARS = 1 << 16;

/**
 * JSON text written piece by piece and encoded in chunks of about 64 KB, so
 * a large document never exists as one string next to its bytes, nor as an
 * encoded copy of every entity.
 */
class JsonChunks {
  private readonly encoder = new TextEncoder();
  private readonly chunks: Uint8Array[] = [];
  private pieces: string[] = [];
  private pending = 0;
  private size = 0;

  write(text: string): void {
    this.pieces.push(text);
    this.pending += text.length;
    if (this.pending >= CHUNK_CHARS) this.encodePending();
  }

  /** Writes `"key":value` inside an object, after a comma unless it is the object's first member. */
  member(first: boolean, key: string, json: string): void {
    this.write(`${first ? '' : ','}${JSON.stringify(key)}:`);
    this.write(json);
  }

  /** The whole text as UTF-8: one copy of the chunks, which are then dropped. */
  finish(): Uint8Array {
    this.encodePending();
    const bytes = new Uint8Array(this.size);
    let offset = 0;
    for (const chunk of this.chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
  }

  private encodePending(): void {
    const chunk = this.encoder.encode(this.pieces.join(''));
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.pieces = [];
    this.pending = 0;
  }
}

function storedIndexes(collection: MemoryCollection): unknown[] {
  return [...collection.indexes.values()].map(({ spec }) =>
    spec.compound
      ? {
          fields: spec.fields.map((field) => ({ field: field.field, type: field.type })),
          unique: spec.unique,
          ...(spec.key === `(${spec.field})` ? {} : { name: spec.key.slice(1, -1) }),
        }
      : { field: spec.field, type: spec.type, unique: spec.unique },
  );
}

/**
 * Writes the whole state: other tools' entries first, as they were loaded,
 * then every collection, then the metadata and the declared indexes (so a
 * later backend enforces them without redeclaring them). Entities are
 * written one by one in their collection's order, never copied first.
 */
export function encodeDocument(collections: Map<string, MemoryCollection>, foreign: Map<string, unknown>): Uint8Array {
  const output = new JsonChunks();
  output.write('{');
  let first = true;
  for (const [key, value] of foreign) {
    output.member(first, key, JSON.stringify(value));
    first = false;
  }
  // Never replace another tool's entry; the backend refuses to use such a name.
  const saved = [...collections].filter(([name]) => !foreign.has(name));
  for (const [name, collection] of saved) {
    output.member(first, name, '{');
    first = false;
    let firstEntity = true;
    for (const [id, record] of collection.records) {
      output.member(firstEntity, id, stringifyDocument(record.document));
      firstEntity = false;
    }
    output.write('}');
  }
  output.member(first, DOCUMENT_META_KEY, `{"format":${FORMAT},"meta":{`);
  let firstMeta = true;
  for (const [name, collection] of saved) {
    if (collection.records.size === 0) continue;
    output.member(firstMeta, name, '{');
    firstMeta = false;
    let firstEntity = true;
    for (const [id, record] of collection.records) {
      output.member(firstEntity, id, `[${record.version},${record.createdAtMs},${record.updatedAtMs}]`);
      firstEntity = false;
    }
    output.write('}');
  }
  output.write('}');
  const indexes = saved.filter(([, collection]) => collection.indexes.size > 0);
  // Without declarations the key is left out: such a file reads as it did before indexes were stored.
  if (indexes.length > 0) {
    const declared = Object.fromEntries(indexes.map(([name, collection]) => [name, storedIndexes(collection)]));
    output.write(`,"indexes":${JSON.stringify(declared)}`);
  }
  output.write('}}');
  return output.finish();
}
