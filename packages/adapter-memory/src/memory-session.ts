import { AlreadyExistsError, ConflictError, ConnectionError, TransactionError } from '@berth/core';
import { type FilterNode, type IndexSpec, matchesNode, type PreparedQuery } from '@berth/core/adapter';
import { memoryCandidates } from './memory-query-planner.js';
import {
  ensureIndex,
  type MemoryChange,
  type MemoryCollection,
  type MemoryRecord,
  type MemoryStore,
} from './memory-store.js';

export interface CommitStep {
  /** Throws (CONFLICT) when the step can no longer be applied; runs before anything is applied. */
  check(): void;
  apply(): void;
}

interface Overlay {
  readonly collection: MemoryCollection;
  /** The collection's sequence when this session first touched it. */
  readonly sequence: number;
  /** Pending writes: a record, or `null` for a delete. */
  readonly writes: Map<string, MemoryRecord | null>;
  /** Pending unique values: index key → value key → ids written with it in this session (made on first use). */
  uniqueKeys: Map<string, Map<string, Set<string>>> | undefined;
  /**
   * The committed record (or `undefined`: missing) each document had when this
   * session first read or wrote it. Commit checks they are still the ones stored.
   * Only a transaction tracks them (`undefined` otherwise).
   */
  readonly reads: Map<string, MemoryRecord | undefined> | undefined;
  /**
   * Filters of the queries this session ran (`null`: the whole collection).
   * Commit checks that no concurrent commit changed a document matching one,
   * before or after the change, so an insert into a range read conflicts too.
   * Only a transaction tracks them (`undefined` otherwise).
   */
  readonly predicates: (FilterNode | null)[] | undefined;
}

/**
 * A unit of work over the store. Reads see the session's own writes; nothing
 * is visible to others until `commit()`, which fails with a retryable CONFLICT
 * when another commit changed what this session read: a document it read or
 * wrote, a document that matches (before or after the change) a query it
 * ran, or a unique value it wrote. Sessions that touched different documents
 * of one collection both commit. This is optimistic concurrency control with
 * read-set validation, so committed transactions are serializable (each one
 * behaves as if it ran alone at its commit); reads during the work are not a
 * snapshot, but a transaction that saw two states of the store never commits.
 *
 * Single operations run in a session of their own and commit at once, so
 * bulk writes are all-or-nothing too.
 */
export class MemorySession {
  private readonly overlays = new Map<string, Overlay>();
  /** Made on the first step: a single operation allocates as little as it can. */
  private steps: CommitStep[] | undefined;
  private state: 'open' | 'committed' | 'rolled back' = 'open';

  constructor(
    private readonly store: MemoryStore,
    /**
     * Whether this session is a user's transaction. Only transactions track
     * what they read: a single operation conflicts when its collection changed
     * at all (possible only while a schema validator awaits) and retries
     * itself, which is cheaper than tracking on the hot path.
     */
    readonly isTransaction: boolean,
  ) {
    if (isTransaction) store.openTransactions += 1;
  }

  private end(state: 'committed' | 'rolled back'): void {
    if (this.state === 'open' && this.isTransaction) this.store.openTransactions -= 1;
    this.state = state;
  }

  assertOpen(): void {
    if (this.state !== 'open') {
      throw new TransactionError(
        `this transaction has already ${this.state === 'committed' ? 'committed' : 'rolled back'}; use repositories of a new transaction`,
      );
    }
  }

  private overlay(name: string): Overlay {
    let overlay = this.overlays.get(name);
    if (overlay === undefined) {
      const collection = this.store.collection(name);
      overlay = {
        collection,
        sequence: collection.sequence,
        writes: new Map(),
        uniqueKeys: undefined,
        reads: this.isTransaction ? new Map() : undefined,
        predicates: this.isTransaction ? [] : undefined,
      };
      this.overlays.set(name, overlay);
    }
    return overlay;
  }

