import { AlreadyExistsError, type DocumentMeta } from '@berth/core';
import { getQueryValue, type IndexSpec } from '@berth/core/adapter';
import { compareEntries, type SortedEntry, SortedIndex } from './memory-sorted-index.js';

/**
 * A stored document: the canonical copy (never handed out) and its metadata.
 * The times are kept as milliseconds and made into Dates only when read
 * (`createdAt`, `updatedAt`, or `meta`): a write allocates one small object
 * besides the document, which matters because every stored record outlives
 * the young generation and the garbage collector pays for each object in it.
 */
export class MemoryRecord implements DocumentMeta {
  constructor(
    readonly document: Readonly<Record<string, unknown>> & { readonly id: string },
    readonly version: number,
    readonly createdAtMs: number,
    readonly updatedAtMs: number,
  ) {}

  /** When the document was created: a fresh Date on every read. */
  get createdAt(): Date {
    return new Date(this.createdAtMs);
  }

  /** When the document was last written: a fresh Date on every read. */
  get updatedAt(): Date {
    return new Date(this.updatedAtMs);
  }

  /**
   * The record's metadata, for what reads `$createdAt` and `$updatedAt`
   * (core's `getQueryValue` reads only the time a path names): the record
   * itself, so a filter or an index on metadata allocates nothing per
   * record it does not read. Hand out {@link MemoryRecord.entryMeta}.
   */
  get meta(): DocumentMeta {
    return this;
  }

  /** A fresh, plain copy of the metadata, for an entry handed to the caller. */
  entryMeta(): DocumentMeta {
    return { version: this.version, createdAt: new Date(this.createdAtMs), updatedAt: new Date(this.updatedAtMs) };
  }
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

/** One declared index: value key → ids holding it, and every document in index order. */
export class MemoryIndex {
  readonly entries: Map<string, Set<string>> = new Map();
  readonly sorted: SortedIndex = new SortedIndex();
  constructor(readonly spec: IndexSpec) {}

  /**
   * The key of the record's value (of each field, for a compound index,
   * joined by NUL, which no string may hold), or `undefined` when a field
   * holds null, nothing, an array or an object: such records are neither
   * looked up by value nor checked by a unique index.
   */
  keyOf(record: MemoryRecord | undefined): string | undefined {
    if (record === undefined) return undefined;
    // An index on $createdAt or $updatedAt keys the record's metadata.
    if (!this.spec.compound) return indexKey(getQueryValue(record.document, this.spec.path, record.meta));
    const keys: string[] = [];
    for (const field of this.spec.fields) {
      const key = indexKey(getQueryValue(record.document, field.path, record.meta));
      if (key === undefined) return undefined;
      keys.push(key);
    }
    return keys.join('\u0000');
  }

