import { AlreadyExistsError, type DocumentMeta } from '@berth/core';
import { getPathValue, getQueryValue, type IndexSpec } from '@berth/core/adapter';

/** A stored document: the canonical copy (never handed out) and its metadata. */
export interface MemoryRecord {
  readonly document: Readonly<Record<string, unknown>> & { readonly id: string };
  readonly meta: DocumentMeta;
}

/**
 * The key of a scalar in an index: type-strict, so `1`, `"1"` and `true`
 * never share a key. Null, missing, arrays and objects are not indexed.
 */
export function indexKey(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return `s:${value}`;
    case 'number':
      return `n:${value}`;
    case 'boolean':
      return `b:${value}`;
    default:
      return value instanceof Date ? `d:${value.getTime()}` : undefined;
  }
}

/** One declared index: value key → ids holding it. */
export class MemoryIndex {
  readonly entries: Map<string, Set<string>> = new Map();
  constructor(readonly spec: IndexSpec) {}

  keyOf(record: MemoryRecord | undefined): string | undefined {
    // An index on $createdAt or $updatedAt keys the record's metadata.
    return record === undefined ? undefined : indexKey(getQueryValue(record.document, this.spec.path, record.meta));
  }

  add(key: string | undefined, id: string): void {
    if (key === undefined) return;
    let ids = this.entries.get(key);
    if (ids === undefined) {
      ids = new Set();
      this.entries.set(key, ids);
    }
    ids.add(id);
  }

  remove(key: string | undefined, id: string): void {
    if (key === undefined) return;
    const ids = this.entries.get(key);
    if (ids === undefined) return;
    ids.delete(id);
    if (ids.size === 0) this.entries.delete(key);
  }
}

/** The committed state of one collection. */
export class MemoryCollection {
  readonly records: Map<string, MemoryRecord> = new Map();
  readonly indexes: Map<string, MemoryIndex> = new Map();
  /** Bumped on every commit that changes the collection; transactions compare it. */
  sequence = 0;

  /** Applies one committed change, keeping the indexes in step. */
  apply(id: string, next: MemoryRecord | null): void {
    const previous = this.records.get(id);
    for (const index of this.indexes.values()) {
      const before = index.keyOf(previous);
      const after = next === null ? undefined : index.keyOf(next);
      if (before === after) continue;
      index.remove(before, id);
      index.add(after, id);
    }
    if (next === null) this.records.delete(id);
    else this.records.set(id, next);
  }
}

/** Every collection of one memory backend. */
export class MemoryStore {
  readonly collections: Map<string, MemoryCollection> = new Map();
  /** Called after every commit that changed something (the document-backed backend saves then). */
  onCommit: (() => void) | undefined;
  /** Called when a declaration added an index (the document-backed backend saves declarations too). */
  onIndexesChanged: (() => void) | undefined;
  /** Set when the backend closed: a commit after that would be lost (the document-backed backend has saved). */
  closed = false;

  collection(name: string): MemoryCollection {
    let collection = this.collections.get(name);
    if (collection === undefined) {
      collection = new MemoryCollection();
      this.collections.set(name, collection);
    }
    return collection;
  }
}

/**
 * Builds a declared index over the existing records the first time it is
 * seen, and says whether the collection's indexes changed. Declarations add
 * up, as SQLite's indexes do (it creates declared ones and drops none): a
 * field indexed as unique stays unique when declared without `unique`, and
 * declaring `unique` on an indexed field checks the records it holds.
 */
export function ensureIndex(collection: MemoryCollection, spec: IndexSpec, collectionName: string): boolean {
  const existing = collection.indexes.get(spec.field);
  if (existing !== undefined && (existing.spec.unique || !spec.unique)) return false;
  const index = new MemoryIndex(spec);
  for (const [id, record] of collection.records) {
    const key = index.keyOf(record);
    if (spec.unique && key !== undefined && index.entries.has(key)) {
      throw new AlreadyExistsError(
        `cannot declare a unique index on ${collectionName}.${spec.field}: documents already share a value`,
        spec.field,
        { collection: collectionName, id },
      );
    }
    index.add(key, id);
  }
  collection.indexes.set(spec.field, index);
  return true;
}