  /** The collection's committed state (indexes included). */
  committed(name: string): MemoryCollection {
    return this.overlay(name).collection;
  }

  /**
   * Builds the declared indexes the collection lacks. An index applies to
   * every session at once: it is not part of this session's writes.
   */
  declareIndexes(name: string, specs: readonly IndexSpec[]): void {
    const collection = this.committed(name);
    let added = false;
    try {
      for (const spec of specs) added = ensureIndex(collection, spec, name) || added;
    } finally {
      if (added) this.store.onIndexesChanged?.();
    }
  }

  /** Whether this session has pending writes in the collection. */
  hasWrites(name: string): boolean {
    return (this.overlays.get(name)?.writes.size ?? 0) > 0;
  }

  get(name: string, id: string): MemoryRecord | undefined {
    const overlay = this.overlay(name);
    const pending = overlay.writes.get(id);
    if (pending !== undefined) return pending ?? undefined;
    const record = overlay.collection.records.get(id);
    if (overlay.reads !== undefined && !overlay.reads.has(id)) overlay.reads.set(id, record);
    return record;
  }

  /**
   * Every record as this session sees it. `filter` is what the caller keeps of
   * them (omitted: everything), recorded as read: a concurrent commit that
   * changes a record it matches makes this session's commit conflict.
   */
  records(name: string, filter?: FilterNode): IterableIterator<MemoryRecord> {
    this.overlay(name).predicates?.push(filter ?? null);
    return this.visibleRecords(name);
  }

  /**
   * The records a query with `filter` has to look at (an index's hits where
   * one serves it and this session has not written to the collection), and
   * the query recorded as read.
   */
  candidates(name: string, prepared: PreparedQuery): Iterable<MemoryRecord> {
    const overlay = this.overlay(name);
    overlay.predicates?.push(prepared.filter);
    return overlay.writes.size > 0 ? this.visibleRecords(name) : memoryCandidates(overlay.collection, prepared);
  }

  private *visibleRecords(name: string): IterableIterator<MemoryRecord> {
    const overlay = this.overlay(name);
    for (const [id, record] of overlay.collection.records) {
      if (!overlay.writes.has(id)) yield record;
    }
    for (const record of overlay.writes.values()) {
      if (record !== null) yield record;
    }
  }

  /** Throws ALREADY_EXISTS when writing `record` would duplicate a unique value. */
  checkUnique(name: string, record: MemoryRecord): void {
    const overlay = this.overlay(name);
    for (const index of overlay.collection.indexes.values()) {
      if (!index.spec.unique) continue;
      const key = index.keyOf(record);
      if (key === undefined) continue;
      const candidates = [
        ...(index.entries.get(key) ?? []),
        ...(overlay.uniqueKeys?.get(index.spec.key)?.get(key) ?? []),
      ];
      for (const id of candidates) {
        if (id === record.document.id) continue;
        const other = this.get(name, id);
        if (other !== undefined && index.keyOf(other) === key) {
          throw new AlreadyExistsError(
            `${name}: another document (${JSON.stringify(id)}) already has this ${index.spec.field}`,
            index.spec.field,
            { collection: name, id: record.document.id },
          );
        }
      }
    }
  }

  put(name: string, id: string, record: MemoryRecord | null): void {
    const overlay = this.overlay(name);
    // A write depends on what it replaces (its version, its unique values).
    if (overlay.reads !== undefined && !overlay.writes.has(id) && !overlay.reads.has(id)) {
      overlay.reads.set(id, overlay.collection.records.get(id));
    }
    // Without indexes there is nothing to check (and no iterator to make).
    if (record !== null && overlay.collection.indexes.size > 0) {
      this.checkUnique(name, record);
      for (const index of overlay.collection.indexes.values()) {
        if (!index.spec.unique) continue;
        const key = index.keyOf(record);
        if (key === undefined) continue;
        overlay.uniqueKeys ??= new Map();
        let byKey = overlay.uniqueKeys.get(index.spec.key);
        if (byKey === undefined) {
          byKey = new Map();
          overlay.uniqueKeys.set(index.spec.key, byKey);
        }
        let ids = byKey.get(key);
        if (ids === undefined) {
          ids = new Set();
          byKey.set(key, ids);
        }
        ids.add(id);
      }
    }
    overlay.writes.set(id, record);
  }

