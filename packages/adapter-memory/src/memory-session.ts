import { AlreadyExistsError, ConflictError, ConnectionError, TransactionError } from '@berth/core';
import { getPathValue, type IndexSpec } from '@berth/core/adapter';
import { ensureIndex, indexKey, type MemoryCollection, type MemoryRecord, type MemoryStore } from './memory-store.js';

/** Work outside the collections that commits with a session: checked first, applied after the writes. */
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
  /** Pending unique values: field → value key → ids written with it in this session. */
  readonly uniqueKeys: Map<string, Map<string, Set<string>>>;
}

/**
 * A unit of work over the store. Reads see the session's own writes; nothing
 * is visible to others until `commit()`, which fails with a retryable CONFLICT
 * when another commit changed a collection this session touched.
 *
 * Single operations run in a session of their own and commit at once, so
 * bulk writes are all-or-nothing too.
 */
export class MemorySession {
  private readonly overlays = new Map<string, Overlay>();
  private readonly steps: CommitStep[] = [];
  private state: 'open' | 'committed' | 'rolled back' = 'open';

  constructor(
    private readonly store: MemoryStore,
    /** Whether this session is a user's transaction (for error messages). */
    readonly isTransaction: boolean,
  ) {}

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
      overlay = { collection, sequence: collection.sequence, writes: new Map(), uniqueKeys: new Map() };
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
    return overlay.collection.records.get(id);
  }

  /** Every record as this session sees it. */
  *records(name: string): IterableIterator<MemoryRecord> {
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
        ...(overlay.uniqueKeys.get(index.spec.field)?.get(key) ?? []),
      ];
      for (const id of candidates) {
        if (id === record.document.id) continue;
        const other = this.get(name, id);
        if (other !== undefined && indexKey(getPathValue(other.document, index.spec.path)) === key) {
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
    if (record !== null) {
      this.checkUnique(name, record);
      for (const index of overlay.collection.indexes.values()) {
        if (!index.spec.unique) continue;
        const key = index.keyOf(record);
        if (key === undefined) continue;
        let byKey = overlay.uniqueKeys.get(index.spec.field);
        if (byKey === undefined) {
          byKey = new Map();
          overlay.uniqueKeys.set(index.spec.field, byKey);
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
    this.steps.push(step);
  }

  /** Applies every pending write, or throws CONFLICT and applies none. */
  commit(): void {
    this.assertOpen();
    if (this.store.closed) {
      this.state = 'rolled back';
      throw new ConnectionError(
        `the backend was closed before this ${this.isTransaction ? 'transaction' : 'operation'} committed; nothing was written`,
        { retryable: false },
      );
    }
    try {
      for (const step of this.steps) step.check();
    } catch (error) {
      this.state = 'rolled back';
      throw error;
    }
    for (const [name, overlay] of this.overlays) {
      if (overlay.collection.sequence !== overlay.sequence) {
        this.state = 'rolled back';
        throw new ConflictError(
          `${name} was changed by a concurrent write while this ${this.isTransaction ? 'transaction' : 'operation'} ran; run it again`,
          { collection: name },
        );
      }
    }
    let changed = false;
    for (const overlay of this.overlays.values()) {
      if (overlay.writes.size === 0) continue;
      for (const [id, record] of overlay.writes) overlay.collection.apply(id, record);
      overlay.collection.sequence += 1;
      changed = true;
    }
    for (const step of this.steps) step.apply();
    this.state = 'committed';
    if (changed) this.store.onCommit?.();
  }

  rollback(): void {
    if (this.state === 'open') this.state = 'rolled back';
  }
}