  /** The record's entry in the sorted index (every record has one). */
  entryOf(record: MemoryRecord): SortedEntry {
    return {
      values: this.spec.fields.map((field) => getQueryValue(record.document, field.path, record.meta) ?? null),
      id: record.document.id,
    };
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

/** One document's change in a commit: the record before and after (`undefined`: missing). */
export interface MemoryChange {
  readonly before: MemoryRecord | undefined;
  readonly after: MemoryRecord | undefined;
}

/**
 * How many recent commits a collection remembers the changes of, and how many
 * changes at most, for sessions that ran queries to check against. A session
 * older than that conflicts if it ran a query and the collection changed.
 */
const LOG_COMMITS = 1024;
const LOG_CHANGES = 16_384;

/** The committed state of one collection. */
export class MemoryCollection {
  readonly records: Map<string, MemoryRecord> = new Map();
  /** By `IndexSpec.key`: the field, or `(<name>)` of a compound index. */
  readonly indexes: Map<string, MemoryIndex> = new Map();
  /** Bumped on every commit that changes the collection; transactions compare it. */
  sequence = 0;
  /** The changes of the latest commits, oldest first: `log[i]` is commit `logStart + i + 1`. */
  private log: (readonly MemoryChange[])[] = [];
  private logStart = 0;
  private logChanges = 0;

  /**
   * Records a commit's changes (already applied) and bumps the sequence.
   * With `keep` false (no other transaction is open, so none can need them)
   * the log is cleared instead: a transaction opened later starts after it.
   */
  commit(changes: readonly MemoryChange[], keep = true): void {
    this.sequence += 1;
    if (!keep) {
      if (this.log.length > 0) this.log = [];
      this.logChanges = 0;
      this.logStart = this.sequence;
      return;
    }
    this.log.push(changes);
    this.logChanges += changes.length;
    if (this.log.length > LOG_COMMITS || this.logChanges > LOG_CHANGES) {
      // Trimmed in halves, so the cost per commit stays constant.
      let drop = Math.max(1, this.log.length >> 1);
      let dropped = 0;
      for (let index = 0; index < drop; index++) dropped += this.log[index]?.length ?? 0;
      while (drop < this.log.length && this.logChanges - dropped > LOG_CHANGES) {
        dropped += this.log[drop]?.length ?? 0;
        drop++;
      }
      this.logChanges -= dropped;
      this.log = this.log.slice(drop);
      this.logStart += drop;
    }
  }

  /** Every change committed after commit `sequence`, or `undefined` when they are no longer all remembered. */
  changesSince(sequence: number): Iterable<MemoryChange> | undefined {
    if (sequence < this.logStart) return undefined;
    return this.log.slice(sequence - this.logStart).flat();
  }

  /**
   * Takes the records and indexes of `target` as this collection's own, as
   * one commit of `changes` (what differs between the two, if anything), so
   * that open transactions that depend on them conflict.
   */
  replaceWith(target: MemoryCollection, changes: readonly MemoryChange[], keep: boolean): void {
    this.records.clear();
    for (const [id, record] of target.records) this.records.set(id, record);
    this.indexes.clear();
    for (const [key, index] of target.indexes) this.indexes.set(key, index);
    if (changes.length > 0) this.commit(changes, keep);
  }

  /** Applies one committed change, keeping the indexes in step. */
  apply(id: string, next: MemoryRecord | null): void {
    const previous = this.records.get(id);
    if (this.indexes.size > 0) this.applyToIndexes(id, previous, next);
    if (next === null) this.records.delete(id);
    else this.records.set(id, next);
  }

  private applyToIndexes(id: string, previous: MemoryRecord | undefined, next: MemoryRecord | null): void {
    for (const index of this.indexes.values()) {
      const old = previous === undefined ? undefined : index.entryOf(previous);
      const fresh = next === null ? undefined : index.entryOf(next);
      if (old === undefined || fresh === undefined || compareEntries(old, fresh) !== 0) {
        if (old !== undefined) index.sorted.remove(old);
        if (fresh !== undefined) index.sorted.insert(fresh);
      }
      const before = index.keyOf(previous);
      const after = next === null ? undefined : index.keyOf(next);
      if (before === after) continue;
      index.remove(before, id);
      index.add(after, id);
    }
  }
}

/** Every collection of one memory backend. */
export class MemoryStore {
  readonly collections: Map<string, MemoryCollection> = new Map();
  /** Called after every commit that changed something (the document-backed backend saves then). */
  onCommit: (() => void) | undefined;
  /** Called for each document a commit changes, with the record it replaced (the document-backed backend tracks unsaved writes). */
  onChange: ((collection: string, id: string, before: MemoryRecord | undefined) => void) | undefined;
  /** Called when a declaration added an index (the document-backed backend saves declarations too). */
  onIndexesChanged: (() => void) | undefined;
  /** Set when the backend closed: a commit after that would be lost (the document-backed backend has saved). */
  closed = false;
  /** Transactions not yet committed or rolled back: commits log their changes only while one is open. */
  openTransactions = 0;

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
  const existing = collection.indexes.get(spec.key);
  if (existing !== undefined && (existing.spec.unique || !spec.unique)) return false;
  const index = new MemoryIndex(spec);
  const entries: SortedEntry[] = [];
  for (const [id, record] of collection.records) {
    entries.push(index.entryOf(record));
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
  index.sorted.load(entries);
  collection.indexes.set(spec.key, index);
  return true;
}