  /** Adds work that commits with the session (a transactional enqueue). */
  addCommitStep(step: CommitStep): void {
    this.assertOpen();
    this.steps ??= [];
    this.steps.push(step);
  }

  /** Applies every pending write, or throws CONFLICT and applies none. */
  commit(): void {
    this.assertOpen();
    if (this.store.closed) {
      this.end('rolled back');
      throw new ConnectionError(
        `the backend was closed before this ${this.isTransaction ? 'transaction' : 'operation'} committed; nothing was written`,
        { retryable: false },
      );
    }
    try {
      for (const step of this.steps ?? []) step.check();
    } catch (error) {
      this.end('rolled back');
      throw error;
    }
    for (const [name, overlay] of this.overlays) {
      const conflict = conflictOf(overlay, this.isTransaction);
      if (conflict !== undefined) {
        this.end('rolled back');
        throw new ConflictError(
          `${name}: ${conflict} was changed by a concurrent write while this ${this.isTransaction ? 'transaction' : 'operation'} ran; run it again`,
          { collection: name },
        );
      }
    }
    let changed = false;
    // Another open transaction may have to check its queries against these changes.
    const keep = this.store.openTransactions > (this.isTransaction ? 1 : 0);
    const { onChange } = this.store;
    for (const [name, overlay] of this.overlays) {
      if (overlay.writes.size === 0) continue;
      const changes: MemoryChange[] | undefined = keep ? [] : undefined;
      for (const [id, record] of overlay.writes) {
        const before = overlay.collection.records.get(id);
        changes?.push({ before, after: record ?? undefined });
        onChange?.(name, id, before);
        overlay.collection.apply(id, record);
      }
      overlay.collection.commit(changes ?? NO_CHANGES, keep);
      changed = true;
    }
    for (const step of this.steps ?? []) step.apply();
    this.end('committed');
    if (changed) this.store.onCommit?.();
  }

  rollback(): void {
    if (this.state === 'open') this.end('rolled back');
  }
}

const NO_CHANGES: readonly MemoryChange[] = [];

/**
 * What a concurrent commit changed that this session depends on, described
 * for the error message, or `undefined` when the session may commit.
 */
function conflictOf(overlay: Overlay, tracked: boolean): string | undefined {
  const { collection } = overlay;
  if (collection.sequence === overlay.sequence) return undefined;
  if (!tracked) return 'the collection';
  for (const [id, seen] of overlay.reads ?? []) {
    if (collection.records.get(id) !== seen) return `document ${JSON.stringify(id)}`;
  }
  if (overlay.predicates !== undefined && overlay.predicates.length > 0) {
    const changes = collection.changesSince(overlay.sequence);
    // The log no longer reaches back that far: assume the worst.
    if (changes === undefined) return 'the collection';
    for (const change of changes) {
      for (const predicate of overlay.predicates) {
        if (
          predicate === null ||
          (change.before !== undefined && matchesNode(change.before.document, predicate, change.before.meta)) ||
          (change.after !== undefined && matchesNode(change.after.document, predicate, change.after.meta))
        ) {
          return 'a document matching a query it ran';
        }
      }
    }
  }
  // A unique value written here may have been taken by a concurrent commit.
  for (const [id, record] of overlay.writes) {
    if (record === null) continue;
    for (const index of collection.indexes.values()) {
      if (!index.spec.unique) continue;
      const key = index.keyOf(record);
      if (key === undefined) continue;
      for (const holder of index.entries.get(key) ?? []) {
        if (holder !== id && !overlay.writes.has(holder)) return `the unique ${index.spec.field} value`;
      }
    }
  }
  return undefined;
}
